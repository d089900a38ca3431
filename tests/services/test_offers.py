"""Offers (`approval: "manual"`): the quote is locked until `expires_at`, nothing is held
until approval, an offer approved too late is refused `quote_expired` and never held
funds, and an offer is approved once however many approvals race (DESIGN §3, §4).

Amounts (service fee 0; LTC network fee BASE_FEE["LTC"] = 0.0001, not priced by priority):
  123.45 USD as LTC at 1 LTC = 83 USD: 123.45 / 83 = 1.487349397... -> 1.48734939 LTC
  on_top: 1.48734939 + 0.0001 = 1.48744939 LTC, paid from USDT at 1 LTC = 83.5 USDT:
  1.48744939 * 83.5 = 123.45829937 + 0.743724695 = 124.202024065 -> 124.202025 USDT
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from payoutd.store.tables import holds
from tests import support
from tests.support import Harness, Merchant

LTC_ADDR = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"

RATES = """\
[rates]
"LTC/USD" = "83"
"LTC/USDT" = "83.5"
"USDT/USD" = "1"
"EUR/USD" = "1.25"
"""
# The market moves while the offer waits.
MOVED_RATES = """\
[rates]
"LTC/USD" = "90"
"LTC/USDT" = "95"
"USDT/USD" = "1"
"EUR/USD" = "1.25"
"""

OFFER = {
    "amount": "123.45",
    "currency": "USD",
    "payout_currency": "LTC",
    "balance_currency": "USDT",
    "address": LTC_ADDR,
    "approval": "manual",
}
QUOTED_DEBIT = Decimal("124.202025")


async def make_harness(
    database_url: str | None, tmp_path: Path, **overrides: Any
) -> AsyncIterator[Harness]:
    rates = tmp_path / "rates.toml"
    rates.write_text(RATES)
    settings = support.test_settings(tmp_path, database_url, rates_file=rates, **overrides)
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness
        report = await harness.ledger_check()
        assert report["ok"], report["problems"]


@pytest.fixture
async def oh(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """Default quote TTL (PAYOUTD_QUOTE_TTL_SECONDS = 3600); the ledger is checked after."""
    async for harness in make_harness(database_url, tmp_path):
        yield harness


@pytest.fixture
async def short_ttl(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    async for harness in make_harness(database_url, tmp_path, quote_ttl_seconds=600):
        yield harness


def parse_ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def create_offer(h: Harness, m: Merchant, **more: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json={**OFFER, **more})
    assert r.status_code == 201, r.text
    offer: dict[str, Any] = r.json()
    assert offer["status"] == "pending_approval" and offer["is_final"] is False
    return offer


async def hold_rows(h: Harness, payout_id: str) -> list[dict[str, Any]]:
    async with h.rt.db.read() as uow:
        rows = await uow.conn.execute(select(holds).where(holds.c.payout_id == payout_id))
        return [dict(r._mapping) for r in rows]


async def test_an_offer_locks_its_quote_and_holds_it_only_on_approval(oh: Harness) -> None:
    h = oh
    m = await h.merchant(USDT="500")
    created_at = h.clock.now()
    offer = await create_offer(h, m)
    # the quote, frozen: 1.48734939 LTC for 124.202025 USDT at 83.5
    assert Decimal(offer["payout_amount"]) == Decimal("1.48734939")
    assert Decimal(offer["final_amount"]) == Decimal("1.48734939")
    assert offer["debit"] == {"amount": "124.202025", "currency": "USDT"}
    assert offer["rate"]["value"] == "83.5" and offer["rate"]["quote"] == "USDT"
    # expires_at = created + PAYOUTD_QUOTE_TTL_SECONDS (3600 by default); the rate with it
    assert parse_ts(offer["created_at"]) == created_at
    assert parse_ts(offer["expires_at"]) - parse_ts(offer["created_at"]) == timedelta(seconds=3600)
    assert offer["rate"]["expires_at"] == offer["expires_at"]

    # an offer holds nothing
    bal = await h.balances(m)
    assert Decimal(bal["USDT"]["held"]) == 0 and Decimal(bal["USDT"]["available"]) == 500
    assert await hold_rows(h, offer["id"]) == []

    # the market moves: a new quote would cost more, the offer does not
    rates_file = h.rt.settings.rates_file
    assert rates_file is not None and h.rt.rates.static is not None
    rates_file.write_text(MOVED_RATES)
    h.rt.rates.static.reload()
    body = {k: v for k, v in OFFER.items() if k not in ("approval",)}
    r = await h.client.post("/v1/quotes", headers=m.headers, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["rate"]["value"] == "95"
    assert Decimal(r.json()["debit"]["amount"]) != QUOTED_DEBIT

    h.clock.advance(3599)
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert r.status_code == 200, r.text
    approved = r.json()
    assert approved["status"] == "queued"
    for key in ("payout_amount", "fees", "final_amount", "debit", "rate", "expires_at"):
        assert approved[key] == offer[key], key
    bal = await h.balances(m)
    assert Decimal(bal["USDT"]["held"]) == QUOTED_DEBIT
    assert Decimal(bal["USDT"]["available"]) == Decimal(500) - QUOTED_DEBIT
    [hold] = await hold_rows(h, offer["id"])
    assert Decimal(hold["amount"]) == QUOTED_DEBIT and hold["status"] == "pending"

    # approving again is refused and holds nothing more
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "invalid_transition"
    assert Decimal((await h.balances(m))["USDT"]["held"]) == QUOTED_DEBIT

    await h.settle()
    assert (await h.payout(m, offer["id"]))["status"] == "paid"
    bal = await h.balances(m)
    assert Decimal(bal["USDT"]["balance"]) == Decimal(500) - QUOTED_DEBIT
    assert Decimal(bal["USDT"]["held"]) == 0


async def test_an_offer_approved_after_expiry_is_refused_and_never_held(oh: Harness) -> None:
    h = oh
    m = await h.merchant(USDT="500")
    offer = await create_offer(h, m)
    before = await h.balances(m)
    assert Decimal(before["USDT"]["held"]) == 0

    h.clock.advance(3601)
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "quote_expired"
    assert offer["expires_at"] in error["message"]

    expired = await h.payout(m, offer["id"])
    assert expired["status"] == "expired" and expired["is_final"] is True
    assert await h.balances(m) == before
    assert await hold_rows(h, offer["id"]) == []

    # it stays refused with the same answer, and still holds nothing
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "quote_expired"), r.text
    assert offer["expires_at"] in r.json()["error"]["message"]
    await h.settle()
    assert (await h.payout(m, offer["id"]))["status"] == "expired"
    assert await h.balances(m) == before
    assert await hold_rows(h, offer["id"]) == []


async def test_a_custom_quote_ttl_sets_expires_at(short_ttl: Harness) -> None:
    h = short_ttl
    m = await h.merchant(USDT="500")
    early = await create_offer(h, m)
    late = await create_offer(h, m)
    for offer in (early, late):
        assert parse_ts(offer["expires_at"]) - parse_ts(offer["created_at"]) == timedelta(
            seconds=600
        )

    h.clock.advance(599)
    r = await h.client.post(f"/v1/payouts/{early['id']}/approve", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text

    # at expires_at the offer is over
    h.clock.advance(1)
    r = await h.client.post(f"/v1/payouts/{late['id']}/approve", headers=m.headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "quote_expired", r.text
    assert (await h.payout(m, late["id"]))["status"] == "expired"
    assert await hold_rows(h, late["id"]) == []
    assert Decimal((await h.balances(m))["USDT"]["held"]) == QUOTED_DEBIT


async def test_the_worker_expires_offers_nobody_approved(oh: Harness) -> None:
    h = oh
    m = await h.merchant(USDT="500")
    stale = await create_offer(h, m)
    h.clock.advance(1800)
    fresh = await create_offer(h, m)
    before = await h.balances(m)

    h.clock.advance(1801)  # past the first offer's expires_at, not the second's
    await h.tick()
    assert (await h.payout(m, stale["id"]))["status"] == "expired"
    assert (await h.payout(m, fresh["id"]))["status"] == "pending_approval"
    assert await h.balances(m) == before
    assert await hold_rows(h, stale["id"]) == []

    h.clock.advance(1800)
    await h.tick()
    assert (await h.payout(m, fresh["id"]))["status"] == "expired"
    assert await h.balances(m) == before
    # expired by the worker, not by the approval itself: the same answer (README)
    r = await h.client.post(f"/v1/payouts/{fresh['id']}/approve", headers=m.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "quote_expired"), r.text
    assert fresh["expires_at"] in r.json()["error"]["message"]
    assert (await h.payout(m, fresh["id"]))["status"] == "expired"


@pytest.mark.postgres
async def test_twenty_concurrent_approvals_take_effect_once(pg: Harness) -> None:
    h = pg
    m = await h.merchant(BTC="1")
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.1", "currency": "BTC", "address": BTC_ADDR, "approval": "manual"},
    )
    assert r.status_code == 201, r.text
    offer = r.json()
    debit = Decimal(offer["debit"]["amount"])
    assert debit == Decimal("0.10002")  # 0.1 + BASE_FEE["BTC"] 0.00002 at `recommended`

    async def approve() -> httpx.Response:
        return await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)

    results = await asyncio.gather(*(approve() for _ in range(20)), return_exceptions=True)
    errors = [x for x in results if isinstance(x, BaseException)]
    assert not errors, f"{len(errors)} approvals raised, first: {errors[0]!r}"
    responses = [x for x in results if isinstance(x, httpx.Response)]
    ok = [x for x in responses if x.status_code == 200]
    refused = [x for x in responses if x.status_code != 200]
    assert len(ok) == 1, [(x.status_code, x.text) for x in responses]
    assert ok[0].json()["status"] == "queued"
    assert len(refused) == 19
    assert {(x.status_code, x.json()["error"]["code"]) for x in refused} == {
        (409, "invalid_transition")
    }

    [hold] = await hold_rows(h, offer["id"])
    assert Decimal(hold["amount"]) == debit
    bal = await h.balances(m)
    assert Decimal(bal["BTC"]["held"]) == debit
    assert Decimal(bal["BTC"]["available"]) == Decimal(1) - debit

    await h.settle()
    assert (await h.payout(m, offer["id"]))["status"] == "paid"
    bal = await h.balances(m)
    assert Decimal(bal["BTC"]["balance"]) == Decimal(1) - debit
    assert Decimal(bal["BTC"]["held"]) == 0
    report = await h.ledger_check()
    assert report["ok"], report["problems"]
