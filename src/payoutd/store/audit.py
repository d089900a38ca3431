"""The audit trail: appended, never changed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.ids import new_id
from payoutd.store.tables import audit_log


class AuditRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def record(
        self,
        *,
        actor: str,
        action: str,
        now: datetime,
        merchant_id: str | None = None,
        subject_id: str | None = None,
        details: dict[str, Any] | None = None,
        source: str | None = None,
    ) -> str:
        entry_id = new_id()
        await self.conn.execute(
            audit_log.insert().values(
                id=entry_id,
                actor=actor,
                action=action,
                merchant_id=merchant_id,
                subject_id=subject_id,
                details=details or {},
                source=source,
                created_at=now,
            )
        )
        return entry_id

    async def entries(
        self, *, merchant_id: str | None = None, subject_id: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        stmt = select(audit_log).order_by(audit_log.c.seq.desc()).limit(limit)
        if merchant_id is not None:
            stmt = stmt.where(audit_log.c.merchant_id == merchant_id)
        if subject_id is not None:
            stmt = stmt.where(audit_log.c.subject_id == subject_id)
        return [dict(r._mapping) for r in await self.conn.execute(stmt)]
