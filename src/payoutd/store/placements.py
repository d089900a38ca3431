"""New payouts written with their holds and `payout.created` events: the intake's writes.

On SQLite they are sent on the sqlite3 connection itself (`_write_on_sqlite`), the rows
bound once by the columns' types: through SQLAlchemy's execution, with its parameter
handling per row and per statement, the same statements were a fifth of the event
loop's CPU under load (bench/README.md, "Where the time goes").

On PostgreSQL they are one statement: data-modifying CTEs insert the payouts (ON
CONFLICT DO NOTHING: a repeat of a stored order_id, or one a concurrent transaction
inserted first, is left out), and only for the payouts inserted, their holds, the
accounts' `held` and their events. Under load every round trip of the group commit
waits for a turn of a busy event loop while the batch holds its accounts' row locks
(taken by `LedgerRepository.check_holds`); four of them were the larger part of a
batch's time (bench/README.md, "Where the time goes").

Under load most batches fit their balances, so the intake first sends a batch as one
statement on a connection in autocommit (`add_if_funded`): the hold check is folded in
(the accounts locked and compared in SQL), and it writes everything or nothing. That is
one round trip for a batch instead of four (BEGIN, the check, the writes, COMMIT)
(bench/README.md, "Where the time goes").

The rows are the repositories' rows (`payouts.to_row`, `LedgerRepository.hold_rows`,
`OutboxRepository.rows`); the statement's columns are the tables' columns.
"""

from __future__ import annotations

import functools
import operator
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg
from sqlalchemy import JSON, Boolean, Column, String, Table, bindparam, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd import json_text
from payoutd.domain.events import Event
from payoutd.domain.ledger import HoldRequest, HoldStatus
from payoutd.domain.money import fmt
from payoutd.domain.payout import Payout
from payoutd.services.ports import NotWritten
from payoutd.store import sqlite_driver
from payoutd.store.ledger import LedgerRepository, sqlite_amount
from payoutd.store.outbox import OutboxRepository
from payoutd.store.payouts import insert_order, row_values, to_row
from payoutd.store.tables import holds, ledger_accounts, outbox, payouts
from payoutd.store.types import bind_processor


class PlacementRepository:
    def __init__(
        self,
        conn: AsyncConnection,
        dialect: str,
        ledger: LedgerRepository,
        outbox_repo: OutboxRepository,
    ) -> None:
        self.conn = conn
        self.pg = dialect == "postgresql"
        self.ledger = ledger
        self.outbox = outbox_repo

    async def add(
        self,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        created: Sequence[Event],
        now: datetime,
    ) -> set[str]:
        """Insert `new` payouts, and for those inserted their holds (granted by
        check_holds in this transaction) and events; returns the ids inserted."""
        if not new:
            return set()
        if not self.pg:
            driver = await sqlite_driver.of(self.conn)
            batch = _SqliteBatch.of(
                self.conn.dialect, new, held, self.outbox.rows(created, now), now
            )
            return await driver.call(functools.partial(_write_on_sqlite, batch))
        result = await self.conn.execute(_statement(False), self._params(new, held, created, now))
        _, ids = result.one()
        return set(ids or ())

    async def add_if_funded(
        self,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        created: Sequence[Event],
        now: datetime,
    ) -> set[str] | None:
        """`add` with the hold check folded in, for a connection in autocommit on
        PostgreSQL: one statement, so one round trip and its own transaction. It locks the
        holds' accounts (FOR UPDATE, in id order, as `LedgerRepository.check_holds`) and
        writes only if every hold fits their available balances; otherwise it writes
        nothing and returns None (the caller decides each item in a transaction).

        Raises `NotWritten` when nothing was applied for sure: the statement could not be
        built or sent, or the database refused it with an error that means it was not
        applied (a constraint, a too-long value, a deadlock); the caller may then write
        the items again. After any other error whether it was applied is unknown."""
        assert self.pg, "one-statement placement is PostgreSQL's"
        if not new:
            return set()
        try:
            sql, args = self._driver_call(self._params(new, held, created, now))
            driver = (await self.conn.get_raw_connection()).driver_connection
            assert driver is not None
            # Sent inside a transaction (one SQLAlchemy began, were the connection not in
            # autocommit) it would be rolled back with it, silently.
            assert not driver.is_in_transaction(), "add_if_funded needs autocommit"
        except Exception as exc:  # nothing was sent
            raise NotWritten(exc) from exc
        try:
            funded, ids = await driver.fetchrow(sql, *args)
        except Exception as exc:
            if _not_applied(exc):
                raise NotWritten(exc) from exc
            raise
        return set(ids or ()) if funded else None

    def _driver_call(self, params: dict[str, Any]) -> tuple[str, list[Any]]:
        """The one statement as the driver takes it: SQLAlchemy compiles it once (with
        its casts) and the columns' types bind each value (`store.types`), but it is
        sent on the asyncpg connection itself: SQLAlchemy's execution around a statement
        of 40 array parameters cost more CPU than PostgreSQL spends running it, and the
        intake runs one per batch. The connection is in autocommit (`Database.autocommit`),
        so SQLAlchemy holds no transaction that this statement could land in."""
        sql, binds = _compiled(self.conn.dialect)
        return sql, [
            params[name] if process is None else process(params[name]) for name, process in binds
        ]

    def _params(
        self,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        created: Sequence[Event],
        now: datetime,
    ) -> dict[str, Any]:
        rows = [to_row(p) for p in insert_order(new)]
        params: dict[str, Any] = {
            "now": now,
            "pending": HoldStatus.PENDING.value,
            "p_rows": _rows_json(self.conn.dialect, rows),
        }
        _columns_of(params, "h", holds, _HOLD_COLUMNS, self.ledger.hold_rows(held, now))
        _columns_of(params, "o", outbox, _EVENT_COLUMNS, self.outbox.rows(created, now))
        return params


