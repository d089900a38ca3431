"""Money rules under concurrency, on PostgreSQL (DESIGN §1.2, §1.3, §1.4).

Every request goes through the in-process API client at the same time as the others
(asyncio.gather over one event loop and a real connection pool), so the database's
locking is what keeps the invariants, not the order the test happens to issue calls in.
A 5xx (here: an exception out of the ASGI app) fails the test: it is a bug.
"""

from __future__ import annotations

import asyncio
import hashlib
from decimal import Decimal
from typing import Any

import base58
import httpx
import pytest

from payoutd.domain.ledger import HoldStatus
from tests.support import Harness, Merchant

pytestmark = pytest.mark.postgres

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


def btc_address(seed: str) -> str:
    """A valid mainnet P2PKH address, distinct per seed."""
    h160 = hashlib.sha256(seed.encode()).digest()[:20]
    return base58.b58encode_check(b"\x00" + h160).decode()


async def gather_all(*aws: Any) -> list[Any]:
    """Run everything at once; any exception (an unhandled error in the app) fails."""
    results = await asyncio.gather(*aws, return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} calls raised, first: {errors[0]!r}"
    return results


def assert_no_5xx(responses: list[httpx.Response]) -> None:
    bad = [r for r in responses if r.status_code >= 500]
    assert not bad, f"{len(bad)} responses 5xx, first: {bad[0].status_code} {bad[0].text}"


async def probe_debit(pg: Harness, amount: str) -> Decimal:
    """What a BTC payout of `amount` takes from a balance, fees included, measured on a
    merchant of its own."""
    probe = await pg.merchant("Probe", BTC="1")
    r = await pg.client.post(
        "/v1/payouts",
        headers=probe.headers,
        json={"amount": amount, "currency": "BTC", "address": ADDR},
    )
    assert r.status_code == 201, r.text
    debit = Decimal(r.json()["debit"]["amount"])
    assert debit > Decimal(amount)  # the network fee is on top
    return debit


async def list_all(pg: Harness, m: Merchant, **params: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, str] = {"limit": "200", **params}
        if cursor:
            query["cursor"] = cursor
        r = await pg.client.get("/v1/payouts", headers=m.headers, params=query)
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["data"]
        cursor = body["next_cursor"]
        if cursor is None:
            return out


async def test_no_overdraft_under_300_concurrent_payouts(pg: Harness) -> None:
    amount = "0.001"
    debit = await probe_debit(pg, amount)
    m = await pg.merchant("Racer", BTC=str(debit * 100))

    done = asyncio.Event()
    samples: list[dict[str, str]] = []

    async def sample_balances() -> None:
        # Each GET awaits real I/O, so this interleaves with the payout requests.
        while not done.is_set():
            samples.append((await pg.balances(m))["BTC"])

    async def create(i: int) -> httpx.Response:
        return await pg.client.post(
            "/v1/payouts",
            headers=m.headers,
            json={"amount": amount, "currency": "BTC", "address": ADDR, "order_id": f"o-{i}"},
        )

    async def all_creates() -> list[httpx.Response]:
        try:
            return await gather_all(*(create(i) for i in range(300)))
        finally:
            done.set()

    responses, _ = await gather_all(all_creates(), sample_balances())
    assert_no_5xx(responses)
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 100, sorted(set(codes))
    assert codes.count(422) == 200
    for r in responses:
        if r.status_code == 422:
            assert r.json()["error"]["code"] == "insufficient_funds", r.text
        else:
            assert Decimal(r.json()["debit"]["amount"]) == debit

    assert samples, "the balance was never sampled while the payouts ran"
    for s in samples:
        assert Decimal(s["available"]) >= 0, s
        assert Decimal(s["available"]) + Decimal(s["held"]) == debit * 100, s

    bal = (await pg.balances(m))["BTC"]
    assert Decimal(bal["available"]) == 0
    assert Decimal(bal["held"]) == debit * 100
    assert Decimal(bal["balance"]) == debit * 100
    created = await list_all(pg, m)
    assert len(created) == 100
    assert {p["id"] for p in created} == {r.json()["id"] for r in responses if r.status_code == 201}
    check = await pg.ledger_check()
    assert check["ok"], check["problems"]


async def test_one_order_id_one_payout_under_100_concurrent_requests(pg: Harness) -> None:
    m = await pg.merchant("Retrier", BTC="1")
    body = {"amount": "0.01", "currency": "BTC", "address": ADDR, "order_id": "same-order"}

    responses = await gather_all(
        *(pg.client.post("/v1/payouts", headers=m.headers, json=body) for _ in range(100))
    )
    assert_no_5xx(responses)
    codes = [r.status_code for r in responses]
    assert codes.count(201) == 1, sorted(set(codes))
    assert codes.count(200) == 99, sorted(set(codes))
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1

    listed = await list_all(pg, m, order_id="same-order")
    assert [p["id"] for p in listed] == list(ids)
    assert len(await list_all(pg, m)) == 1
    debit = Decimal(listed[0]["debit"]["amount"])
    bal = (await pg.balances(m))["BTC"]
    assert Decimal(bal["held"]) == debit
    assert Decimal(bal["available"]) == Decimal(1) - debit
    check = await pg.ledger_check()
    assert check["ok"], check["problems"]


