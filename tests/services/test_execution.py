"""Batching windows and caps, scheduling, and the needs_review path (both databases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from payoutd.chains import sandbox
from payoutd.store.tables import audit_log, holds
from tests import support
from tests.support import Harness

A1 = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
A2 = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
A3 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
TON_ADDR = "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"


@pytest.fixture
async def hw(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness with a real 60 s batch window and the clock in the test's hands."""
    settings = support.test_settings(tmp_path, database_url, sandbox_batch_window_seconds=60)
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


async def pay(
    h: Harness, m: support.Merchant, amount: str, address: str = A1, **extra: object
) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": amount, "currency": "BTC", "address": address, **extra},
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def status(h: Harness, m: support.Merchant, payout_id: object) -> dict[str, Any]:
    return dict((await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)).json())


async def test_payouts_within_the_window_share_one_output(hw: Harness) -> None:
    h = hw
    m = await h.merchant(BTC="10")
    first = await pay(h, m, "1")
    h.clock.advance(30)
    second = await pay(h, m, "2")
    await h.tick()
    assert (await status(h, m, first["id"]))["status"] == "queued"  # the window is open
    h.clock.advance(31)  # the first has waited 61 s
    await h.settle()
    a, b = await status(h, m, first["id"]), await status(h, m, second["id"])
    assert a["status"] == b["status"] == "paid"
    assert a["txid"] == b["txid"] and a["batch_id"] == b["batch_id"]
    txs = (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()["data"]
    assert len(txs) == 1
    assert txs[0]["outputs"] == [{"address": A1, "amount": "3.00000000", "memo": None}]

    batch = (await h.client.get(f"/v1/batches/{a['batch_id']}", headers=m.headers)).json()
    assert batch["txid"] == a["txid"] and batch["payout_count"] == 2
    assert batch["output_count"] == 1
    assert {p["id"] for p in batch["payouts"]} == {first["id"], second["id"]}
    # one transaction of one output against two of one output each, at the same fee rate
    assert Decimal(batch["unbatched_fee"]) == 2 * Decimal(txs[0]["fee"])
    assert Decimal(batch["fee_saved"]) == Decimal(txs[0]["fee"])
    listed = (await h.client.get("/v1/batches", headers=m.headers)).json()["data"]
    assert [x["id"] for x in listed] == [a["batch_id"]]
    other = await h.merchant("Other", BTC="1")
    assert (
        await h.client.get(f"/v1/batches/{a['batch_id']}", headers=other.headers)
    ).status_code == 404
    assert (await h.client.get("/v1/batches", headers=other.headers)).json()["data"] == []
    assert (await h.ledger_check())["ok"]


async def test_caps_split_batches(database_url: str | None, tmp_path: Path) -> None:
    settings = support.test_settings(
        tmp_path, database_url, batch_max_outputs=3, batch_max_fee={"BTC": Decimal("0.00002")}
    )
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant(BTC="10")
        made = [await pay(h, m, "0.1", address=[A1, A2, A3][i % 3]) for i in range(7)]
        await h.settle()
        batches: dict[str, list[dict[str, Any]]] = {}
        for p in made:
            got = await status(h, m, p["id"])
            assert got["status"] == "paid"
            batches.setdefault(got["batch_id"], []).append(got)
        # At recommended a one-output BTC batch costs 0.00002, two outputs 0.00002442:
        # over the cap of 0.00002, so every batch is split down to one output.
        sizes = sorted(len(v) for v in batches.values())
        assert sizes == [1] * 7
        for batch_id in batches:
            b = (await h.client.get(f"/v1/batches/{batch_id}", headers=m.headers)).json()
            assert Decimal(b["fee"]) <= Decimal("0.00002")
        assert (await h.ledger_check())["ok"]


async def test_output_cap_without_fee_cap(database_url: str | None, tmp_path: Path) -> None:
    settings = support.test_settings(tmp_path, database_url, batch_max_outputs=3)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant(BTC="10")
        made = [await pay(h, m, "0.1", address=[A1, A2, A3][i % 3]) for i in range(7)]
        await h.settle()
        counts: dict[object, int] = {}
        for p in made:
            got = await status(h, m, p["id"])
            counts[got["batch_id"]] = counts.get(got["batch_id"], 0) + 1
        assert sorted(counts.values()) == [1, 3, 3]


async def test_scheduled_payout_waits_for_execute_at(hw: Harness) -> None:
    h = hw
    m = await h.merchant(BTC="1")
    at = h.clock.now() + timedelta(hours=2)
    p = await pay(h, m, "0.1", execute_at=at.isoformat())
    assert p["status"] == "scheduled"
    assert (await h.balances(m))["BTC"]["held"] == p["debit"]["amount"]
    h.clock.advance(2 * 3600 - 1)
    await h.settle()
    assert (await status(h, m, p["id"]))["status"] == "scheduled"
    h.clock.advance(1)  # execute_at: released to the queue
    await h.tick()
    assert (await status(h, m, p["id"]))["status"] == "queued"
    h.clock.advance(59)
    await h.tick()
    assert (await status(h, m, p["id"]))["status"] == "queued"
    h.clock.advance(1)  # one batch window after execute_at: sent
    await h.settle()
    assert (await status(h, m, p["id"]))["status"] == "paid"

    later = await pay(h, m, "0.1", execute_at=(h.clock.now() + timedelta(days=1)).isoformat())
    r = await h.client.post(f"/v1/payouts/{later['id']}/cancel", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await h.balances(m))["BTC"]["held"] == "0.00000000"
    assert (await h.ledger_check())["ok"]


async def test_dropped_transaction_needs_review_then_an_operator_resolves(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    await sandbox.add_rule(h.rt.db, address=A2, action="drop")
    dropped = [await pay(h, m, "0.1", address=A2), await pay(h, m, "0.2", address=A2)]
    await h.settle()
    for p in dropped:
        got = await status(h, m, p["id"])
        assert got["status"] == "needs_review"
    # still held: the money may have left
    held = Decimal((await h.balances(m))["BTC"]["held"])
    assert held == sum(Decimal(p["debit"]["amount"]) for p in dropped)
    # nothing makes them payable again by itself
    h.clock.advance(3600)
    await h.settle()
    for p in dropped:
        assert (await status(h, m, p["id"]))["status"] == "needs_review"

    listed = (await h.client.get("/v1/admin/reviews", headers=h.admin)).json()["data"]
    assert {p["id"] for p in listed} == {p["id"] for p in dropped}
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped[0]['id']}/resolve",
        headers=h.admin,
        json={"outcome": "paid", "operator": "alice"},
    )
    assert r.status_code == 422 and r.json()["error"]["fields"] == {
        "txid": ["a paid resolution needs the txid"]
    }
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped[0]['id']}/resolve",
        headers=h.admin,
        json={"outcome": "paid", "txid": "ab" * 32, "operator": "alice"},
    )
    assert r.status_code == 200 and r.json()["status"] == "paid"
    assert r.json()["txid"] == "ab" * 32
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped[1]['id']}/resolve",
        headers=h.admin,
        json={"outcome": "failed", "reason": "never mined", "operator": "bob"},
    )
    assert r.status_code == 200 and r.json()["status"] == "failed"
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped[1]['id']}/resolve",
        headers=h.admin,
        json={"outcome": "paid", "txid": "cd" * 32},
    )
    assert r.status_code == 409
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped[1]['id']}/resolve",
        headers=m.headers,
        json={"outcome": "paid", "txid": "cd" * 32},
    )
    assert r.status_code == 403

    bal = (await h.balances(m))["BTC"]
    assert bal["held"] == "0.00000000"
    assert Decimal(bal["balance"]) == Decimal(1) - Decimal(dropped[0]["debit"]["amount"])
    async with h.rt.db.read() as uow:
        trail = (
            await uow.conn.execute(
                select(audit_log.c.actor, audit_log.c.action, audit_log.c.subject_id)
                .where(audit_log.c.action.like("payout.review.%"))
                .order_by(audit_log.c.seq)
            )
        ).all()
        statuses = {
            r[0]: r[1] for r in await uow.conn.execute(select(holds.c.payout_id, holds.c.status))
        }
    assert [(a.split(" ")[0], act, s) for a, act, s in trail] == [
        ("alice", "payout.review.paid", dropped[0]["id"]),
        ("bob", "payout.review.failed", dropped[1]["id"]),
    ]
    assert statuses[dropped[0]["id"]] == "posted" and statuses[dropped[1]["id"]] == "voided"
    assert (await h.ledger_check())["ok"]


