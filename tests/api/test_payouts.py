"""The payout lifecycle through the native API, on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.support import Harness

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


async def test_payout_is_paid_on_the_sandbox_chain(h: Harness) -> None:
    m = await h.merchant(BTC="1.5")
    r = await h.client.post(
        "/v1/payouts", headers=m.headers, json={"amount": "0.1", "currency": "BTC", "address": ADDR}
    )
    assert r.status_code == 201, r.text
    payout = r.json()
    assert payout["status"] == "queued"
    assert payout["debit"] == {"amount": "0.10002000", "currency": "BTC"}
    bal = await h.balances(m)
    assert bal["BTC"]["available"] == "1.39998000"
    assert bal["BTC"]["held"] == "0.10002000"

    await h.settle()
    r = await h.client.get(f"/v1/payouts/{payout['id']}", headers=m.headers)
    paid = r.json()
    assert paid["status"] == "paid" and paid["is_final"] is True
    assert paid["txid"] and paid["batch_id"] and paid["confirmations"] >= 2
    bal = await h.balances(m)
    assert bal["BTC"] == {
        "currency": "BTC",
        "available": "1.39998000",
        "held": "0.00000000",
        "balance": "1.39998000",
    }
    txs = (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()["data"]
    assert [t["txid"] for t in txs] == [paid["txid"]]
    assert txs[0]["outputs"] == [{"address": ADDR, "amount": "0.10000000", "memo": None}]
    assert (await h.ledger_check())["ok"]


async def test_an_operator_deposit_reads_at_its_currencys_precision(h: Harness) -> None:
    """As the balances (and the CLI's deposit) show it, on both databases."""
    m = await h.merchant()
    r = await h.client.post(
        "/v1/admin/deposits",
        headers=h.admin,
        json={"merchant_id": m.id, "currency": "usdt", "amount": "2"},
    )
    assert r.status_code == 201, r.text
    assert (r.json()["currency"], r.json()["amount"]) == ("USDT", "2.000000")
    assert (await h.balances(m))["USDT"]["available"] == "2.000000"
