"""Issue 18: every way a payout is created (the fast lane, the route, the route with an
Idempotency-Key) reaches the one service function, `services.payouts.place_many`,
through the request side's transaction runner, and gives identical answers, rows and
events for the same input. Both databases."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from payoutd.api import intake as intake_module
from payoutd.services import payouts
from payoutd.store.tables import holds, ledger_accounts, outbox
from payoutd.store.tables import payouts as payouts_table
from tests.support import Harness, Merchant

BODY = {
    "amount": "0.01",
    "currency": "BTC",
    "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "order_id": "order-1",
    "comment": "same input",
    "metadata": {"k": "v"},
}
# what differs between two payouts of two merchants made the same way at other moments
OWN = {
    "id",
    "merchant_id",
    "created_at",
    "updated_at",
    "subject_id",
    "payout_id",
    "account_id",
    "version",
}


def same_shape(value: Any) -> Any:
    """`value` without what is each payout's own (ids, merchant, timestamps)."""
    if isinstance(value, dict):
        return {k: same_shape(v) for k, v in value.items() if k not in OWN}
    if isinstance(value, list):
        return [same_shape(v) for v in value]
    return value


async def rows_of(h: Harness, m: Merchant) -> dict[str, Any]:
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
        events = [
            dict(r._mapping)
            for r in await conn.execute(
                select(outbox.c.type, outbox.c.payload).where(outbox.c.subject_id.in_(ids))
            )
        ]
    shaped: dict[str, Any] = same_shape(
        {"payouts": made, "holds": held, "accounts": accounts, "events": events}
    )
    return shaped


WAYS = {
    # a plain JSON payout: answered by the fast lane, before FastAPI's routing
    "lane": ("", {}),
    # anything the lane does not take goes to the route (a query string here)
    "route": ("?via=route", {}),
    "idempotency-key": ("", {"Idempotency-Key": "k-1"}),
}


async def test_every_way_in_reaches_place_many_and_makes_the_same_payout(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert intake_module.place_many is payouts.place_many
    calls: list[str] = []

    async def spy(uow: Any, ctx: Any, items: Any, **kw: Any) -> Any:
        calls.append(way)
        return await payouts.place_many(uow, ctx, items, **kw)

    monkeypatch.setattr(intake_module, "place_many", spy)
    answers, rows = {}, {}
    for way, (query, headers) in WAYS.items():
        m = await h.merchant(f"M-{way}", BTC="1")
        r = await h.client.post(f"/v1/payouts{query}", json=BODY, headers={**m.headers, **headers})
        assert r.status_code == 201, (way, r.text)
        again = await h.client.post(
            f"/v1/payouts{query}", json=BODY, headers={**m.headers, **headers}
        )
        # a repeat: the same payout (an order_id's 200, or the key's stored 201)
        assert again.json() == r.json(), way
        answers[way] = same_shape(r.json())
        rows[way] = await rows_of(h, m)
        assert way in calls, f"{way} did not reach services.payouts.place_many"
    assert answers["route"] == answers["lane"] == answers["idempotency-key"]
    assert rows["route"] == rows["lane"] == rows["idempotency-key"]
    assert len(rows["lane"]["payouts"]) == 1 and len(rows["lane"]["holds"]) == 1
    check = await h.ledger_check()
    assert check["ok"], check["problems"]
