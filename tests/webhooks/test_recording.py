"""How a delivery pass records its outcomes: successes together, soon, and all of them.

The sender here is a stand-in whose answers the test controls (when each receiver
answers, or that one raises); the HTTP side of delivery is tested against a real
receiver in test_delivery.py."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from payoutd.domain.webhooks import AttemptResult
from payoutd.services import webhooks as webhook_services
from payoutd.store.tables import webhook_attempts, webhook_deliveries
from payoutd.worker import jobs
from tests.support import Harness

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


class Receivers:
    """Answers 200 at once, except the URLs ending in /slow (when released) and /broken
    (raises, as an unexpected client error would)."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.slow_entered = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, url: str, headers: Any, body: str) -> AttemptResult:
        name = url.rsplit("/", 1)[-1]
        self.sent.append(name)
        if name == "slow":
            self.slow_entered.set()
            await self.release.wait()
        if name == "broken":
            await self.slow_entered.wait()
            raise RuntimeError("not an HTTP error")
        return AttemptResult(200, 3)


async def one_event_per_endpoint(h: Harness, *names: str) -> None:
    m = await h.merchant(BTC="1")
    for name in names:
        r = await h.client.post(
            "/v1/webhook-endpoints",
            headers=m.headers,
            json={"url": f"http://127.0.0.1:9/{name}", "event_types": ["payout.created"]},
        )
        assert r.status_code == 201, r.text
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.01", "currency": "BTC", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)


async def statuses(h: Harness) -> dict[str, str]:
    async with h.rt.db.read() as uow:
        rows = (
            await uow.conn.execute(select(webhook_deliveries.c.url, webhook_deliveries.c.status))
        ).all()
    return {url.rsplit("/", 1)[-1]: status for url, status in rows}


async def test_a_success_is_recorded_while_other_lanes_still_work(h: Harness) -> None:
    """Recorded within RECORD_EVERY, not at the end of the pass: a slow receiver must not
    keep another's success unrecorded until its lease runs out (then it would be sent
    again)."""
    await one_event_per_endpoint(h, "fast", "slow")
    receivers = Receivers()
    delivering = asyncio.create_task(jobs.deliver_webhooks(h.rt.db, h.rt.ctx, receivers))
    await receivers.slow_entered.wait()
    for _ in range(int(4 * jobs.RECORD_EVERY / 0.05)):
        if (await statuses(h))["fast"] == "delivered":
            break
        await asyncio.sleep(0.05)
    assert await statuses(h) == {"fast": "delivered", "slow": "pending"}
    receivers.release.set()
    assert await delivering == 2
    assert await statuses(h) == {"fast": "delivered", "slow": "delivered"}
    async with h.rt.db.read() as uow:
        attempts = (await uow.conn.execute(select(webhook_attempts.c.attempt))).all()
    assert sorted(a for (a,) in attempts) == [1, 1]  # each recorded once


async def test_an_attempt_that_raises_is_a_failed_attempt(h: Harness) -> None:
    """The pass goes on: the raising attempt is recorded as a failure with its error and
    retried on the schedule, and the other lane's success is recorded."""
    await one_event_per_endpoint(h, "broken", "slow")
    receivers = Receivers()
    delivering = asyncio.create_task(jobs.deliver_webhooks(h.rt.db, h.rt.ctx, receivers))
    await receivers.slow_entered.wait()
    await asyncio.sleep(0.1)  # the broken attempt has raised by now
    receivers.release.set()
    assert await delivering == 2
    assert await statuses(h) == {"broken": "pending", "slow": "delivered"}
    async with h.rt.db.read() as uow:
        [row] = (
            await uow.conn.execute(
                select(webhook_deliveries).where(webhook_deliveries.c.url.like("%/broken"))
            )
        ).all()
        [attempt] = (
            await uow.conn.execute(
                select(webhook_attempts).where(webhook_attempts.c.delivery_id == row.id)
            )
        ).all()
    assert row.attempts == 1 and row.last_error == "RuntimeError: not an HTTP error"
    assert attempt.error == row.last_error and attempt.status_code is None
    assert row.next_attempt_at == h.clock.now() + timedelta(seconds=5)


async def test_the_pass_ends_without_cutting_a_record_short(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass that ends while the recorder is inside a record lets that record finish
    (the recorder is stopped between records, not cancelled): everything is recorded and
    the database is free for the next writer at once. (A full-size e2e run with the
    recorder cancelled at the end of each pass froze every writer for minutes with
    "database is locked"; this test does not reproduce that freeze with the cancelling
    version, it checks the outcome the fix must keep.)"""
    await one_event_per_endpoint(h, "fast", "slow")
    inside = asyncio.Event()
    record_delivered = webhook_services.record_delivered

    async def slow_record(uow: Any, ctx: Any, delivered: Any) -> None:
        await record_delivered(uow, ctx, delivered)
        if delivered:
            inside.set()
            # still inside the recorder's transaction, in a statement that takes a while
            await uow.conn.execute(
                text(
                    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                    "WHERE i < 2000000) SELECT count(*) FROM n"
                )
            )

    monkeypatch.setattr(webhook_services, "record_delivered", slow_record)
    monkeypatch.setattr(jobs, "RECORD_EVERY", 0.01)
    receivers = Receivers()
    delivering = asyncio.create_task(jobs.deliver_webhooks(h.rt.db, h.rt.ctx, receivers))
    await inside.wait()  # the recorder is in the middle of a record ...
    receivers.release.set()  # ... when the last lane ends and the pass finishes
    assert await delivering == 2
    assert await statuses(h) == {"fast": "delivered", "slow": "delivered"}
    # a writer gets the database at once
    async with asyncio.timeout(5):
        async with h.rt.db.unit() as uow:
            await uow.webhooks.record_many([])
        await jobs.dispatch_events(h.rt.db, h.rt.ctx)