async def test_from_amount_recipients_pay_their_share_of_the_real_fee(h: Harness) -> None:
    """Native-coin from_amount payouts go in a batch of their own whose outputs pay the
    fee (as Bitcoin Core's subtractFeeFromOutputs); on_top payouts go in another."""
    m = await h.merchant(BTC="2")
    a = await pay(h, m, "0.1", address=A1, fee_mode="from_amount")
    b = await pay(h, m, "0.3", address=A1, fee_mode="from_amount")
    c = await pay(h, m, "0.2", address=A2, fee_mode="from_amount")
    d = await pay(h, m, "0.5", address=A3)  # on_top: its own batch
    assert a["final_amount"] == "0.09998000"  # the estimate, until the batch is built
    await h.settle()
    got = {p["id"]: await status(h, m, p["id"]) for p in (a, b, c, d)}
    assert all(g["status"] == "paid" for g in got.values())
    assert got[a["id"]]["batch_id"] == got[b["id"]]["batch_id"] == got[c["id"]]["batch_id"]
    assert got[d["id"]]["batch_id"] != got[a["id"]]["batch_id"]
    # Two outputs (A1: 0.4, A2: 0.2): the sandbox's 2-output batch fee at recommended is
    # 0.00002 * (109.5 + 62) / 140.5 = 0.0000244128... -> 0.00002442, split equally:
    # 0.00001221 per output. A1's share splits 1:3 between a and b by their amounts.
    assert got[a["id"]]["fees"]["network"] == "0.00000305"
    assert got[b["id"]]["fees"]["network"] == "0.00000916"
    assert got[c["id"]]["fees"]["network"] == "0.00001221"
    assert got[a["id"]]["final_amount"] == "0.09999695"
    assert got[b["id"]]["final_amount"] == "0.29999084"
    assert got[c["id"]]["final_amount"] == "0.19998779"
    for p in (a, b, c):  # the debit never moves: fee share and final amount split it
        g = got[p["id"]]
        assert g["debit"] == p["debit"]
        assert Decimal(g["final_amount"]) + Decimal(g["fees"]["total"]) == Decimal(
            p["debit"]["amount"]
        )
    assert got[d["id"]]["final_amount"] == "0.50000000"
    txs = (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()["data"]
    outputs = {o["address"]: o["amount"] for t in txs for o in t["outputs"]}
    assert outputs == {A1: "0.39998779", A2: "0.19998779", A3: "0.50000000"}
    assert (await h.ledger_check())["ok"]


async def test_outputs_the_node_refuses_fail_before_signing(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    await sandbox.add_rule(h.rt.db, address=A2, action="refuse")
    bad = await pay(h, m, "0.1", address=A2)
    good = await pay(h, m, "0.2", address=A1)
    dust = await pay(h, m, "0.00002300", address=A3, fee_mode="from_amount")  # 300 sat left
    await h.settle()
    got_bad, got_good = await status(h, m, bad["id"]), await status(h, m, good["id"])
    got_dust = await status(h, m, dust["id"])
    assert got_bad["status"] == "failed" and "refuses" in str(got_bad["failure_reason"])
    assert got_bad["batch_id"] is None  # never part of a signed transaction
    assert got_good["status"] == "paid"
    assert got_dust["status"] == "failed" and "dust" in str(got_dust["failure_reason"])
    assert (await h.balances(m))["BTC"]["held"] == "0.00000000"
    async with h.rt.db.read() as uow:
        types = [e["type"] for e in await uow.outbox.for_subject(str(bad["id"]))]
    assert types == [
        "payout.created",
        "payout.status_changed",
        "payout.failed",
        "payout.validation_error",
    ]
    assert (await h.ledger_check())["ok"]


async def test_network_fees_show_the_native_coins_decimals(h: Harness) -> None:
    """TON has 9 decimals, BTC 8: a batch's fee and the sandbox transaction's fee read at
    the fee coin's precision, the same on both databases."""
    m = await h.merchant(TON="10", BTC="1")
    ton = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "1.5", "currency": "TON", "address": TON_ADDR, "memo": "invoice-7"},
    )
    assert ton.status_code == 201, ton.text
    btc = await pay(h, m, "0.1")
    await h.settle()
    for payout, decimals in ((ton.json(), 9), (btc, 8)):
        paid = await status(h, m, payout["id"])
        assert paid["status"] == "paid", paid
        batch = (await h.client.get(f"/v1/batches/{paid['batch_id']}", headers=m.headers)).json()
        for key in ("fee", "unbatched_fee", "fee_saved"):
            assert len(batch[key].split(".")[1]) == decimals, (key, batch)
        [tx] = [
            t
            for t in (await h.client.get("/v1/sandbox/transactions", headers=m.headers)).json()[
                "data"
            ]
            if t["txid"] == paid["txid"]
        ]
        assert len(tx["fee"].split(".")[1]) == decimals, tx
        assert Decimal(tx["fee"]) == Decimal(batch["fee"])


