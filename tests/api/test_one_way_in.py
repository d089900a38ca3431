"""Issue 18: every way a payout is created (the fast lane, the route, the route with an
Idempotency-Key) reaches the one service function, `services.payouts.place_many`,
through the request side's transaction runner, and gives identical answers, rows and
events for the same input. Both databases."""

from __future__ import annotations

from typing import Any

import pytest

from payoutd.api import intake as intake_module
from payoutd.services import payouts
from tests.outcomes import rows_of, same_shape
from tests.support import Harness

BODY = {
    "amount": "0.01",
    "currency": "BTC",
    "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "order_id": "order-1",
    "comment": "same input",
    "metadata": {"k": "v"},
}
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
