"""The ledger's tables: accounts with materialized balances, append-only entries,
and holds (pending transfers).

Amount arithmetic happens in SQL on PostgreSQL (NUMERIC is exact) and in Python on
SQLite (its TEXT amounts must never be added by SQLite itself, which would use
floats); SQLite transactions are serialized, so read-modify-write is safe there.
"""

from __future__ import annotations

import functools
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.ledger import (
    AccountKind,
    Balance,
    Entry,
    Hold,
    HoldRequest,
    HoldStatus,
    LedgerReport,
    balanced,
    grant_holds,
    held_by_account,
    merchant_account,
)
from payoutd.ids import new_id
from payoutd.store import sqlite_driver
from payoutd.store.dialect import insert, one_of, update_rows
from payoutd.store.tables import holds, ledger_accounts, ledger_entries, ledger_transactions
from payoutd.store.types import result_processor

ZERO = Decimal(0)

# Prebuilt for executemany: one statement per call, however many accounts.
_ADD_PG = (
    update(ledger_accounts)
    .where(ledger_accounts.c.id == bindparam("b_id"))
    .values(
        balance=ledger_accounts.c.balance
        + bindparam("b_balance", type_=ledger_accounts.c.balance.type),
        held=ledger_accounts.c.held + bindparam("b_held", type_=ledger_accounts.c.held.type),
    )
)
# SQLite keeps amounts as TEXT: the sums are computed in Python, never by SQLite.
_SET_SQLITE = (
    update(ledger_accounts)
    .where(ledger_accounts.c.id == bindparam("b_id"))
    .values(
        balance=bindparam("b_balance", type_=ledger_accounts.c.balance.type),
        held=bindparam("b_held", type_=ledger_accounts.c.held.type),
    )
)


def _parse_account(account_id: str) -> tuple[str, str | None, str]:
    parts = account_id.split(":")
    if parts[0] == AccountKind.MERCHANT.value:
        return parts[0], parts[1], parts[2]
    return parts[0], None, parts[1]


def _accounts(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Any]:
    """(id, balance, held) of these accounts as SQLite stores them (amounts as text)."""
    return conn.execute(
        "SELECT id, balance, held FROM ledger_accounts WHERE id IN "
        f"({sqlite_driver.marks(len(ids))})",
        list(ids),
    ).fetchall()


@functools.cache
def sqlite_amount(dialect: Any) -> Any:
    """A stored amount (SQLite's text) to its Decimal, as SQLAlchemy reads the column."""
    return result_processor(ledger_accounts.c.balance.type, dialect)


