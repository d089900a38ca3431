"""The transactional outbox: events written in the same transaction as the change."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.ids import new_id
from payoutd.store.tables import outbox


class OutboxRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(
        self,
        type_: str,
        merchant_id: str | None,
        subject_id: str | None,
        payload: dict[str, Any],
        now: datetime,
    ) -> str:
        event_id = new_id()
        await self.conn.execute(
            outbox.insert().values(
                id=event_id,
                merchant_id=merchant_id,
                type=type_,
                subject_id=subject_id,
                payload=payload,
                created_at=now,
            )
        )
        return event_id

    async def add_many(
        self, events: Sequence[tuple[str, str | None, str | None, dict[str, Any]]], now: datetime
    ) -> list[str]:
        """(type, merchant_id, subject_id, payload) each; ids in order (the outbox's `seq`
        keeps the order of the list)."""
        rows = self.rows(events, now)
        if rows:
            await self.conn.execute(outbox.insert(), rows)
        return [r["id"] for r in rows]

    @staticmethod
    def rows(
        events: Sequence[tuple[str, str | None, str | None, dict[str, Any]]], now: datetime
    ) -> list[dict[str, Any]]:
        """The `outbox` rows of (type, merchant_id, subject_id, payload), each a new id."""
        return [
            {
                "id": new_id(),
                "merchant_id": m,
                "type": t,
                "subject_id": s,
                "payload": payload,
                "created_at": now,
            }
            for t, m, s, payload in events
        ]

    async def for_subject(self, subject_id: str) -> list[dict[str, Any]]:
        rows = await self.conn.execute(
            select(outbox).where(outbox.c.subject_id == subject_id).order_by(outbox.c.seq)
        )
        return [dict(r._mapping) for r in rows]
