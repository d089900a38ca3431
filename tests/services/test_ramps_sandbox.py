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


async def deposit_for(h: Harness, ramp: dict[str, object], amount: str, *, txid: str) -> str:
    from decimal import Decimal

    from payoutd.domain.banking import ChainDeposit
    from payoutd.services import ramps

    deposit = ChainDeposit(
        network="SOL",
        currency="USDC",
        address=rs.SANDBOX_SOL_FUNDING,
        amount=Decimal(amount),
        txid=txid,
        index=0,
        block=10,
        confirmations=2,
        sender=rs.SOL_WALLET,
    )
    async with h.rt.db.unit() as uow:
        return await ramps.receive_deposit(uow, h.rt.ctx, deposit)


async def test_off_ramp_paid_by_the_sandbox_bank_then_settled(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, "50", "usd"))
    assert ramp["type"] == "offRamp"
    assert await deposit_for(h, ramp, "50", txid="5" * 64) == "funded"
    # the same deposit seen again changes nothing
    assert await deposit_for(h, ramp, "50", txid="5" * 64) == "duplicate"
    seen = await rs.status_of(h, merchant, ramp["id"])
    # funded, and straight on: the USDC is held for the bank payment
    assert seen["status"] == "processing"
    # USDC/USD is 1 in the shipped rates, no service fee in the tests' settings
    assert seen["final_amount"] == "50.00"
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["balance"], usdc["held"]) == ("50.000000", "50.000000")
    assert (await h.ledger_check())["ok"]
    h.clock.advance(h.rt.settings.sandbox_bank_settle_seconds + 1)
    await h.tick()
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "succeeded"
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["balance"], usdc["held"]) == ("0.000000", "0.000000")
    assert (await h.ledger_check())["ok"]


async def test_off_ramp_returned_by_the_sandbox_bank_is_refunded(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, "20", "usd"))
    assert await deposit_for(h, ramp, "20", txid="6" * 64) == "funded"
    r = await h.client.post(f"/v1/sandbox/bank/payments/{ramp['id']}/return", headers=h.admin)
    assert r.status_code == 200, r.text
    assert r.json()["outcome"] == "returned"
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "refunded"
    # the hold is voided: the USDC is the merchant's balance again
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["available"], usdc["held"]) == ("20.000000", "0.000000")
    h.clock.advance(h.rt.settings.sandbox_bank_settle_seconds + 1)
    await h.tick()  # nothing left to settle
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "refunded"
    assert (await h.ledger_check())["ok"]


async def test_a_deposit_of_another_amount_waits_for_review(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, "30", "usd"))
    assert await deposit_for(h, ramp, "29.5", txid="7" * 64) == "review"
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "pending"
    assert "USDC" not in await h.balances(merchant)
    r = await h.client.get("/v1/admin/bank/review", headers=h.admin)
    [item] = r.json()["data"]
    assert (item["kind"], item["amount"], item["status"]) == ("deposit", "29.500000", "open")
    r = await h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve",
        json={"action": "assign", "ramp_id": ramp["id"], "operator": "alice"},
        headers=h.admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["data"][0]["status"] == "assigned"
    seen = await rs.status_of(h, merchant, ramp["id"])
    # funded with what arrived
    assert (seen["status"], seen["amount"]) == ("processing", "29.500000")
    assert (await h.ledger_check())["ok"]


async def test_an_unmatched_transfer_moves_no_money_until_resolved(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "10.00"))
    r = await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={"amount": "10.00", "currency": "usd", "memo": "no memo here", "network": "wire"},
        headers=h.admin,
    )
    assert r.json()["outcome"] == "review"
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "pending"
    assert "USD" not in await h.balances(merchant)
    report = await h.ledger_check()
    assert report["ok"] and report["transactions"] == 0
    [item] = (await h.client.get("/v1/admin/bank/review", headers=h.admin)).json()["data"]
    r = await h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve",
        json={"action": "dismiss", "note": "sent back by hand"},
        headers=h.admin,
    )
    assert r.json()["data"][0]["status"] == "dismissed"
    # a second decision on the same item is refused
    r = await h.client.post(
        f"/v1/admin/bank/review/{item['id']}/resolve",
        json={"action": "assign", "ramp_id": ramp["id"]},
        headers=h.admin,
    )
    assert (r.status_code, r.json()["error"]["code"]) == (409, "review_item_resolved")
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "pending"
    assert (await h.ledger_check())["transactions"] == 0


