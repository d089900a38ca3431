"""Batches: one chain transaction carrying one or more payouts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.batches import Batch
from payoutd.store.tables import batches as t
from payoutd.store.tables import payouts


def _batch(row: Any) -> Batch:
    m = row._mapping
    return Batch(**{k: m[k] for k in Batch.__dataclass_fields__})


class BatchRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def add(self, batch: Batch) -> None:
        await self.conn.execute(
            t.insert().values(**{k: getattr(batch, k) for k in Batch.__dataclass_fields__})
        )

    async def get(self, batch_id: str, *, for_update: bool = False) -> Batch | None:
        stmt = select(t).where(t.c.id == batch_id)
        if for_update and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return _batch(row) if row else None

    async def set_status(
        self, batch_id: str, expected: str, status: str, now: datetime, **values: Any
    ) -> bool:
        result = await self.conn.execute(
            update(t)
            .where(t.c.id == batch_id, t.c.status == expected)
            .values(status=status, updated_at=now, **values)
        )
        return result.rowcount == 1

    async def unsent(self, network: str) -> str | None:
        """A recorded batch of the network not yet known to be broadcast, if any."""
        return (
            await self.conn.execute(
                select(t.c.id).where(t.c.network == network, t.c.status == "prepared").limit(1)
            )
        ).scalar()

    async def next_sequence(self, network: str) -> int | None:
        """The first nonce no recorded batch of this network's wallet uses yet. A batch
        the chain refused before any of it went out (failed, never broadcast) holds no
        nonce: counting it would leave a gap no later transaction could pass."""
        last = (
            await self.conn.execute(
                select(func.max(t.c.sequence_end)).where(
                    t.c.network == network, (t.c.status != "failed") | t.c.broadcast_at.is_not(None)
                )
            )
        ).scalar()
        return None if last is None else int(last) + 1

    async def claim(self, status: str, limit: int = 50) -> list[Batch]:
        stmt = select(t).where(t.c.status == status).order_by(t.c.id).limit(limit)
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [_batch(r) for r in await self.conn.execute(stmt)]

    async def page(
        self, *, merchant_id: str | None, before_id: str | None = None, limit: int = 50
    ) -> list[Batch]:
        """Newest first; for a merchant, only batches that carry its payouts."""
        stmt = select(t)
        if merchant_id is not None:
            stmt = stmt.where(
                t.c.id.in_(
                    select(payouts.c.batch_id).where(
                        payouts.c.merchant_id == merchant_id, payouts.c.batch_id.is_not(None)
                    )
                )
            )
        if before_id:
            stmt = stmt.where(t.c.id < before_id)
        stmt = stmt.order_by(t.c.id.desc()).limit(limit)
        return [_batch(r) for r in await self.conn.execute(stmt)]
