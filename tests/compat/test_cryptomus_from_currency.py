"""Cryptomus's `from_currency` keeps the seed's rule now that payoutd lets any balance
pay: "only USDT" (the seed: "Доступен только USDT"), or the balance of the currency sent
itself; any other balance, fiat ones included, is "The service was not found". Driven
through the client written from the seed (tests/compat/client.py), on SQLite and
PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.compat.client import CryptomusClient
from tests.support import Harness

TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def usdt_payout(order_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "amount": "30",
        "currency": "USDT",
        "network": "TRON",
        "order_id": order_id,
        "address": TRON_ADDR,
        "is_subtract": True,
        **extra,
    }


async def test_from_currency_is_usdt_or_the_currency_sent(h: Harness) -> None:
    m = await h.merchant(USDT="100", BTC="1", USD="1000")
    client = CryptomusClient(h.client, m.id, m.key)
    before = await h.balances(m)

    # balances payoutd could pay from natively (BTC, USD) are not Cryptomus's to offer
    for i, paying in enumerate(("BTC", "USD", "usd", "EUR")):
        r = await client.payout(**usdt_payout(f"refused-{i}", from_currency=paying))
        assert r.status_code == 422, r.text
        assert r.json() == {"state": 1, "message": "The service was not found"}, paying
    assert await h.balances(m) == before

    # the currency sent, from its own balance
    r = await client.payout(**usdt_payout("own", from_currency="USDT"))
    assert r.status_code == 200, r.text
    assert r.json()["state"] == 0
    # USDT paying for BTC: the seed's conversion (0.0001 BTC + 0.00002 network fee at
    # 1 BTC = 65000 USDT through USD: 0.00012 * 65000 = 7.8 USDT)
    r = await client.payout(
        amount="0.0001",
        currency="BTC",
        order_id="converted",
        address=BTC_ADDR,
        is_subtract=True,
        from_currency="USDT",
    )
    assert r.status_code == 200, r.text
    uuid = r.json()["result"]["uuid"]
    r = await h.client.get(f"/v1/payouts/{uuid}", headers=m.headers)
    assert r.json()["debit"] == {"amount": "7.800000", "currency": "USDT"}
    # 30 USDT (on top: 30 + 1 USDT network fee) and 7.8 USDT are held, nothing else
    after = await h.balances(m)
    assert Decimal(after["USDT"]["held"]) == Decimal("38.8")
    assert after["USD"] == before["USD"] and after["BTC"] == before["BTC"]
    report = await h.ledger_check()
    assert report["ok"], report["problems"]
