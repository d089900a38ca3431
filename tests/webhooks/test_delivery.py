"""Webhook delivery to a real HTTP receiver on loopback that verifies every request with
the `standardwebhooks` package, on SQLite and PostgreSQL.

Each status change of a payout arrives once, signed, in order; a receiver that is down,
answers 500, answers 429 with Retry-After, or hangs past the timeout gets the delivery
again on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h) of a clock
the test moves, and gets it once it recovers. Signatures carry the real time (receivers
allow 5 minutes of skew); scheduling follows the FakeClock."""

from __future__ import annotations

import email.utils
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from payoutd.store.tables import outbox
from payoutd.worker import jobs
from tests.support import Harness, Merchant
from tests.webhooks.receiver import (
    Receiver,
    drive,
    open_harness,
    pay,
    pump,
    subscribe,
)

BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
BTC_ADDR_3 = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"

# Written out here, not imported: a changed schedule must fail this test.
SCHEDULE = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 14 * 3600, 20 * 3600, 24 * 3600]
PAID_STEPS = [
    ("payout.created", "queued"),
    ("payout.status_changed", "sending"),
    ("payout.status_changed", "confirming"),
    ("payout.status_changed", "paid"),
    ("payout.paid", "paid"),
]


async def merchant_events(h: Harness, merchant_id: str) -> list[dict[str, Any]]:
    async with h.rt.db.read() as uow:
        rows = await uow.conn.execute(
            select(outbox).where(outbox.c.merchant_id == merchant_id).order_by(outbox.c.seq)
        )
        return [dict(r._mapping) for r in rows]


async def log(h: Harness, m: Merchant, endpoint_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=m.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def only_delivery(h: Harness, m: Merchant, endpoint_id: str) -> dict[str, Any]:
    found = await log(h, m, endpoint_id)
    assert len(found) == 1, found
    return found[0]


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def steps(arrivals: list[Any], payout_id: str) -> list[tuple[str, str | None]]:
    return [(a.type, a.payout_status) for a in arrivals if a.payout_id == payout_id]


async def retry_is_due_in(h: Harness, rx: Receiver, seconds: float) -> None:
    """Nothing is attempted a second before `seconds` have passed; at `seconds`, exactly
    one attempt reaches the receiver."""
    before = rx.requests
    h.clock.advance(seconds - 1)
    assert await pump(h) == 0, f"attempted before {seconds} s"
    assert rx.requests == before
    h.clock.advance(1)
    assert await pump(h) == 1, f"not attempted after {seconds} s"
    assert rx.requests == before + 1


# -- in order, once, signed ------------------------------------------------------------


async def test_each_status_change_arrives_once_signed_in_order(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)

    # One payout moved step by step, its events delivered as they happen...
    first = await pay(h, m, "0.01")
    await drive(h)
    # ...then two more that go all the way before the webhook loop runs: their ten
    # events go out in one pass, one after another.
    second = await pay(h, m, "0.02", BTC_ADDR_2)
    third = await pay(h, m, "0.03", BTC_ADDR_3)
    await h.settle()
    assert await pump(h) == 10
    for p in (first, second, third):
        r = await h.client.get(f"/v1/payouts/{p['id']}", headers=m.headers)
        assert r.json()["status"] == "paid"

    events = await merchant_events(h, m.id)
    got = rx.delivered("/hooks")
    assert [a.webhook_id for a in got] == [e["id"] for e in events]  # once each, in order
    for p in (first, second, third):
        assert steps(got, p["id"]) == PAID_STEPS
    for a, e in zip(got, events, strict=True):
        assert a.event_id == a.webhook_id and a.type == e["type"]
        assert a.body["data"] == e["payload"]  # the payout as it was at that step
        assert a.headers["content-type"] == "application/json"
        assert len(a.signatures) == 1 and a.signatures[0].startswith("v1,")
        assert a.verified_by == (ep["secret"],)
        assert abs(a.at - a.signed_at) < 5  # signed with the real time of sending

    # Nothing more arrives later: each was delivered once and is done.
    for _ in range(3):
        h.clock.advance(86400)
        assert await pump(h) == 0
    assert rx.requests == len(events)
    found = await log(h, m, ep["id"])
    assert {(d["status"], d["attempts"]) for d in found} == {("delivered", 1)}
    assert all(d["next_attempt_at"] is None for d in found)


async def test_signatures_are_fresh_when_a_receiver_is_slow(h: Harness, rx: Receiver) -> None:
    """One endpoint's deliveries go one after another: each is signed when it is sent,
    not when the pass began (else a long queue to a slow receiver arrives with
    timestamps past the receivers' 5 minute tolerance)."""
    m = await h.merchant(BTC="1")
    await subscribe(h, m, rx)
    for i in range(4):
        await pay(h, m, "0.01", order_id=f"slow-{i}")
    rx.set("slow")
    rx.slow_seconds = 1.0
    assert await pump(h) == 4
    got = rx.delivered()
    assert len(got) == 4 and got[-1].at - got[0].at > 2.5
    for a in got:
        # the timestamp has whole seconds: up to 1 s behind, plus the trip
        assert 0 <= a.at - a.signed_at < 1.6, [(x.at, x.signed_at) for x in got]


# -- retries ---------------------------------------------------------------------------


async def test_500_is_retried_on_the_schedule_until_it_gives_up(
    database_url: str | None, tmp_path: Path, rx: Receiver
) -> None:
    # The endpoint is not disabled on the way (that has a test of its own).
    async with open_harness(database_url, tmp_path, webhook_disable_after_hours=1000) as h:
        m = await h.merchant(BTC="1")
        ep = await subscribe(h, m, rx, event_types=["payout.created"])
        rx.set("500")
        await pay(h, m)
        assert await pump(h) == 1
        d = await only_delivery(h, m, ep["id"])
        assert (d["status"], d["attempts"], d["last_status_code"]) == ("pending", 1, 500)
        assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=5)

        for n, wait in enumerate(SCHEDULE, start=2):
            await retry_is_due_in(h, rx, wait)
            d = await only_delivery(h, m, ep["id"])
            assert d["attempts"] == n and d["last_status_code"] == 500

        # ten attempts over 75 h 35 min 5 s, then it gives up
        assert d["status"] == "failed" and d["next_attempt_at"] is None
        assert [a["status_code"] for a in d["attempt_log"]] == [500] * 10
        h.clock.advance(7 * 86400)
        assert await pump(h) == 0
        assert rx.requests == 10
        assert len({a.webhook_id for a in rx.arrivals}) == 1  # the same message each time
        assert rx.delivered() == []


