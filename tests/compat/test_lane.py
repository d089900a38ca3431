"""The dialects' lane (payoutd.api.compat.cryptomus.Lane) answers exactly as the routes do.

Each call is made twice through the seed's client (tests/compat/client.py): once as it
is, which the lane answers before FastAPI's routing, and once with the lane stepping
aside, which sends it to the route. Status, content type and body must be the same, the
new payout's uuid and the balance after it aside."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from payoutd.api.compat.cryptomus import Lane
from tests.compat.client import CryptomusClient
from tests.support import Harness, Merchant

TRON_ADDR = "TLyqzVGLV1srkB7dToTAEqgDSfPtXRJZYH"
# a new payout's uuid differs between the two sends; so does the balance after it
VARYING = re.compile(rb'"(uuid|balance)":("[^"]*"|null)')

Call = Callable[[CryptomusClient, str], Any]


def create(**fields: Any) -> Call:
    async def call(client: CryptomusClient, order_id: str) -> Any:
        payout = {
            "amount": "25",
            "currency": "USDT",
            "network": "TRON",
            "address": TRON_ADDR,
            "is_subtract": True,
            "order_id": order_id,
        }
        return await client.payout(**{**payout, **fields})

    return call


CASES: dict[str, Call] = {
    "created": create(),
    "with url_callback": create(url_callback="https://merchant.example/cb"),
    "missing fields": create(address=None, is_subtract=None),
    "bad amount": create(amount="1e3"),
    "too much": create(amount="100000"),
    "escaped NUL": create(memo="a\u0000b"),
    "bad sign": lambda c, o: c.call("payout", {"order_id": o}, signature="0" * 32),
    "not json": lambda c, o: c.call("payout", body=b"amount=1"),
    "a list": lambda c, o: c.call("payout", body=b"[1, 2]"),
    "empty": lambda c, o: c.call("payout", body=b""),
    "info, unknown": lambda c, o: c.info(order_id=o),
    "list": lambda c, o: c.list(),
    "list with a query cursor": lambda c, o: c.list(cursor="bogus"),
    "services": lambda c, o: c.services(),
    "balance": lambda c, o: c.balance(),
}


async def answer(
    h: Harness, m: Merchant, call: Call, order_id: str
) -> tuple[int, bytes, str | None]:
    r = await call(CryptomusClient(h.client, m.id, m.key), order_id)
    return r.status_code, VARYING.sub(rb'"\1":"*"', r.content), r.headers.get("content-type")


@pytest.mark.parametrize("case", list(CASES))
async def test_lane_answers_as_the_route(
    h: Harness, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = await h.merchant(USDT="100")
    lane = await answer(h, m, CASES[case], "lane-1")

    async def aside(self: Lane, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)

    monkeypatch.setattr(Lane, "__call__", aside)
    route = await answer(h, m, CASES[case], "route-1")
    assert lane == route
    assert lane[0] != 500


async def test_lane_creates_what_the_route_creates(h: Harness) -> None:
    """Both sends of a create made a payout, the same repeat answers it, and the
    balance each answer shows is the balance after it."""
    m = await h.merchant(USDT="100")
    client = CryptomusClient(h.client, m.id, m.key)
    first = (await create()(client, "one")).json()["result"]
    again = (await create()(client, "one")).json()["result"]
    assert first["uuid"] == again["uuid"]
    balances = await h.balances(m)
    assert first["balance"] == again["balance"] == balances["USDT"]["available"]
