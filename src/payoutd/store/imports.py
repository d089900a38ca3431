"""Mass payouts: imports, their rows as read, and each row's result."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.errors import PayoutdError
from payoutd.domain.imports import (
    ACCEPTED,
    DONE,
    EXISTING,
    FAILED,
    QUEUED,
    REFUSED,
    RUNNING,
    PayoutImport,
    Row,
    RowResult,
)
from payoutd.store.tables import payout_import_rows as r
from payoutd.store.tables import payout_imports as t

# the columns every read of an import takes: all but its rows, which only a worker needs
_HEAD = [c for c in t.c if c.name != "rows"]


def _import(row: Any) -> PayoutImport:
    m = row._mapping
    return PayoutImport(
        id=m["id"],
        merchant_id=m["merchant_id"],
        status=m["status"],
        dry_run=bool(m["dry_run"]),
        digest=m["digest"],
        total=m["total"],
        next_row=m["next_row"],
        accepted=m["accepted"],
        existing=m["existing"],
        refused=m["refused"],
        created_at=m["created_at"],
        finished_at=m["finished_at"],
        lease_owner=m["lease_owner"],
        lease_until=m["lease_until"],
        error=m["error"],
    )


def _stored_row(row: Row) -> dict[str, Any]:
    refusal = None
    if row.refusal is not None:
        at_fault = next(iter(row.refusal.fields), None)
        refusal = [row.refusal.code, row.refusal.message, at_fault]
    return {"n": row.number, "f": row.fields, "e": refusal}


def _row(stored: dict[str, Any]) -> Row:
    refusal = None
    if stored["e"] is not None:
        code, message, at_fault = stored["e"]
        fields = {at_fault: [message]} if at_fault else None
        refusal = PayoutdError(code, message, fields=fields)
    return Row(stored["n"], stored["f"], refusal)


class ImportRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def add(self, imp: PayoutImport, rows: Sequence[Row]) -> None:
        await self.conn.execute(
            t.insert().values(
                id=imp.id,
                merchant_id=imp.merchant_id,
                status=imp.status,
                dry_run=imp.dry_run,
                digest=imp.digest,
                rows=[_stored_row(row) for row in rows],
                total=imp.total,
                next_row=imp.next_row,
                accepted=imp.accepted,
                existing=imp.existing,
                refused=imp.refused,
                lease_owner=imp.lease_owner,
                lease_until=imp.lease_until,
                error=imp.error,
                created_at=imp.created_at,
                finished_at=imp.finished_at,
            )
        )

    async def get(self, merchant_id: str | None, import_id: str) -> PayoutImport | None:
        stmt = select(*_HEAD).where(t.c.id == import_id)
        if merchant_id is not None:
            stmt = stmt.where(t.c.merchant_id == merchant_id)
        row = (await self.conn.execute(stmt)).first()
        return None if row is None else _import(row)

    async def page(
        self, merchant_id: str, *, before_id: str | None, limit: int
    ) -> list[PayoutImport]:
        """Newest first; ids are time-ordered."""
        stmt = select(*_HEAD).where(t.c.merchant_id == merchant_id)
        if before_id:
            stmt = stmt.where(t.c.id < before_id)
        rows = await self.conn.execute(stmt.order_by(t.c.id.desc()).limit(limit))
        return [_import(row) for row in rows]

    async def rows(self, import_id: str) -> list[Row]:
        stored = (await self.conn.execute(select(t.c.rows).where(t.c.id == import_id))).scalar()
        return [_row(s) for s in stored or []]

    def _claimable(self, now: datetime) -> Any:
        # queued, or running under a lease that ran out (its worker died)
        return or_(
            t.c.status == QUEUED,
            and_(t.c.status == RUNNING, or_(t.c.lease_until.is_(None), t.c.lease_until < now)),
        )

    async def any_claimable(self, now: datetime) -> bool:
        stmt = select(t.c.id).where(self._claimable(now)).limit(1)
        return (await self.conn.execute(stmt)).first() is not None

    async def claim(self, owner: str, now: datetime, lease_until: datetime) -> PayoutImport | None:
        """The oldest import waiting for a worker, now `running` under `owner`'s lease;
        None when there is none (or another worker took it first)."""
        found = (
            await self.conn.execute(
                select(t.c.id).where(self._claimable(now)).order_by(t.c.created_at).limit(1)
            )
        ).first()
        if found is None:
            return None
        taken = await self.conn.execute(
            update(t)
            .where(t.c.id == found.id, self._claimable(now))
            .values(status=RUNNING, lease_owner=owner, lease_until=lease_until)
        )
        if taken.rowcount != 1:
            return None
        return await self.get(None, found.id)

    async def advance(
        self,
        imp: PayoutImport,
        owner: str,
        results: Sequence[RowResult],
        *,
        next_row: int,
        now: datetime,
        lease_until: datetime,
    ) -> bool:
        """Record the results of the rows from `imp.next_row` to `next_row` and move on,
        if `owner` still holds the import's lease and nobody recorded them first; the
        import is `done` when no row is left. False: nothing was written here, and the
        caller's transaction must not commit what it placed for these rows."""
        counts = {
            status: sum(1 for x in results if x.status == status)
            for status in (ACCEPTED, EXISTING, REFUSED)
        }
        finished = next_row >= imp.total
        moved = await self.conn.execute(
            update(t)
            .where(t.c.id == imp.id, t.c.lease_owner == owner, t.c.next_row == imp.next_row)
            .values(
                next_row=next_row,
                accepted=t.c.accepted + counts[ACCEPTED],
                existing=t.c.existing + counts[EXISTING],
                refused=t.c.refused + counts[REFUSED],
                lease_until=None if finished else lease_until,
                lease_owner=None if finished else owner,
                status=DONE if finished else RUNNING,
                finished_at=now if finished else None,
            )
        )
        if moved.rowcount != 1:
            return False
        if results:
            await self.conn.execute(
                r.insert(),
                [
                    {
                        "import_id": imp.id,
                        "row_number": x.number,
                        "status": x.status,
                        "order_id": x.order_id,
                        "payout_id": x.payout_id,
                        "error_code": x.error_code,
                        "error_message": x.error_message,
                        "error_field": x.error_field,
                    }
                    for x in results
                ],
            )
        return True

    async def fail(self, import_id: str, owner: str, error: str, now: datetime) -> None:
        await self.conn.execute(
            update(t)
            .where(t.c.id == import_id, t.c.lease_owner == owner)
            .values(status=FAILED, error=error[:500], finished_at=now, lease_owner=None)
        )

    async def results(
        self,
        import_id: str,
        *,
        status: str | None = None,
        after_number: int | None = None,
        limit: int = 100,
    ) -> list[RowResult]:
        """Row results in file order; `after_number` is the cursor."""
        stmt = select(r).where(r.c.import_id == import_id)
        if status:
            stmt = stmt.where(r.c.status == status)
        if after_number is not None:
            stmt = stmt.where(r.c.row_number > after_number)
        rows = await self.conn.execute(stmt.order_by(r.c.row_number).limit(limit))
        return [
            RowResult(
                m["row_number"],
                m["status"],
                m["order_id"],
                m["payout_id"],
                m["error_code"],
                m["error_message"],
                m["error_field"],
            )
            for m in (row._mapping for row in rows)
        ]
