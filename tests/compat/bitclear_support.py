"""What the Bitclear tests share: addresses, the sample rates written out, and small
helpers that read answers with exact numbers and the native view of a payout. (The
client itself, tests/compat/bitclear_client.py, never imports payoutd; these helpers
may.)"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx

from payoutd.worker import jobs
from tests.compat.bitclear_client import parse
from tests.support import Harness, Merchant

A1 = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
A2 = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
A3 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
# src/payoutd/rates/sample_rates.toml, written out so a changed file fails these tests
BTC_USD = Decimal("65000.00")
EUR_USD = Decimal("1.08")
SATOSHI = Decimal("0.00000001")
CENT = Decimal("0.01")


def answer(r: httpx.Response, status: int = 200) -> dict[str, Any]:
    """The answer's JSON, numbers exact (Decimal/int), after checking its status."""
    assert r.status_code == status, r.text
    data: dict[str, Any] = parse(r.text)
    return data


def is_number(value: Any) -> bool:
    # parse() turns a JSON number into Decimal or int; a JSON string stays a str
    return isinstance(value, Decimal | int) and not isinstance(value, bool)


def millis(at: datetime) -> str:
    """A time as the seed writes it: `2018-03-05T11:38:50.246Z`."""
    return f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z"


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def offer(**more: Any) -> dict[str, Any]:
    """The seed's first use case: 0.1 BTC refunded, priced in USD."""
    fields: dict[str, Any] = {
        "transferAmount": Decimal("0.1"),
        "transferCurrency": "BTC",
        "priceCurrency": "USD",
        "address": A1,
        "comment": "Refund for a purchase of a faulty product",
    }
    return {**fields, **more}


async def native(h: Harness, m: Merchant, payout_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def held(h: Harness, m: Merchant, currency: str = "BTC") -> Decimal:
    return Decimal((await h.balances(m))[currency]["held"])


async def clean(h: Harness) -> None:
    check = await h.ledger_check()
    assert check["ok"], check


async def pump(h: Harness) -> None:
    """The worker's notification loop, once: fan out new events, send what is due."""
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)
    await jobs.deliver_webhooks(h.rt.db, h.rt.ctx, h.rt.sender)