@dataclass(frozen=True, slots=True)
class _SqliteBatch:
    """A batch's rows, bound for sqlite3 (each value through its column's type, as
    SQLAlchemy binds it), keyed by the payout they belong to."""

    payouts: list[tuple[str, tuple[Any, ...]]]  # (id, row), in insert order
    holds: list[tuple[HoldRequest, tuple[Any, ...]]]
    events: list[tuple[str | None, tuple[Any, ...]]]  # (subject_id, row)
    sql: _SqliteSql

    @classmethod
    def of(
        cls,
        dialect: Any,
        new: Sequence[Payout],
        held: Sequence[HoldRequest],
        events: Sequence[dict[str, Any]],
        now: datetime,
    ) -> _SqliteBatch:
        sql = _sqlite_sql(dialect)
        ordered = insert_order(new)
        hold_rows = LedgerRepository.hold_rows(held, now)
        values = row_values(sql.payout.columns)
        return cls(
            [
                (p.id, row)
                for p, row in zip(ordered, sql.payout.bind(map(values, ordered)), strict=True)
            ],
            list(zip(held, sql.hold.bind_dicts(hold_rows), strict=True)),
            [
                (e["subject_id"], row)
                for e, row in zip(events, sql.event.bind_dicts(events), strict=True)
            ],
            sql,
        )


def _write_on_sqlite(batch: _SqliteBatch, conn: sqlite3.Connection) -> set[str]:
    """The batch's statements, inside the caller's write transaction (so nothing else
    writes between them): the payouts (a stored order_id is left out, as by ON CONFLICT
    DO NOTHING on PostgreSQL), then for those inserted their holds, their accounts'
    `held` and their events. Returns the ids inserted.

    The accounts' `held` are one read and one executemany (two statements per account
    were most of sqlite3's calls in a batch). The payouts are one executemany too: its
    rowcount tells whether all were inserted, as they are unless an order_id repeats a
    stored one; then the rows found by their new ids are the ones inserted. (A
    multi-row INSERT .. RETURNING id was slower in SQLite than either.)"""
    # (sqlite3 is in autocommit here, payoutd issues BEGIN itself: outside a transaction
    # each statement would commit alone, payouts without their holds)
    assert conn.in_transaction, "a batch is written inside the caller's write transaction"
    sql = batch.sql
    cur = conn.cursor()
    try:
        cur.executemany(sql.payout.text, [row for _, row in batch.payouts])
        inserted = {payout_id for payout_id, _ in batch.payouts}
        if cur.rowcount != len(inserted):
            inserted = {
                found
                for (found,) in cur.execute(
                    f"SELECT id FROM payouts WHERE id IN ({sqlite_driver.marks(len(inserted))})",
                    sorted(inserted),
                )
            }
    finally:
        cur.close()
    granted = [(h, row) for h, row in batch.holds if h.payout_id in inserted]
    adding = LedgerRepository.held_by_account([h for h, _ in granted])
    if adding:
        ids = sorted(adding)  # (the id order every account write keeps)
        held = {a: h for a, _, h in LedgerRepository.sqlite_accounts(conn, ids)}
        missing = [a for a in ids if a not in held]
        if missing:  # check_holds found them in this transaction
            raise RuntimeError(f"no ledger account {', '.join(missing)}")
        conn.executemany(
            sql.set_held, [(sql.amount_in(sql.amount_out(held[a]) + adding[a]), a) for a in ids]
        )
    if granted:
        conn.executemany(sql.hold.text, [row for _, row in granted])
    events = [row for subject, row in batch.events if subject in inserted]
    if events:
        conn.executemany(sql.event.text, events)
    return inserted