async def test_a_paid_resolution_needs_a_txid_of_the_payouts_network(h: Harness) -> None:
    """The operator's txid is checked by the network family's rule (as addresses are):
    a BTC payout cannot be marked paid by an EVM hash or a truncated id. The admin API
    and `payoutd review resolve` share the rule (tests/e2e/test_cli.py)."""
    m = await h.merchant(BTC="1")
    await sandbox.add_rule(h.rt.db, address=A2, action="drop")
    dropped = await pay(h, m, "0.1", address=A2)
    await h.settle()
    assert (await status(h, m, dropped["id"]))["status"] == "needs_review"
    for bad in ("0x" + "ab" * 32, "ab" * 31, "not-a-txid", "AB" * 32 + "\n"):
        r = await h.client.post(
            f"/v1/admin/payouts/{dropped['id']}/resolve",
            headers=h.admin,
            json={"outcome": "paid", "txid": bad, "operator": "alice"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "invalid_txid"
        assert list(r.json()["error"]["fields"]) == ["txid"]
        assert (await status(h, m, dropped["id"]))["status"] == "needs_review"
    # a txid as an explorer may show it (upper case) is kept in the network's own form
    r = await h.client.post(
        f"/v1/admin/payouts/{dropped['id']}/resolve",
        headers=h.admin,
        json={"outcome": "paid", "txid": "AB" * 32, "operator": "alice"},
    )
    assert r.status_code == 200 and r.json()["txid"] == "ab" * 32, r.text
