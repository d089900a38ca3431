"""Ramp payouts on the sandbox bank and the sandbox chain, on SQLite and PostgreSQL: an
on-ramp funded by a simulated transfer and paid in USDC; cancelling; the review queue."""

from __future__ import annotations

import pytest

from tests.services import ramp_support as rs
from tests.support import Harness

pytestmark = pytest.mark.slow


async def test_on_ramp_from_a_sandbox_transfer_to_usdc_paid(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "100.00"))
    assert ramp["status"] == "pending"
    assert ramp["number"] == 1
    assert ramp["final_amount"] is None
    memo = ramp["instructions"]["memo"]
    r = await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={"amount": "100.00", "currency": "usd", "memo": f"ref {memo}", "network": "wire"},
        headers=h.admin,
    )
    assert r.status_code == 201, r.text
    assert r.json()["outcome"] == "funded"
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "funded"
    assert (await h.balances(merchant))["USD"]["available"] == "100.00"
    assert (await h.ledger_check())["ok"]

    await h.settle()
    done = await rs.status_of(h, merchant, ramp["id"])
    assert done["status"] == "succeeded", done
    r = await h.client.get(f"/v1/payouts/{done['payout_id']}", headers=merchant.headers)
    payout = r.json()
    assert payout["status"] == "paid"
    assert payout["address"] == rs.SOL_WALLET
    assert payout["payout_currency"] == "USDC"
    assert done["final_amount"] == payout["final_amount"]
    # the fiat credited paid the USDC: nothing is left on the USD balance
    assert (await h.balances(merchant))["USD"]["balance"] == "0.00"
    assert (await h.ledger_check())["ok"]