async def test_cancel_before_funding_only(h: Harness) -> None:
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    first = await rs.create(h, merchant, rs.on_ramp_body(c, "10.00"))
    second = await rs.create(h, merchant, rs.on_ramp_body(c, "12.00", lookup_key="k1"))
    assert (first["number"], second["number"]) == (1, 2)
    r = await h.client.post(f"/v1/ramp-payouts/{first['id']}/cancel", headers=merchant.headers)
    assert (r.status_code, r.json()["status"]) == (200, "cancelled")
    await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={
            "amount": "12.00",
            "currency": "usd",
            "memo": second["instructions"]["memo"],
            "network": "wire",
        },
        headers=h.admin,
    )
    r = await h.client.post(f"/v1/ramp-payouts/{second['id']}/cancel", headers=merchant.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (409, "payout_not_cancellable")
    assert (await rs.status_of(h, merchant, second["id"]))["status"] == "funded"
    r = await h.client.get("/v1/ramp-payouts?lookup_key=k1", headers=merchant.headers)
    assert [p["id"] for p in r.json()["data"]] == [second["id"]]
    r = await h.client.get("/v1/ramp-payouts?status=cancelled", headers=merchant.headers)
    assert [p["id"] for p in r.json()["data"]] == [first["id"]]
    r = await h.client.get("/v1/ramp-payouts?limit=1", headers=merchant.headers)
    page = r.json()
    assert [p["id"] for p in page["data"]] == [second["id"]]
    r = await h.client.get(
        f"/v1/ramp-payouts?limit=1&cursor={page['next_cursor']}", headers=merchant.headers
    )
    assert [p["id"] for p in r.json()["data"]] == [first["id"]]
    # another merchant sees none of it
    other = await h.merchant("Other")
    r = await h.client.get(f"/v1/ramp-payouts/{first['id']}", headers=other.headers)
    assert (r.status_code, r.json()["error"]["code"]) == (404, "not_found")
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_numbers_count_each_customers_payouts_under_concurrency(pg: Harness) -> None:
    import asyncio

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    other = await rs.customer(h, merchant)
    made = await asyncio.gather(
        *(rs.create(h, merchant, rs.on_ramp_body(c, f"{n}.00")) for n in range(1, 13)),
        *(rs.create(h, merchant, rs.on_ramp_body(other, f"{n}.00")) for n in range(1, 4)),
    )
    mine = sorted(p["number"] for p in made if p["customer"] == c.id)
    theirs = sorted(p["number"] for p in made if p["customer"] == other.id)
    assert (mine, theirs) == (list(range(1, 13)), [1, 2, 3])
    assert len({p["instructions"]["memo"] for p in made}) == 15


async def test_off_ramp_funded_by_a_deposit_the_worker_sees_on_the_sandbox_chain(
    h: Harness,
) -> None:
    """The whole off-ramp on the sandbox: the customer's USDC sent to the funding wallet
    (POST /v1/sandbox/deposits), seen by the worker's funding watch once confirmed, the
    payout funded and paid by the sandbox bank."""
    from payoutd.services import ramps
    from payoutd.worker.jobs import watch_funding

    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, "40", "eur"))
    r = await h.client.post(
        "/v1/sandbox/deposits",
        json={
            "network": "SOL",
            "currency": "USDC",
            "address": rs.SANDBOX_SOL_FUNDING,
            "amount": "40",
            "sender": rs.SOL_WALLET,
        },
        headers=h.admin,
    )
    assert r.status_code in (200, 201), r.text
    watched = ramps.funding_watch(h.rt.ctx)
    assert rs.SANDBOX_SOL_FUNDING in watched["SOL"]
    # not confirmed yet: nothing is handed on
    await watch_funding(h.rt.db, h.rt.ctx, watched, ramps.receive_deposit)
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "pending"
    await h.mine(h.rt.settings.sandbox_confirmations + 1)
    handed = await watch_funding(h.rt.db, h.rt.ctx, watched, ramps.receive_deposit)
    assert [d.amount for d in handed] == [40]
    seen = await rs.status_of(h, merchant, ramp["id"])
    # 40 USDC at 1 USD, 1 EUR = 1.08 USD: 37.037... EUR, rounded down to the cent
    assert (seen["status"], seen["final_amount"]) == ("processing", "37.03")
    # seen again by a rescan: nothing twice
    assert await watch_funding(h.rt.db, h.rt.ctx, watched, ramps.receive_deposit) == []
    h.clock.advance(h.rt.settings.sandbox_bank_settle_seconds + 1)
    await h.tick()
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "succeeded"
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_two_transfers_with_one_memo_at_once_fund_it_once(pg: Harness) -> None:
    """The customer's transfer booked twice at the same time (two statement lines with
    the payout's memo, two requests): one funds the payout, the other waits in the
    review queue; neither request is refused (on SQLite the second simply finds the
    payout funded)."""
    import asyncio

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    for round_ in range(4):
        ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "10.00"))
        memo = ramp["instructions"]["memo"]
        answers = await asyncio.gather(
            *(
                h.client.post(
                    "/v1/sandbox/bank/transfers",
                    json={"amount": "10.00", "currency": "usd", "memo": memo, "network": "wire"},
                    headers=h.admin,
                )
                for _ in range(2)
            )
        )
        assert [r.status_code for r in answers] == [201, 201], [r.text for r in answers]
        assert sorted(r.json()["outcome"] for r in answers) == ["funded", "review"]
        assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "funded"
        assert (await h.balances(merchant))["USD"]["balance"] == f"{10 * (round_ + 1)}.00"
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_a_transfer_and_a_cancel_at_once(pg: Harness) -> None:
    """A customer's transfer arriving while the merchant cancels: either the payout is
    cancelled and the transfer waits for review, or it is funded and the cancel is
    refused; the transfer is never refused, no money is counted for a cancelled payout."""
    import asyncio

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    for _ in range(4):
        ramp = await rs.create(h, merchant, rs.on_ramp_body(c, "10.00"))
        memo = ramp["instructions"]["memo"]
        transfer, cancel = await asyncio.gather(
            h.client.post(
                "/v1/sandbox/bank/transfers",
                json={"amount": "10.00", "currency": "usd", "memo": memo, "network": "wire"},
                headers=h.admin,
            ),
            h.client.post(f"/v1/ramp-payouts/{ramp['id']}/cancel", headers=merchant.headers),
        )
        assert transfer.status_code == 201, transfer.text
        status = (await rs.status_of(h, merchant, ramp["id"]))["status"]
        if status == "cancelled":
            assert cancel.status_code == 200, cancel.text
            assert transfer.json()["outcome"] == "review"
        else:
            assert status == "funded"
            assert cancel.status_code == 409, cancel.text
            assert transfer.json()["outcome"] == "funded"
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_two_deposits_for_one_off_ramp_at_once_fund_it_once(pg: Harness) -> None:
    """Two transfers of the customer's USDC seen by two workers at the same time: one
    funds the off-ramp (its USDC held once), the other waits in the review queue."""
    import asyncio

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    ramp = await rs.create(h, merchant, rs.off_ramp_body(c, "40", "usd"))
    outcomes = await asyncio.gather(
        deposit_for(h, ramp, "40", txid="a" * 64), deposit_for(h, ramp, "40", txid="b" * 64)
    )
    assert sorted(outcomes) == ["funded", "review"]
    assert (await rs.status_of(h, merchant, ramp["id"]))["status"] == "processing"
    usdc = (await h.balances(merchant))["USDC"]
    assert (usdc["balance"], usdc["held"]) == ("40.000000", "40.000000")
    assert (await h.ledger_check())["ok"]