async def test_500_then_recovery_arrives_once(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    payout = await pay(h, m)
    rx.set("500")
    assert await pump(h) == 1
    await retry_is_due_in(h, rx, 5)
    await retry_is_due_in(h, rx, 300)
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)
    assert r.json()["failing_since"] is not None and r.json()["status"] == "enabled"
    rx.set("ok")
    await retry_is_due_in(h, rx, 1800)
    got = rx.delivered()
    assert [(a.type, a.payout_id) for a in got] == [("payout.created", payout["id"])]
    d = await only_delivery(h, m, ep["id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 4, 200)
    assert [a["status_code"] for a in d["attempt_log"]] == [500, 500, 500, 200]
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)
    assert r.json()["failing_since"] is None
    h.clock.advance(86400)
    assert await pump(h) == 0 and len(rx.delivered()) == 1


async def test_a_receiver_that_is_down_gets_it_when_it_comes_back(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)
    rx.down()
    payout = await pay(h, m)
    assert await pump(h) == 1  # connection refused
    d = await only_delivery(h, m, ep["id"])
    assert d["status"] == "pending" and d["last_status_code"] is None
    assert "Connect" in d["last_error"], d["last_error"]
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=5)
    h.clock.advance(5)
    assert await pump(h) == 1
    d = await only_delivery(h, m, ep["id"])
    assert d["attempts"] == 2
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(minutes=5)

    rx.up()
    h.clock.advance(299)
    assert await pump(h) == 0 and rx.requests == 0  # it waits for its time
    h.clock.advance(1)
    assert await pump(h) == 1
    assert [(a.type, a.payout_id) for a in rx.delivered()] == [("payout.created", payout["id"])]
    d = await only_delivery(h, m, ep["id"])
    assert (d["status"], d["attempts"]) == ("delivered", 3)
    assert [a["status_code"] for a in d["attempt_log"]] == [None, None, 200]