@dataclass(frozen=True, slots=True)
class _Insert:
    text: str
    columns: tuple[str, ...]  # in the order of the statement's parameters
    processed: tuple[tuple[int, Any], ...]  # (position, bind processor) where there is one

    def bind(self, rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """Each row's values (in `columns` order) through their columns' processors. A
        column holding the same object as in the row before (a batch's rows share their
        timestamps) reuses that row's bound value: the processors are pure, and binding
        was half the batch's CPU. Only the columns that have a processor are visited."""
        processed = self.processed
        last: list[tuple[Any, Any]] = [(_UNSEEN, None)] * len(processed)
        bound = []
        for row in rows:
            values = list(row)
            for j, (i, process) in enumerate(processed):
                value = values[i]
                seen, done = last[j]
                if value is not seen:
                    done = process(value)
                    last[j] = (value, done)
                values[i] = done
            bound.append(tuple(values))
        return bound

    def bind_dicts(self, rows: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
        assert len(self.columns) > 1, "itemgetter of one name gives the value, not a tuple"
        return self.bind(map(operator.itemgetter(*self.columns), rows))


_UNSEEN = object()


@dataclass(frozen=True, slots=True)
class _SqliteSql:
    payout: _Insert
    hold: _Insert
    event: _Insert
    set_held: str
    amount_out: Any  # an account's stored amount to a Decimal, and back
    amount_in: Any


@functools.cache
def _sqlite_sql(dialect: Any) -> _SqliteSql:
    """The statements compiled once for `dialect`, with each column's bind processor."""

    def compiled(stmt: Any, names: Sequence[str]) -> _Insert:
        c = stmt.compile(dialect=dialect, column_keys=list(names))
        columns = tuple(c.positiontup or ())
        processors = [bind_processor(c.binds[name].type, dialect) for name in columns]
        return _Insert(
            str(c),
            columns,
            tuple((i, process) for i, process in enumerate(processors) if process is not None),
        )

    held = ledger_accounts.c.held.type
    return _SqliteSql(
        payout=compiled(
            sqlite.insert(payouts).on_conflict_do_nothing(
                index_elements=["merchant_id", "order_id"]
            ),
            [c.name for c in payouts.columns],
        ),
        hold=compiled(holds.insert(), [*_HOLD_COLUMNS, "status", "created_at", "updated_at"]),
        event=compiled(outbox.insert(), [*_EVENT_COLUMNS, "created_at"]),
        set_held="UPDATE ledger_accounts SET held = ? WHERE id = ?",
        amount_out=sqlite_amount(dialect),
        amount_in=bind_processor(held, dialect),
    )


# Errors raised while a statement runs, before its implicit commit: data exceptions
# (class 22: too long, bad value), integrity (23: a foreign key), syntax or access (42),
# a serialization failure or a deadlock (40001, 40P01; not all of class 40: 40003 is
# "statement completion unknown"). Anything else (a lost connection, a cancel, a backend
# terminated around its commit) leaves the outcome unknown.
_NOT_APPLIED_CLASSES = frozenset({"22", "23", "42"})
_NOT_APPLIED_CODES = frozenset({"40001", "40P01"})


def _not_applied(exc: Exception) -> bool:
    """Whether an error from the driver (asyncpg) proves the statement was not applied.
    (A value asyncpg cannot encode is its DataError, class 22, raised before the
    statement's Bind is sent.)"""
    if not isinstance(exc, asyncpg.exceptions.PostgresError):
        return False
    sqlstate = exc.sqlstate
    return isinstance(sqlstate, str) and (
        sqlstate[:2] in _NOT_APPLIED_CLASSES or sqlstate in _NOT_APPLIED_CODES
    )


_HOLD_COLUMNS = ("id", "account_id", "currency", "amount", "payout_id")
_EVENT_COLUMNS = ("id", "merchant_id", "type", "subject_id", "payload")


def _rows_json(dialect: Any, rows: Sequence[dict[str, Any]]) -> str:
    """The payouts' rows as one JSON array, which the statement turns back into rows of
    the table's type (`json_populate_recordset`): one parameter instead of an array per
    column, whose elements asyncpg encodes one at a time (with a check of each against
    collections.abc: about a tenth of an API process's CPU at 32 connections). Each
    value goes through its column's type first (a naive timestamp is refused there);
    amounts travel as decimal text and timestamps with their offset, both read back
    exactly. A JSON column's value is nested as it is, and a `json` column keeps the
    text it is given: the same text as the engine's serializer (`json_text`) writes for the
    value alone."""
    binds = _payout_binds(dialect)
    return json_text.dumps_text(
        [
            {
                name: _json_value(r[name] if process is None else process(r[name]))
                for name, process in binds
            }
            for r in rows
        ]
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return fmt(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@functools.cache
def _payout_binds(dialect: Any) -> tuple[tuple[str, Any], ...]:
    """Each payouts column with its bind processor, JSON columns
    left as they are (nested in the document, not text)."""
    return tuple(
        (c.name, None if _is_json(c) else bind_processor(c.type, dialect)) for c in payouts.columns
    )


def _columns_of(
    params: dict[str, Any],
    prefix: str,
    table: Table,
    names: Sequence[str],
    rows: Sequence[dict[str, Any]],
) -> None:
    """The rows as one array parameter per column (JSON columns as text)."""
    for name, is_json in _layout(table, tuple(names)):
        values = [r[name] for r in rows]
        params[f"{prefix}_{name}"] = (
            [json_text.dumps_text(v) for v in values] if is_json else values
        )


@functools.cache
def _layout(table: Table, names: tuple[str, ...]) -> tuple[tuple[str, bool], ...]:
    return tuple((name, _is_json(table.c[name])) for name in names)


@functools.cache
def _compiled(dialect: Any) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The one-statement placement compiled for `dialect`: its SQL text with $n
    parameters, and for each parameter in order its name and bind processor."""
    compiled = _statement(True).compile(dialect=dialect)
    order = compiled.positiontup or ()
    return str(compiled), tuple(
        (name, bind_processor(compiled.binds[name].type, dialect)) for name in order
    )


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
def _statement(check_funds: bool) -> Any:
    """Built once per variant, on first use (nothing is built at import time). It answers
    one row: whether the holds fitted (always true without `check_funds`) and the ids of
    the payouts inserted."""
    p_cols = [c.name for c in payouts.columns]
    # The check: the batch's holds summed by account against the accounts' available
    # balances, read with the rows locked. `locked` is materialized and ordered by id,
    # so the locks are taken in id order like everywhere else an account is written (no
    # deadlock between two batches), and `funded` is computed before any row is written:
    # every write below depends on `p`, whose rows wait for `funded`.
    funds = (
        """
want AS (
    SELECT w.account_id, sum(w.amount) AS amount
    FROM unnest(:h_account_id, :h_amount) AS w(account_id, amount)
    GROUP BY w.account_id
), locked AS MATERIALIZED (
    SELECT id, balance - held AS available FROM ledger_accounts
    WHERE id = ANY(:h_account_id) ORDER BY id FOR UPDATE
), funded AS (
    SELECT NOT EXISTS (
        SELECT 1 FROM want LEFT JOIN locked ON locked.id = want.account_id
        WHERE locked.id IS NULL OR locked.available < want.amount) AS ok
),"""
        if check_funds
        else "funded AS (SELECT TRUE AS ok),"
    )
    sql = f"""
WITH {funds} p AS (
    INSERT INTO payouts ({", ".join(p_cols)})
    SELECT {", ".join(f"v.{c}" for c in p_cols)}
    FROM json_populate_recordset(NULL::payouts, CAST(:p_rows AS JSON)) WITH ORDINALITY AS v
    WHERE (SELECT ok FROM funded)
    ORDER BY v.ordinality
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
    -- (this UPDATE finds the rows of the statement's snapshot and applies to their latest
    -- versions, locked above; a CHECK on balance - held would be evaluated on the
    -- snapshot's values and could refuse a write that fits: NotWritten, a fallback)
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
SELECT (SELECT ok FROM funded) AS funded, ARRAY(SELECT id FROM p) AS ids"""
    binds = [bindparam("p_rows", type_=postgresql.TEXT())]
    binds += [_array(f"h_{n}", holds.c[n]) for n in _HOLD_COLUMNS]
    binds += [_array(f"o_{n}", outbox.c[n]) for n in _EVENT_COLUMNS]
    binds += [
        bindparam("now", type_=payouts.c.created_at.type),
        bindparam("pending", type_=holds.c.status.type),
    ]
    return (
        text(sql)
        .bindparams(*binds)
        .columns(funded=Boolean(), ids=postgresql.ARRAY(payouts.c.id.type))
    )