async def test_one_idempotency_key_one_payout_under_100_concurrent_requests(pg: Harness) -> None:
    m = await pg.merchant("Keyed", BTC="1")
    body = {"amount": "0.01", "currency": "BTC", "address": ADDR}
    headers = {**m.headers, "Idempotency-Key": "key-1"}

    responses = await gather_all(
        *(pg.client.post("/v1/payouts", headers=headers, json=body) for _ in range(100))
    )
    assert_no_5xx(responses)
    created = [r for r in responses if r.status_code == 201]
    others = [r for r in responses if r.status_code != 201]
    assert created, "no request created the payout"
    assert len({r.json()["id"] for r in created}) == 1
    payout_id = created[0].json()["id"]
    originals = [r for r in created if r.headers.get("Idempotent-Replayed") != "true"]
    assert len(originals) == 1  # every other 201 is a replay of the stored response
    for r in others:
        assert r.status_code == 409, r.text
        assert r.json()["error"]["code"] == "idempotency_in_progress", r.text

    again = await pg.client.post("/v1/payouts", headers=headers, json=body)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == payout_id

    conflict = await pg.client.post("/v1/payouts", headers=headers, json={**body, "amount": "0.02"})
    assert conflict.status_code == 409, conflict.text
    assert conflict.json()["error"]["code"] == "idempotency_conflict"

    listed = await list_all(pg, m)
    assert [p["id"] for p in listed] == [payout_id]
    debit = Decimal(listed[0]["debit"]["amount"])
    bal = (await pg.balances(m))["BTC"]
    assert Decimal(bal["held"]) == debit
    assert Decimal(bal["available"]) == Decimal(1) - debit
    check = await pg.ledger_check()
    assert check["ok"], check["problems"]


async def race_cancels_with_worker(
    pg: Harness, m: Merchant, ids: list[str], lanes: int
) -> dict[str, int]:
    """Cancel `ids` in `lanes` concurrent lanes (each lane one request after the other)
    while a worker keeps ticking until the cancels are done. Returns each HTTP status."""
    answers: dict[str, int] = {}
    done = asyncio.Event()

    async def lane(chunk: list[str]) -> None:
        for pid in chunk:
            r = await pg.client.post(f"/v1/payouts/{pid}/cancel", headers=m.headers)
            assert r.status_code < 500, r.text
            if r.status_code == 200:
                assert r.json()["status"] == "cancelled"
            else:
                assert r.status_code == 409, r.text
                assert r.json()["error"]["code"] == "payout_not_cancellable", r.text
            answers[pid] = r.status_code

    async def cancels() -> None:
        try:
            await gather_all(*(lane(ids[k::lanes]) for k in range(lanes)))
        finally:
            done.set()

    async def worker() -> None:
        while not done.is_set():
            await pg.tick()

    await gather_all(worker(), cancels())
    assert set(answers) == set(ids)
    return answers


async def test_cancel_racing_the_worker_never_both_cancels_and_sends(pg: Harness) -> None:
    deposit = Decimal("10")
    m = await pg.merchant("Canceller", BTC=str(deposit))
    by_id: dict[str, dict[str, Any]] = {}
    answers: dict[str, int] = {}
    # Each round: lanes of cancels (each lane one request after the other, the lanes at
    # the same time) race a worker that keeps ticking until the cancels are done, so the
    # worker claims the queue while some cancels are still to come or in flight.
    for round_no, lanes in enumerate((5, 10, 25)):
        for i in range(50):
            r = await pg.client.post(
                "/v1/payouts",
                headers=m.headers,
                json={
                    "amount": "0.001",
                    "currency": "BTC",
                    "address": btc_address(f"{round_no}-{i}"),
                },
            )
            assert r.status_code == 201, r.text
            by_id[r.json()["id"]] = r.json()
        queued = [pid for pid, p in by_id.items() if p["status"] == "queued"]
        answers.update(await race_cancels_with_worker(pg, m, queued, lanes))
        await pg.settle()
        for pid in queued:
            final = (await pg.client.get(f"/v1/payouts/{pid}", headers=m.headers)).json()
            by_id[pid] = final
            expected = "cancelled" if answers[pid] == 200 else "paid"
            assert final["status"] == expected, (answers[pid], final)

    outcomes = [p["status"] for p in by_id.values()]
    assert set(outcomes) == {"cancelled", "paid"}, "the worker and the cancels never raced"
    async with pg.rt.db.read() as uow:
        for pid, p in by_id.items():
            hold = await uow.ledger.hold_of(pid)
            assert hold is not None
            want = HoldStatus.VOIDED if p["status"] == "cancelled" else HoldStatus.POSTED
            assert hold.status is want, (p["status"], hold)

    paid = [p for p in by_id.values() if p["status"] == "paid"]
    txs = (
        await pg.client.get("/v1/sandbox/transactions", headers=m.headers, params={"limit": "200"})
    ).json()["data"]
    outputs = [o for tx in txs for o in tx["outputs"]]
    assert sorted(o["address"] for o in outputs) == sorted(p["address"] for p in paid)
    assert sum((Decimal(o["amount"]) for o in outputs), Decimal(0)) == sum(
        (Decimal(p["final_amount"]) for p in paid), Decimal(0)
    )
    bal = (await pg.balances(m))["BTC"]
    assert Decimal(bal["held"]) == 0
    assert Decimal(bal["balance"]) == deposit - sum(
        (Decimal(p["debit"]["amount"]) for p in paid), Decimal(0)
    )
    check = await pg.ledger_check()
    assert check["ok"], check["problems"]
