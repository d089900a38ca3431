"""What a merchant's payouts left in the database, without what is each payout's own:
for tests that make the same payout in several ways (the native API's ways in, the
provider dialects) and show the outcomes identical."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select

from payoutd.store.tables import (
    holds,
    ledger_accounts,
    ledger_entries,
    ledger_transactions,
    outbox,
)
from payoutd.store.tables import payouts as payouts_table
from tests.support import Harness, Merchant

# what differs between two payouts of two merchants made the same way at other moments
OWN = frozenset(
    {
        "id",
        "merchant_id",
        "created_at",
        "updated_at",
        "subject_id",
        "payout_id",
        "account_id",
        "version",
    }
)


def same_shape(value: Any, also: Collection[str] = ()) -> Any:
    """`value` without what is each payout's own (ids, merchant, timestamps), nor the
    keys in `also`."""
    if isinstance(value, dict):
        return {k: same_shape(v, also) for k, v in value.items() if k not in OWN and k not in also}
    if isinstance(value, list):
        return [same_shape(v, also) for v in value]
    return value


async def rows_of(h: Harness, m: Merchant, also: Collection[str] = ()) -> dict[str, Any]:
    """The merchant's payouts, their holds and events, its ledger accounts, and every
    ledger entry of the transactions that moved its accounts (the other side of each
    too: the chain's, the fees'), in the order they were written."""
    async with h.rt.db.read() as uow:
        conn = uow.conn
        made = [
            dict(r._mapping)
            for r in await conn.execute(
                select(payouts_table).where(payouts_table.c.merchant_id == m.id)
            )
        ]
        ids = [p["id"] for p in made]
        held = [
            dict(r._mapping)
            for r in await conn.execute(select(holds).where(holds.c.payout_id.in_(ids)))
        ]
        accounts = [
            dict(r._mapping)
            for r in await conn.execute(
                select(ledger_accounts).where(ledger_accounts.c.id.like(f"%{m.id}%"))
            )
        ]
        touched = select(ledger_entries.c.transaction_id).where(
            ledger_entries.c.account_id.in_([a["id"] for a in accounts])
        )
        entries = [
            {
                "kind": r.kind,
                # the merchant's own accounts named alike, the shared ones as they are
                "account": r.account_id.replace(m.id, "<merchant>"),
                "currency": r.currency,
                "amount": r.amount,
            }
            for r in await conn.execute(
                select(
                    ledger_transactions.c.kind,
                    ledger_entries.c.account_id,
                    ledger_entries.c.currency,
                    ledger_entries.c.amount,
                )
                .join(ledger_transactions)
                .where(ledger_entries.c.transaction_id.in_(touched))
                .order_by(ledger_entries.c.id)
            )
        ]
        events = [
            dict(r._mapping)
            for r in await conn.execute(
                select(outbox.c.type, outbox.c.payload)
                .where(outbox.c.subject_id.in_(ids))
                .order_by(outbox.c.seq)
            )
        ]
    shaped: dict[str, Any] = same_shape(
        {
            "payouts": made,
            "holds": held,
            "accounts": accounts,
            "entries": entries,
            "events": events,
        },
        also,
    )
    return shaped
