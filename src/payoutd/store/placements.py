"""New payouts written with their holds and `payout.created` events: the intake's writes.

On SQLite these are the repositories' own statements one after another (they cost no
round trip). On PostgreSQL they are one statement: data-modifying CTEs insert the
payouts (ON CONFLICT DO NOTHING: a repeat of a stored order_id, or one a concurrent
transaction inserted first, is left out), and only for the payouts inserted, their holds,
the accounts' `held` and their events. Under load every round trip of the group commit
waits for a turn of a busy event loop while the batch holds its accounts' row locks
(taken by `LedgerRepository.check_holds`); four of them were the larger part of a
batch's time (bench/README.md, "Where the time goes").

The rows are the repositories' rows (`payouts.to_row`, `LedgerRepository.hold_rows`,
`OutboxRepository.rows`); the statement's columns are the tables' columns.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, String, Table, bindparam, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.ledger import HoldStatus
from payoutd.domain.payout import Payout
from payoutd.store.ledger import HoldRequest, LedgerRepository
from payoutd.store.outbox import OutboxRepository
from payoutd.store.payouts import PayoutRepository, insert_order, to_row
from payoutd.store.tables import holds, outbox, payouts

Event = tuple[str, str | None, str | None, dict[str, Any]]


class PlacementRepository:
    def __init__(self, conn: AsyncConnection, dialect: str, payout_repo: PayoutRepository,
                 ledger: LedgerRepository, outbox_repo: OutboxRepository) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"
        self.payouts = payout_repo
        self.ledger = ledger
        self.outbox = outbox_repo

    async def add(self, new: Sequence[Payout], held: Sequence[HoldRequest],
                  created: Sequence[Event], now: datetime) -> set[str]:
        """Insert `new` payouts, and for those inserted their holds (granted by
        check_holds in this transaction) and events; returns the ids inserted."""
        if not new:
            return set()
        if not self.pg:
            inserted = await self.payouts.add_many(new)
            await self.ledger.add_holds([h for h in held if h.payout_id in inserted], now)
            await self.outbox.add_many([e for e in created if e[2] in inserted], now)
            return inserted
        rows = [to_row(p) for p in insert_order(new)]
        params: dict[str, Any] = {"now": now, "pending": HoldStatus.PENDING.value}
        _columns_of(params, "p", payouts, [c.name for c in payouts.columns], rows)
        _columns_of(params, "h", holds, _HOLD_COLUMNS, self.ledger.hold_rows(held, now))
        _columns_of(params, "o", outbox, _EVENT_COLUMNS, self.outbox.rows(created, now))
        result = await self.conn.execute(_statement(), params)
        return set(result.scalars().all())


_HOLD_COLUMNS = ("id", "account_id", "currency", "amount", "payout_id")
_EVENT_COLUMNS = ("id", "merchant_id", "type", "subject_id", "payload")


def _columns_of(params: dict[str, Any], prefix: str, table: Table, names: Sequence[str],
                rows: Sequence[dict[str, Any]]) -> None:
    """The rows as one array parameter per column (JSON columns as text)."""
    for name in names:
        values = [r[name] for r in rows]
        params[f"{prefix}_{name}"] = ([json.dumps(v) for v in values]
                                      if _is_json(table.c[name]) else values)


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON)


def _array(name: str, column: Column[Any]) -> Any:
    item: Any = column.type
    if _is_json(column):  # JSON travels as text, cast in SQL
        item = postgresql.TEXT()
    elif isinstance(item, String):
        # Cast to VARCHAR(n)[], an overlong value would be cut to n silently; unbounded,
        # the INSERT refuses it ("value too long"), as a plain INSERT does.
        item = String()
    return bindparam(name, type_=postgresql.ARRAY(item))


def _unnest(prefix: str, names: Sequence[str]) -> str:
    return "unnest(" + ", ".join(f":{prefix}_{n}" for n in names) + ")"


@functools.cache
def _statement() -> Any:
    """Built once, on first use (nothing is built at import time)."""
    p_cols = [c.name for c in payouts.columns]
    p_select = ", ".join(f"CAST(v.{c.name} AS JSON)" if _is_json(c) else f"v.{c.name}"
                         for c in payouts.columns)
    sql = f"""
WITH p AS (
    INSERT INTO payouts ({", ".join(p_cols)})
    SELECT {p_select}
    FROM {_unnest("p", p_cols)} WITH ORDINALITY AS v({", ".join(p_cols)}, n)
    ORDER BY v.n
    ON CONFLICT (merchant_id, order_id) DO NOTHING
    RETURNING id
), hv AS (
    SELECT hv.* FROM {_unnest("h", _HOLD_COLUMNS)}
        AS hv({", ".join(_HOLD_COLUMNS)})
    JOIN p ON p.id = hv.payout_id
), h AS (
    INSERT INTO holds (id, account_id, currency, amount, status, payout_id, created_at,
                       updated_at)
    SELECT id, account_id, currency, amount, :pending, payout_id, :now, :now FROM hv
), a AS (
    UPDATE ledger_accounts SET held = ledger_accounts.held + s.amount
    FROM (SELECT account_id, sum(amount) AS amount FROM hv GROUP BY account_id) AS s
    WHERE ledger_accounts.id = s.account_id
), o AS (
    INSERT INTO outbox (id, merchant_id, type, subject_id, payload, created_at)
    SELECT ov.id, ov.merchant_id, ov.type, ov.subject_id, CAST(ov.payload AS JSON), :now
    FROM {_unnest("o", _EVENT_COLUMNS)} WITH ORDINALITY
        AS ov({", ".join(_EVENT_COLUMNS)}, n)
    JOIN p ON p.id = ov.subject_id
    ORDER BY ov.n
)
SELECT id FROM p"""
    binds = [_array(f"p_{c.name}", c) for c in payouts.columns]
    binds += [_array(f"h_{n}", holds.c[n]) for n in _HOLD_COLUMNS]
    binds += [_array(f"o_{n}", outbox.c[n]) for n in _EVENT_COLUMNS]
    binds += [bindparam("now", type_=payouts.c.created_at.type),
              bindparam("pending", type_=holds.c.status.type)]
    return text(sql).bindparams(*binds).columns(id=payouts.c.id.type)
