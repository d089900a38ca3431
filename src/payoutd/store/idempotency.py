"""Stored responses for `Idempotency-Key` (Stripe's semantics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.idempotency import StoredRequest
from payoutd.store.dialect import insert
from payoutd.store.tables import idempotency_keys as t


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def claim(
        self, merchant_id: str, key: str, request_hash: str, now: datetime, locked_until: datetime
    ) -> bool:
        """True when this request is the first with the key (and now owns it)."""
        stmt = (
            insert(self.dialect, t)
            .values(
                merchant_id=merchant_id,
                key=key,
                request_hash=request_hash,
                status="in_progress",
                created_at=now,
                locked_until=locked_until,
            )
            .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
            .returning(t.c.key)
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def get(self, merchant_id: str, key: str) -> StoredRequest | None:
        row = (
            await self.conn.execute(select(t).where(t.c.merchant_id == merchant_id, t.c.key == key))
        ).first()
        if row is None:
            return None
        m = row._mapping
        return StoredRequest(
            m["request_hash"],
            m["status"],
            m["response_status"],
            m["response_body"],
            m["locked_until"],
        )

    async def retake(
        self, merchant_id: str, key: str, now: datetime, locked_until: datetime
    ) -> bool:
        """Take over a key whose first request died without finishing."""
        result = await self.conn.execute(
            update(t)
            .where(
                t.c.merchant_id == merchant_id,
                t.c.key == key,
                t.c.status == "in_progress",
                t.c.locked_until < now,
            )
            .values(locked_until=locked_until)
        )
        return result.rowcount == 1

    async def complete(self, merchant_id: str, key: str, status: int, body: Any) -> None:
        await self.conn.execute(
            update(t)
            .where(t.c.merchant_id == merchant_id, t.c.key == key)
            .values(status="completed", response_status=status, response_body=body)
        )

    async def release(self, merchant_id: str, key: str) -> None:
        await self.conn.execute(
            delete(t).where(
                t.c.merchant_id == merchant_id, t.c.key == key, t.c.status == "in_progress"
            )
        )