class LedgerRepository:
    def __init__(self, conn: AsyncConnection, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.pg = dialect == "postgresql"

    # -- accounts -----------------------------------------------------------------

    async def _create_accounts(self, ids: Iterable[str], now: datetime) -> None:
        rows = []
        for account_id in ids:
            kind, merchant_id, currency = _parse_account(account_id)
            rows.append(
                {
                    "id": account_id,
                    "kind": kind,
                    "merchant_id": merchant_id,
                    "currency": currency,
                    "balance": ZERO,
                    "held": ZERO,
                    "created_at": now,
                }
            )
        if rows:
            stmt = insert(self.dialect, ledger_accounts).on_conflict_do_nothing(
                index_elements=["id"]
            )
            await self.conn.execute(stmt, rows)

    async def _apply(
        self, deltas: dict[str, tuple[Decimal, Decimal]], now: datetime, *, create: bool = True
    ) -> None:
        """Add (balance, held) deltas to accounts, creating missing ones (unless the caller
        knows they exist), in a fixed number of statements however many accounts.

        Accounts are updated in sorted id order: two transactions touching the same
        accounts then lock them in the same order and cannot deadlock."""
        ids = sorted(deltas)
        if not ids:
            return
        if self.pg:
            if create:
                # DO NOTHING takes no lock on rows that exist; the UPDATE below locks them
                await self._create_accounts(ids, now)
            await self.conn.execute(
                _ADD_PG,
                [{"b_id": i, "b_balance": deltas[i][0], "b_held": deltas[i][1]} for i in ids],
            )
            return
        rows = {
            r[0]: (r[1], r[2])
            for r in await self.conn.execute(
                select(
                    ledger_accounts.c.id, ledger_accounts.c.balance, ledger_accounts.c.held
                ).where(one_of(self.dialect, ledger_accounts.c.id, ids))
            )
        }
        if create:
            await self._create_accounts([i for i in ids if i not in rows], now)
        params = []
        for i in ids:
            balance, held = rows.get(i, (ZERO, ZERO))
            params.append(
                {"b_id": i, "b_balance": balance + deltas[i][0], "b_held": held + deltas[i][1]}
            )
        await self.conn.execute(_SET_SQLITE, params)

    async def balances(self, merchant_id: str) -> list[Balance]:
        stmt = (
            select(ledger_accounts.c.currency, ledger_accounts.c.balance, ledger_accounts.c.held)
            .where(ledger_accounts.c.merchant_id == merchant_id)
            .order_by(ledger_accounts.c.currency)
        )
        return [Balance(r[0], r[1], r[2]) for r in await self.conn.execute(stmt)]

    async def balances_of(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], Balance]:
        """The balances of these (merchant, currency) pairs that exist, in one read; on
        SQLite on the sqlite3 connection itself (through SQLAlchemy's execution a read
        like this was most of a dialect create's extra CPU: bench/README.md, `compat`)."""
        if not pairs:
            return {}
        by_id = {merchant_account(m, c): (m, c) for m, c in pairs}
        ids = sorted(by_id)
        if self.pg:
            stmt = select(
                ledger_accounts.c.id, ledger_accounts.c.balance, ledger_accounts.c.held
            ).where(one_of(self.dialect, ledger_accounts.c.id, ids))
            rows: list[Any] = list(await self.conn.execute(stmt))
            amount: Any = lambda v: v  # noqa: E731 - NUMERIC arrives as Decimal
        else:
            driver = await sqlite_driver.of(self.conn)
            rows = await driver.call(functools.partial(_accounts, ids=ids))
            amount = sqlite_amount(self.conn.dialect)
        return {
            by_id[account_id]: Balance(by_id[account_id][1], amount(balance), amount(held))
            for account_id, balance, held in rows
        }

    async def balance(self, merchant_id: str, currency: str) -> Balance | None:
        stmt = select(ledger_accounts.c.balance, ledger_accounts.c.held).where(
            ledger_accounts.c.id == merchant_account(merchant_id, currency)
        )
        row = (await self.conn.execute(stmt)).first()
        return Balance(currency, row[0], row[1]) if row else None

    # -- transactions -------------------------------------------------------------

    async def post(
        self,
        kind: str,
        reference: str | None,
        entries: list[Entry],
        now: datetime,
        *,
        release: dict[str, Decimal] | None = None,
    ) -> str:
        """Append one balanced transaction; `release` lowers `held` on accounts in the
        same step (posting a hold)."""
        return (await self._post_many([(kind, reference, entries, release or {})], now))[0]

    async def _post_many(
        self,
        txs: Sequence[tuple[str, str | None, list[Entry], dict[str, Decimal]]],
        now: datetime,
        *,
        release: dict[str, Decimal] | None = None,
    ) -> list[str]:
        """Append balanced transactions (kind, reference, entries, release) in a fixed
        number of statements: their rows, the accounts' summed deltas, their entries.
        `release` lowers `held` on accounts in the same step, outside any transaction
        (voided holds)."""
        tx_rows: list[dict[str, Any]] = []
        entry_rows: list[dict[str, Any]] = []
        deltas: dict[str, tuple[Decimal, Decimal]] = defaultdict(lambda: (ZERO, ZERO))
        for kind, reference, entries, release_of_tx in txs:
            balanced(entries)
            tx_id = new_id()
            tx_rows.append({"id": tx_id, "kind": kind, "reference": reference, "created_at": now})
            for e in entries:
                b, h = deltas[e.account]
                deltas[e.account] = (b + e.amount, h)
                entry_rows.append(
                    {
                        "transaction_id": tx_id,
                        "account_id": e.account,
                        "currency": e.currency,
                        "amount": e.amount,
                    }
                )
            for account_id, amount in release_of_tx.items():
                b, h = deltas[account_id]
                deltas[account_id] = (b, h - amount)
        for account_id, amount in (release or {}).items():
            b, h = deltas[account_id]
            deltas[account_id] = (b, h - amount)
        if tx_rows:
            await self.conn.execute(ledger_transactions.insert(), tx_rows)
        await self._apply(dict(deltas), now)  # creates missing accounts before entries name them
        if entry_rows:
            await self.conn.execute(ledger_entries.insert(), entry_rows)
        return [r["id"] for r in tx_rows]

    # -- holds --------------------------------------------------------------------

    async def check_holds(
        self, wanted: Sequence[HoldRequest], *, field_name: str = "amount"
    ) -> list[PayoutdError | None]:
        """Which of `wanted`, granted in order, fit the available balances (None) and
        which are refused (the error). Writes nothing; `add_holds` writes the granted ones
        in the same transaction.

        On PostgreSQL the accounts are locked FOR UPDATE, in id order as everywhere else
        an account is written (so two transactions cannot deadlock on them): the balances
        read here stay true until the transaction ends, so available never goes below
        zero. SQLite transactions are serialized (BEGIN IMMEDIATE)."""
        ids = sorted({merchant_account(w.merchant_id, w.currency) for w in wanted})
        if self.pg:
            stmt = (
                select(ledger_accounts.c.id, ledger_accounts.c.balance, ledger_accounts.c.held)
                .where(one_of(self.dialect, ledger_accounts.c.id, ids))
                .order_by(ledger_accounts.c.id)
                .with_for_update()
            )
            available = {r[0]: r[1] - r[2] for r in await self.conn.execute(stmt)}
        else:
            available = await self._sqlite_available(ids)
        return [
            None if refusal is None else field_error(refusal.value, field_name)
            for refusal in grant_holds(available, [w.wanted for w in wanted])
        ]

    async def _sqlite_available(self, ids: list[str]) -> dict[str, Decimal]:
        """The accounts' available balances, read on the sqlite3 connection itself: through
        SQLAlchemy's execution this one read was about a twentieth of an intake request's
        CPU (the group commit's only read)."""
        driver = await sqlite_driver.of(self.conn)
        rows = await driver.call(functools.partial(self.sqlite_accounts, ids=ids))
        amount = sqlite_amount(self.conn.dialect)
        return {account_id: amount(balance) - amount(held) for account_id, balance, held in rows}

    @staticmethod
    def sqlite_accounts(conn: sqlite3.Connection, ids: Sequence[str]) -> list[Any]:
        """(id, balance, held) of these accounts as SQLite stores them (amounts as text),
        read on the sqlite3 connection inside the caller's write transaction (BEGIN
        IMMEDIATE: they stay true until it ends)."""
        assert conn.in_transaction, "accounts are read inside the write transaction"
        return _accounts(conn, ids)

    async def add_holds(self, granted: Sequence[HoldRequest], now: datetime) -> list[str]:
        """Write holds that `check_holds` granted in this transaction; their ids, in order."""
        if not granted:
            return []
        await self._apply(
            {
                account_id: (ZERO, amount)
                for account_id, amount in self.held_by_account(granted).items()
            },
            now,
            create=False,
        )
        rows = self.hold_rows(granted, now)
        await self.conn.execute(holds.insert(), rows)
        return [r["id"] for r in rows]

    @staticmethod
    def held_by_account(granted: Sequence[HoldRequest]) -> dict[str, Decimal]:
        """What granting these holds adds to each account's `held`."""
        return held_by_account(g.wanted for g in granted)

    @staticmethod
    def hold_rows(granted: Sequence[HoldRequest], now: datetime) -> list[dict[str, Any]]:
        """The `holds` rows of granted holds, each with a new id, pending."""
        return [
            {
                "id": new_id(),
                "account_id": merchant_account(g.merchant_id, g.currency),
                "currency": g.currency,
                "amount": g.amount,
                "status": HoldStatus.PENDING.value,
                "payout_id": g.payout_id,
                "created_at": now,
                "updated_at": now,
            }
            for g in granted
        ]

    async def hold_of(self, payout_id: str) -> Hold | None:
        found = await self.holds_of([payout_id])
        return found[0] if found else None

    async def holds_of(self, payout_ids: Sequence[str]) -> list[Hold]:
        rows = await self.conn.execute(
            select(holds).where(one_of(self.dialect, holds.c.payout_id, payout_ids))
        )
        return [
            Hold(
                m["id"],
                m["account_id"],
                m["currency"],
                m["amount"],
                HoldStatus(m["status"]),
                m["payout_id"],
            )
            for m in (r._mapping for r in rows)
        ]

    async def _settle(
        self, settled: Sequence[tuple[Hold, HoldStatus, str | None]], now: datetime
    ) -> None:
        """Pending holds to their new status (and the ledger transaction that posted
        them), in one statement; each must still be pending."""
        changed = await update_rows(
            self.conn,
            self.dialect,
            holds,
            ("id",),
            ("status", "updated_at", "transaction_id"),
            [(h.id, status.value, now, tx_id) for h, status, tx_id in settled],
            holds.c.status == HoldStatus.PENDING.value,
        )
        if changed != len(settled):
            raise RuntimeError(f"holds not pending: {', '.join(h.id for h, _, _ in settled)}")

    async def settle_holds(
        self,
        posts: Sequence[tuple[str, list[Entry]]],
        voids: Sequence[str],
        kind: str,
        now: datetime,
    ) -> list[str]:
        """Post payouts' pending holds (their entries, one ledger transaction each; what the
        entries take from the held account may be less than the hold, the rest is simply
        released) and void others (released, no entries), all in one step: every account
        involved is locked at once, in id order, so a batch that pays some payouts and
        fails others cannot deadlock against another transaction. Returns the posted
        transactions' ids."""
        found = await self._pending_holds([payout_id for payout_id, _ in posts] + list(voids))
        txs: list[tuple[str, str | None, list[Entry], dict[str, Decimal]]] = []
        for payout_id, entries in posts:
            hold = found[payout_id]
            taken = -sum((e.amount for e in entries if e.account == hold.account_id), ZERO)
            if taken > hold.amount:
                raise RuntimeError(f"posting {taken} exceeds hold {hold.amount}")
            txs.append((kind, payout_id, entries, {hold.account_id: hold.amount}))
        released: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for payout_id in voids:
            released[found[payout_id].account_id] += found[payout_id].amount
        tx_ids = await self._post_many(txs, now, release=released)
        await self._settle(
            [
                (found[payout_id], HoldStatus.POSTED, tx_id)
                for (payout_id, _), tx_id in zip(posts, tx_ids, strict=True)
            ]
            + [(found[payout_id], HoldStatus.VOIDED, None) for payout_id in voids],
            now,
        )
        return tx_ids

    async def _pending_holds(self, payout_ids: Sequence[str]) -> dict[str, Hold]:
        found = {h.payout_id: h for h in await self.holds_of(payout_ids)}
        for payout_id in payout_ids:
            hold = found.get(payout_id)
            if hold is None or hold.status is not HoldStatus.PENDING:
                raise RuntimeError(f"payout {payout_id} has no pending hold")
        return found

    # -- the check ----------------------------------------------------------------

    async def check(self) -> LedgerReport:
        """Every transaction sums to zero per currency; every account's balance is the sum
        of its entries and its `held` the sum of its pending holds; no merchant's
        available balance is below zero."""
        report = LedgerReport()
        entry_rows = (
            await self.conn.execute(
                select(
                    ledger_entries.c.transaction_id,
                    ledger_entries.c.account_id,
                    ledger_entries.c.currency,
                    ledger_entries.c.amount,
                )
            )
        ).all()
        by_tx: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
        by_account: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for tx_id, account_id, currency, amount in entry_rows:
            by_tx[(tx_id, currency)] += amount
            by_account[account_id] += amount
        report.entries = len(entry_rows)
        report.transactions = (
            await self.conn.execute(select(func.count()).select_from(ledger_transactions))
        ).scalar_one()
        for (tx_id, currency), total in sorted(by_tx.items()):
            if total != 0:
                report.problems.append(
                    f"transaction {tx_id} does not sum to zero in {currency}: {total}"
                )
        pending: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for account_id, amount in await self.conn.execute(
            select(holds.c.account_id, holds.c.amount).where(
                holds.c.status == HoldStatus.PENDING.value
            )
        ):
            pending[account_id] += amount
        accounts = (
            await self.conn.execute(
                select(
                    ledger_accounts.c.id,
                    ledger_accounts.c.kind,
                    ledger_accounts.c.balance,
                    ledger_accounts.c.held,
                )
            )
        ).all()
        report.accounts = len(accounts)
        known = set()
        for account_id, kind, balance, held in accounts:
            known.add(account_id)
            if balance != by_account.get(account_id, ZERO):
                report.problems.append(
                    f"account {account_id}: balance {balance} != sum of entries "
                    f"{by_account.get(account_id, ZERO)}"
                )
            if held != pending.get(account_id, ZERO):
                report.problems.append(
                    f"account {account_id}: held {held} != pending holds "
                    f"{pending.get(account_id, ZERO)}"
                )
            if kind == AccountKind.MERCHANT.value and balance - held < 0:
                report.problems.append(
                    f"account {account_id}: available {balance - held} is below zero"
                )
        for account_id in set(by_account) - known:
            report.problems.append(f"entries for unknown account {account_id}")
        return report
