"""Payouts: rows to domain objects and back, compare-and-set on every change."""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.payout import Change, DialectRecord, Payout, Status
from payoutd.services.ports import ConcurrentChange
from payoutd.store.dialect import one_of, update_rows
from payoutd.store.tables import batches, payout_dialects, payouts

_FIELDS = [f.name for f in dataclasses.fields(Payout) if f.name != "extra"]


def to_row(p: Payout) -> dict[str, Any]:
    return dict(zip(_FIELDS, _ROW_VALUES(p), strict=True))


@functools.cache
def row_values(columns: tuple[str, ...]) -> Callable[[Payout], tuple[Any, ...]]:
    """The values `to_row` gives for these columns, in their order, as one tuple: an
    attrgetter (C) instead of a dict per payout (the SQLite intake binds rows by
    position)."""
    assert set(columns) <= set(_FIELDS), "payouts columns"
    assert len(columns) > 1, "attrgetter of one name gives the value, not a tuple"
    # the status is stored as its value
    return operator.attrgetter(*("status.value" if c == "status" else c for c in columns))


_ROW_VALUES = row_values(tuple(_FIELDS))


def from_row(row: Any) -> Payout:
    mapping = row._mapping  # (a new RowMapping on every access)
    data = {name: mapping[name] for name in _FIELDS}
    data["status"] = Status(data["status"])
    data["metadata"] = data["metadata"] or {}
    return Payout(**data)


def insert_order(new: Sequence[Payout]) -> list[Payout]:
    """The order new payouts are inserted in, whatever the statement: two transactions
    inserting overlapping order_ids then wait on each other in one direction only."""
    return sorted(new, key=lambda p: (p.merchant_id, p.order_id or "", p.id))


class PayoutRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect

    async def by_order_ids(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Payout]:
        """The stored payouts with these (merchant_id, order_id) pairs."""
        if not keys:
            return {}
        wanted = set(keys)
        # each column against its own list (one statement text for any number of keys),
        # then only the pairs asked for
        stmt = select(payouts).where(
            one_of(self.dialect, payouts.c.merchant_id, sorted({m for m, _ in wanted})),
            one_of(self.dialect, payouts.c.order_id, sorted({o for _, o in wanted})),
        )
        found = (from_row(r) for r in await self.conn.execute(stmt))
        return {key: p for p in found if (key := (p.merchant_id, p.order_id or "")) in wanted}

    async def get(
        self, merchant_id: str | None, payout_id: str, *, for_update: bool = False
    ) -> Payout | None:
        stmt = select(payouts).where(payouts.c.id == payout_id)
        if merchant_id is not None:
            stmt = stmt.where(payouts.c.merchant_id == merchant_id)
        if for_update and self.dialect == "postgresql":
            stmt = stmt.with_for_update()
        row = (await self.conn.execute(stmt)).first()
        return from_row(row) if row else None

    async def save(self, change: Change) -> None:
        """Compare-and-set on the version the change was computed from."""
        await self.save_many([change])

    async def save_many(self, changes: Sequence[Change]) -> None:
        """`save` for many changes, in one statement per set of changed columns (a batch's
        payouts change the same columns together). Raises ConcurrentChange, for the
        caller's transaction to roll back, unless every row was still at the version its
        change was computed from."""
        groups: dict[tuple[str, ...], list[tuple[Change, dict[str, Any]]]] = {}
        for change in changes:
            before, after = change.before, change.after
            values = {
                k: v
                for k, v in to_row(after).items()
                if k not in ("id", "merchant_id", "created_at")
                and getattr(before, k) != getattr(after, k)
            }
            values["status"] = after.status.value
            values["version"] = after.version
            groups.setdefault(tuple(sorted(values)), []).append((change, values))
        for columns, members in groups.items():
            changed = await update_rows(
                self.conn,
                self.dialect,
                payouts,
                ("id", "version"),
                columns,
                [
                    (ch.before.id, ch.before.version, *(vals[c] for c in columns))
                    for ch, vals in members
                ],
            )
            if changed != len(members):
                raise ConcurrentChange(", ".join(ch.before.id for ch, _ in members))

    async def page(
        self,
        merchant_id: str,
        *,
        status: str | None = None,
        currency: str | None = None,
        network: str | None = None,
        order_id: str | None = None,
        batch_id: str | None = None,
        address: str | None = None,
        before_id: str | None = None,
        after_id: str | None = None,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
        limit: int = 50,
    ) -> list[Payout]:
        """Newest first; `before_id` is the cursor (ids are time-ordered). `after_id`
        pages backwards: the `limit` oldest payouts newer than it, still newest first.
        `created_from`/`created_to` bound `created_at`, both inclusive."""
        stmt: Select[Any] = select(payouts).where(payouts.c.merchant_id == merchant_id)
        if status:
            stmt = stmt.where(payouts.c.status == status)
        if currency:
            stmt = stmt.where(payouts.c.currency == currency)
        if network:
            stmt = stmt.where(payouts.c.network == network)
        if order_id:
            stmt = stmt.where(payouts.c.order_id == order_id)
        if batch_id:
            stmt = stmt.where(payouts.c.batch_id == batch_id)
        if address:
            stmt = stmt.where(payouts.c.address == address)
        if created_from is not None:
            stmt = stmt.where(payouts.c.created_at >= created_from)
        if created_to is not None:
            stmt = stmt.where(payouts.c.created_at <= created_to)
        if before_id:
            stmt = stmt.where(payouts.c.id < before_id)
        if after_id:
            stmt = stmt.where(payouts.c.id > after_id).order_by(payouts.c.id.asc()).limit(limit)
            return [from_row(r) for r in (await self.conn.execute(stmt))][::-1]
        stmt = stmt.order_by(payouts.c.id.desc()).limit(limit)
        return [from_row(r) for r in (await self.conn.execute(stmt))]

    async def add_dialect_record(self, record: DialectRecord) -> None:
        await self.conn.execute(
            payout_dialects.insert().values(
                payout_id=record.payout_id,
                dialect=record.dialect,
                key_id=record.key_id,
                details=record.details,
            )
        )

    async def dialect_records(self, payout_ids: Sequence[str]) -> dict[str, DialectRecord]:
        """Those of these payouts a provider dialect created."""
        if not payout_ids:
            return {}
        D = payout_dialects
        rows = await self.conn.execute(select(D).where(D.c.payout_id.in_(sorted(set(payout_ids)))))
        return {
            r.payout_id: DialectRecord(r.payout_id, r.dialect, r.key_id, dict(r.details))
            for r in rows
        }

    async def in_batch(self, batch_id: str) -> list[Payout]:
        stmt = select(payouts).where(payouts.c.batch_id == batch_id).order_by(payouts.c.id)
        return [from_row(r) for r in (await self.conn.execute(stmt))]

    async def in_transactions(self, txids: Sequence[str]) -> dict[str, list[Payout]]:
        """The payouts each of these chain transactions carries (by its batch), by txid."""
        if not txids:
            return {}
        stmt = (
            select(batches.c.txid.label("batch_txid"), payouts)
            .join(batches, batches.c.id == payouts.c.batch_id)
            .where(batches.c.txid.in_(txids))
            .order_by(payouts.c.id)
        )
        found: dict[str, list[Payout]] = {}
        for row in await self.conn.execute(stmt):
            found.setdefault(row[0], []).append(from_row(row))
        return found

    async def claim(
        self,
        status: Status,
        *,
        network: str | None = None,
        currency: str | None = None,
        due_before: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 500,
        unbatched: bool = False,
    ) -> list[Payout]:
        """Oldest payouts in `status`, locked for this worker. SKIP LOCKED lets several
        workers take disjoint slices of one queue without waiting on each other.
        `unbatched`: only those no batch has taken."""
        stmt = self._oldest(
            status,
            network=network,
            currency=currency,
            due_before=due_before,
            expires_before=expires_before,
            limit=limit,
            unbatched=unbatched,
        )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        return [from_row(r) for r in (await self.conn.execute(stmt))]

    async def in_status(
        self,
        status: Status,
        *,
        due_before: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int = 500,
    ) -> list[Payout]:
        """Oldest payouts in `status`, read without locking them (a look, or a list for a
        person to act on)."""
        stmt = self._oldest(
            status, due_before=due_before, expires_before=expires_before, limit=limit
        )
        return [from_row(r) for r in (await self.conn.execute(stmt))]

    def _oldest(
        self,
        status: Status,
        *,
        network: str | None = None,
        currency: str | None = None,
        due_before: datetime | None = None,
        expires_before: datetime | None = None,
        limit: int,
        unbatched: bool = False,
    ) -> Select[Any]:
        stmt = select(payouts).where(payouts.c.status == status.value)
        if unbatched:
            stmt = stmt.where(payouts.c.batch_id.is_(None))
        if network:
            stmt = stmt.where(payouts.c.network == network)
        if currency:
            stmt = stmt.where(payouts.c.payout_currency == currency)
        if due_before is not None:
            stmt = stmt.where(payouts.c.execute_at <= due_before)
        if expires_before is not None:
            stmt = stmt.where(payouts.c.expires_at <= expires_before)
        return stmt.order_by(payouts.c.id).limit(limit)

    async def any_reserved(self, network: str) -> bool:
        """Whether a batch has taken queued payouts of the network without recording
        them yet."""
        stmt = (
            select(payouts.c.id)
            .where(
                payouts.c.status == Status.QUEUED.value,
                payouts.c.network == network,
                payouts.c.batch_id.is_not(None),
            )
            .limit(1)
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def release_reserved(self, network: str, batch_id: str | None = None) -> int:
        """Give queued payouts a batch had taken back to their queue: those of one batch
        that was not recorded, or (no `batch_id`) every one of the network's, which only
        a batch cut short by a crash leaves behind (the caller holds the wallet's lock)."""
        stmt = (
            update(payouts)
            .where(
                payouts.c.status == Status.QUEUED.value,
                payouts.c.network == network,
                payouts.c.batch_id.is_not(None),
            )
            .values(batch_id=None, version=payouts.c.version + 1)
        )
        if batch_id is not None:
            stmt = stmt.where(payouts.c.batch_id == batch_id)
        return (await self.conn.execute(stmt)).rowcount or 0

    async def queues(self, status: Status) -> Sequence[tuple[str, str, datetime]]:
        """(network, currency, oldest updated_at) of every non-empty queue in `status`."""
        stmt = (
            select(payouts.c.network, payouts.c.payout_currency, func.min(payouts.c.updated_at))
            .where(payouts.c.status == status.value)
            .group_by(payouts.c.network, payouts.c.payout_currency)
        )
        return [(r[0], r[1], r[2]) for r in (await self.conn.execute(stmt))]

    async def count_by_status(self) -> dict[str, int]:
        stmt = select(payouts.c.status, func.count()).group_by(payouts.c.status)
        return {r[0]: r[1] for r in (await self.conn.execute(stmt))}

    async def set_confirmations(self, batch_id: str, confirmations: int, now: datetime) -> None:
        """Progress of a mined transaction; not a status change."""
        await self.conn.execute(
            update(payouts)
            .where(payouts.c.batch_id == batch_id, payouts.c.status == Status.CONFIRMING.value)
            .values(confirmations=confirmations, updated_at=now)
        )