async def test_429_retry_after_is_honoured_when_longer(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    await pay(h, m)

    rx.set("429", retry_after="120")  # longer than the schedule's 5 s: honoured
    assert await pump(h) == 1
    d = await only_delivery(h, m, ep["id"])
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=120)
    rx.set("429", retry_after="10")  # shorter than the schedule's 5 min: the schedule
    await retry_is_due_in(h, rx, 120)
    d = await only_delivery(h, m, ep["id"])
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(minutes=5)

    # an HTTP date an hour from now (the schedule says 30 min)
    rx.set("429", retry_after=email.utils.formatdate(time.time() + 3600, usegmt=True))
    await retry_is_due_in(h, rx, 300)
    d = await only_delivery(h, m, ep["id"])
    wait = at(d["next_attempt_at"]) - h.clock.now()
    assert timedelta(seconds=3595) <= wait <= timedelta(seconds=3600), wait

    # a week is more than anyone waits: at most a day
    rx.set("429", retry_after=str(7 * 86400))
    h.clock.advance(wait.total_seconds())
    assert await pump(h) == 1
    d = await only_delivery(h, m, ep["id"])
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(hours=24)
    assert [a["status_code"] for a in d["attempt_log"]] == [429] * 4

    rx.set("ok")
    await retry_is_due_in(h, rx, 86400)
    assert len(rx.delivered()) == 1
    assert (await only_delivery(h, m, ep["id"]))["status"] == "delivered"


async def test_a_hanging_receiver_times_out_and_gets_it_again(
    database_url: str | None, tmp_path: Path, rx: Receiver
) -> None:
    async with open_harness(database_url, tmp_path, webhook_timeout_seconds=0.5) as h:
        m = await h.merchant(BTC="1")
        ep = await subscribe(h, m, rx, event_types=["payout.created"])
        await pay(h, m)
        rx.set("hang")
        rx.hang_seconds = 10
        started = time.monotonic()
        assert await pump(h) == 1
        assert time.monotonic() - started < 5  # gave up after its timeout
        d = await only_delivery(h, m, ep["id"])
        assert (d["status"], d["last_status_code"], d["last_error"]) == (
            "pending",
            None,
            "timed out",
        )
        assert 450 <= d["last_latency_ms"] < 5000
        assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=5)
        assert len(rx.arrivals) == 1 and rx.delivered() == []  # it did reach the receiver

        rx.set("ok")
        await retry_is_due_in(h, rx, 5)
        got = rx.delivered()
        assert len(got) == 1 and got[0].webhook_id == rx.arrivals[0].webhook_id
        assert (await only_delivery(h, m, ep["id"]))["status"] == "delivered"


async def test_a_redirect_is_an_answer_not_followed(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    rx.trust("/redirected", ep["secret"])
    await pay(h, m)
    rx.then("302")
    assert await pump(h) == 1
    d = await only_delivery(h, m, ep["id"])
    assert (d["status"], d["last_status_code"]) == ("pending", 302)
    assert rx.paths == [("POST", "/hooks")]  # nothing went to the Location
    await retry_is_due_in(h, rx, 5)
    assert [a.path for a in rx.delivered()] == ["/hooks"]
    assert rx.paths == [("POST", "/hooks")] * 2


async def test_a_worker_that_dies_mid_attempt_leaves_it_to_the_next(
    h: Harness, rx: Receiver
) -> None:
    """A worker leases what it attempts; if it dies before recording the result, the
    delivery is attempted again once the lease runs out (at least once, never lost)."""
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    await pay(h, m)
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)
    now = h.clock.now()
    async with h.rt.db.unit() as uow:  # a worker claims it, then dies
        claimed = await uow.webhooks.claim_due(now, now + timedelta(seconds=60), 10)
    assert len(claimed) == 1
    assert await pump(h) == 0  # another worker leaves it alone while leased
    h.clock.advance(59)
    assert await pump(h) == 0
    h.clock.advance(1)
    assert await pump(h) == 1
    assert len(rx.delivered()) == 1
    assert (await only_delivery(h, m, ep["id"]))["status"] == "delivered"


async def test_deliveries_of_a_deleted_endpoint_are_cancelled(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)
    keep = await subscribe(h, m, rx, "/other")
    await pay(h, m)
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)
    r = await h.client.delete(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)
    assert r.status_code == 204
    await pump(h)
    assert [a.path for a in rx.delivered()] == ["/other"]
    assert (await only_delivery(h, m, keep["id"]))["status"] == "delivered"
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)
    assert r.status_code == 404
