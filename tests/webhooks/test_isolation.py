"""One merchant's slow or hanging receiver holds back nobody else's webhooks, and a
queue of deliveries that outlives its lease is not taken by a second worker. Against a
real receiver on loopback (one that accepts the connection and never answers), on
SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from payoutd.services import webhooks
from payoutd.store.tables import webhook_deliveries
from payoutd.webhooks.delivery import Sender
from payoutd.worker import jobs
from payoutd.worker.runner import Worker
from tests.support import Harness
from tests.webhooks.receiver import BTC_ADDR, Receiver, pay, subscribe

BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"


async def wait_for(condition: Callable[[], object], seconds: float, what: str) -> float:
    """Polls `condition()` until true; returns when (time.time()) it became true."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return time.time()
        await asyncio.sleep(0.01)
    pytest.fail(f"{what}: not within {seconds} s")


@contextlib.asynccontextmanager
async def clock_follows_real_time(h: Harness) -> AsyncIterator[None]:
    """The harness's clock moves with real time while the block runs (leases are
    reckoned on it)."""

    async def follow() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.02)
            now = time.monotonic()
            h.clock.advance(now - last)
            last = now

    task = asyncio.create_task(follow())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_hanging_endpoint_does_not_delay_another_merchants_webhook(
    h: Harness, rx: Receiver
) -> None:
    """Merchant A's endpoint accepts the connection and never answers, with 20
    deliveries waiting for it; merchant B's webhook, for an event that happens while A's
    are hanging, arrives within 2 s of its event, from the worker as `payoutd serve`
    runs it (its loop every PAYOUTD_WORKER_INTERVAL_SECONDS, 1 s by default)."""
    assert h.rt.ctx.settings.worker_interval_seconds == 1.0
    assert h.rt.ctx.settings.webhook_timeout_seconds == 15.0
    rx.set("hang", path="/a")
    rx.hang_seconds = 120  # longer than the test: it never answers
    a = await h.merchant("A", BTC="1")
    b = await h.merchant("B", BTC="1")
    await subscribe(h, a, rx, "/a", event_types=["payout.created"])
    await subscribe(h, b, rx, "/b", event_types=["payout.created"])
    for i in range(20):
        await pay(h, a, f"0.0{i % 9 + 1}", BTC_ADDR if i % 2 else BTC_ADDR_2)

    worker = Worker(h.rt.db, h.rt.ctx, h.rt.sender)
    worker.start()
    try:
        await wait_for(lambda: len(rx.at("/a")) == 1, 10, "A's first delivery")
        await asyncio.sleep(1.5)  # the worker's loop goes round while A's hangs
        event_at = time.time()
        payout = await pay(h, b, "0.01")
        arrived_at = await wait_for(lambda: len(rx.delivered("/b")) == 1, 10, "B's webhook")
        [arrival] = rx.delivered("/b")
        assert arrival.payout_id == payout["id"] and arrival.type == "payout.created"
        assert arrived_at - event_at < 2.0, arrived_at - event_at
        # A's endpoint still gets one delivery at a time: the first one still hangs
        assert len(rx.at("/a")) == 1
    finally:
        await worker.stop()


async def test_a_lease_is_renewed_while_a_slow_delivery_runs(
    h: Harness, rx: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 1 s lease and a receiver that takes 3 s: the first worker renews the lease of
    the delivery it is sending (and of the one waiting behind it in the same
    endpoint's queue), so a second worker polling after 2 s takes neither, and each
    arrives once."""
    monkeypatch.setattr(webhooks, "LEASE", timedelta(seconds=1))
    rx.set("slow")
    rx.slow_seconds = 3
    m = await h.merchant(BTC="1")
    await subscribe(h, m, rx, event_types=["payout.created"])
    await pay(h, m, "0.01")
    await pay(h, m, "0.02", BTC_ADDR_2)
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)
    second_sender = Sender(allow_private=True, timeout=15)
    try:
        async with clock_follows_real_time(h):
            first = asyncio.create_task(jobs.deliver_webhooks(h.rt.db, h.rt.ctx, h.rt.sender))
            await wait_for(lambda: rx.in_flight == 1, 5, "the first worker's attempt")
            await asyncio.sleep(2)  # past the lease the pass began with
            assert await jobs.deliver_webhooks(h.rt.db, h.rt.ctx, second_sender) == 0
            assert await first == 2
    finally:
        await second_sender.aclose()
    assert rx.requests == 2 and rx.duplicates() == 0
    async with h.rt.db.read() as uow:
        rows = (
            await uow.conn.execute(
                select(webhook_deliveries.c.status, webhook_deliveries.c.attempts)
            )
        ).all()
    assert sorted(rows) == [("delivered", 1), ("delivered", 1)]
