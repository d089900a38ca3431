"""Issue 19, must show: the same payout made through the native API, through the
Cryptomus dialect and through Spark's leaves identical rows (the payout, its hold, the
merchant's accounts), ledger entries and events, once placed and again once paid. A
dialect translates and calls the same services; any rule of its own would show here.
Both databases.

Each way is a merchant of its own, with the same deposit; each payout is settled before
the next is made, so each is a batch of one and pays the same network fee."""

from __future__ import annotations

from typing import Any

import pytest

from tests.compat.client import CryptomusClient
from tests.outcomes import rows_of
from tests.support import Harness, Merchant

TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
SAME = {
    "amount": "25",
    "currency": "USDT",
    "network": "TRON",
    "address": TRON_ADDR,
    "order_id": "same-payout",
}
MOUNTS = {"cryptomus": "/compat/cryptomus/v1", "spark": "/compat/spark/v1"}
WAYS = ("native", *MOUNTS)
# what each payout's sending makes its own: its chain transaction, the batch that sent
# it, and the ledger transaction that posted its hold
BROADCAST = ("txid", "batch_id", "transaction_id")


async def make(h: Harness, m: Merchant, way: str, fee_mode: str, is_subtract: bool) -> str:
    """The payout made one way; its id."""
    if way == "native":
        r = await h.client.post(
            "/v1/payouts", headers=m.headers, json={**SAME, "fee_mode": fee_mode}
        )
        assert r.status_code == 201, r.text
        payout_id: str = r.json()["id"]
        return payout_id
    client = CryptomusClient(h.client, m.id, m.key, base=MOUNTS[way])
    r = await client.payout(**SAME, is_subtract=is_subtract)
    assert r.status_code == 200 and r.json()["state"] == 0, r.text
    uuid: str = r.json()["result"]["uuid"]
    return uuid


# the seed's is_subtract: true, the fee is taken from the balance (on top of the amount);
# false, out of the amount (the recipient gets less)
@pytest.mark.parametrize(("fee_mode", "is_subtract"), [("on_top", True), ("from_amount", False)])
async def test_the_same_payout_made_every_way_leaves_the_same_rows(
    h: Harness, fee_mode: str, is_subtract: bool
) -> None:
    placed: dict[str, dict[str, Any]] = {}
    paid: dict[str, dict[str, Any]] = {}
    txids: dict[str, str] = {}
    for way in WAYS:
        m = await h.merchant(f"M-{way}", USDT="100")
        payout_id = await make(h, m, way, fee_mode, is_subtract)
        placed[way] = await rows_of(h, m)
        await h.settle()
        paid[way] = await rows_of(h, m, also=BROADCAST)
        view = (await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)).json()
        assert view["status"] == "paid", view
        txids[way] = view["txid"]

    assert placed["cryptomus"] == placed["native"], "placed: Cryptomus differs from native"
    assert placed["spark"] == placed["native"], "placed: Spark differs from native"
    assert paid["cryptomus"] == paid["native"], "paid: Cryptomus differs from native"
    assert paid["spark"] == paid["native"], "paid: Spark differs from native"

    # what was compared holds what it should: one payout of the asked fee mode, held,
    # then paid with its own transaction, and the ledger moved by the payment
    [payout] = placed["native"]["payouts"]
    assert (payout["status"], payout["fee_mode"]) == ("queued", fee_mode)
    assert [h_["status"] for h_ in placed["native"]["holds"]] == ["pending"]
    [payout] = paid["native"]["payouts"]
    assert payout["status"] == "paid"
    assert [h_["status"] for h_ in paid["native"]["holds"]] == ["posted"]
    assert len(paid["native"]["entries"]) > len(placed["native"]["entries"])
    assert [e["type"] for e in paid["native"]["events"]][-1] == "payout.paid"
    assert len(set(txids.values())) == len(WAYS), txids  # each was really sent
    check = await h.ledger_check()
    assert check["ok"], check["problems"]