async def test_a_deposit_two_merchants_off_ramps_could_claim_waits_for_review(h: Harness) -> None:
    """Wallet addresses are not any merchant's own: another merchant may name the same
    sender address for an off-ramp of the same amount. A deposit that could fund either
    merchant's payout is credited to neither; the operator decides."""
    first = await h.merchant("First")
    second = await h.merchant("Second")
    theirs = await rs.create(h, first, rs.off_ramp_body(await rs.customer(h, first), "40", "usd"))
    mine = await rs.create(h, second, rs.off_ramp_body(await rs.customer(h, second), "40", "usd"))
    assert await deposit_for(h, mine, "40", txid="c" * 64) == "review"
    assert (await rs.status_of(h, first, theirs["id"]))["status"] == "pending"
    assert (await rs.status_of(h, second, mine["id"]))["status"] == "pending"
    assert "USDC" not in await h.balances(first)
    assert "USDC" not in await h.balances(second)
    assert (await h.ledger_check())["ok"]


@pytest.mark.postgres
async def test_two_workers_start_a_funded_on_ramp_once(pg: Harness) -> None:
    """Two workers' ramp passes at once over the same funded on-ramps: each places one
    native payout (its order_id is the ramp's), the loser's pass is rolled back whole
    (ConcurrentChange) and nothing is held twice."""
    import asyncio

    from payoutd.services import ramps
    from payoutd.services.ports import ConcurrentChange

    h = pg
    merchant = await h.merchant()
    c = await rs.customer(h, merchant)
    made = [await rs.create(h, merchant, rs.on_ramp_body(c, "20.00")) for _ in range(3)]
    for ramp in made:
        r = await h.client.post(
            "/v1/sandbox/bank/transfers",
            json={
                "amount": "20.00",
                "currency": "usd",
                "memo": ramp["instructions"]["memo"],
                "network": "wire",
            },
            headers=h.admin,
        )
        assert r.json()["outcome"] == "funded", r.text

    async def worker() -> int:
        async with h.rt.db.unit() as uow:
            return await ramps.start_on_ramps(uow, h.rt.ctx)

    results = await asyncio.gather(worker(), worker(), return_exceptions=True)
    assert all(isinstance(r, int | ConcurrentChange) for r in results), results
    assert 3 in results
    payouts = set()
    for ramp in made:
        seen = await rs.status_of(h, merchant, ramp["id"])
        assert seen["status"] == "processing"
        payouts.add(seen["payout_id"])
    assert len(payouts) == 3
    r = await h.client.get("/v1/payouts?limit=100", headers=merchant.headers)
    assert len(r.json()["data"]) == 3
    usd = (await h.balances(merchant))["USD"]
    assert (usd["balance"], usd["held"]) == ("60.00", "60.00")
    assert (await h.ledger_check())["ok"]
