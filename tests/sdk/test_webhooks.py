"""Webhooks through the SDK against a live payoutd: an endpoint made with the SDK, a real
webhook delivered by payoutd's worker to a real HTTP receiver (tests/compat/receiver.py),
verified with `payoutd_client.webhooks.verify`; a tampered body, a wrong secret and a
stale timestamp refused; the delivery log and a redelivery. Sync and async."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest
from payoutd_client import AsyncClient, Client, Delivery, NotFound, WebhookEvent, webhooks

from tests.compat.receiver import CallbackServer, Hook
from tests.sdk.conftest import BTC_ADDRESS, Live

pytestmark = pytest.mark.e2e

WAIT_SECONDS = 30


def hooks_for(server: CallbackServer, path: str, payout_id: str, kind: str) -> list[Hook]:
    return [
        h
        for h in server.at(path)
        if h.body.get("type") == kind and h.body["data"].get("payout", {}).get("id") == payout_id
    ]


def wait_for_hooks(
    server: CallbackServer, path: str, payout_id: str, kind: str, count: int = 1
) -> list[Hook]:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found := hooks_for(server, path, payout_id, kind)) < count:
        assert time.monotonic() < deadline, f"no {kind} webhook after {WAIT_SECONDS} s"
        time.sleep(0.05)
    return found


async def await_hooks(
    server: CallbackServer, path: str, payout_id: str, kind: str, count: int = 1
) -> list[Hook]:
    deadline = time.monotonic() + WAIT_SECONDS
    while len(found := hooks_for(server, path, payout_id, kind)) < count:
        assert time.monotonic() < deadline, f"no {kind} webhook after {WAIT_SECONDS} s"
        await asyncio.sleep(0.05)
    return found


def delivered(payoutd: Client, endpoint_id: str, event_id: str) -> Delivery:
    """The event's delivery once payoutd recorded its answer (the receiver has the webhook
    a moment before the worker writes down the 200)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        # a page of one: the walk goes through the log's pages
        log = payoutd.webhook_endpoints.deliveries(endpoint_id, limit=1)
        found = next(d for d in log if d.event_id == event_id)
        if found.status == "delivered":
            return found
        assert time.monotonic() < deadline, f"not delivered after {WAIT_SECONDS} s: {found}"
        time.sleep(0.05)


async def adelivered(payoutd: AsyncClient, endpoint_id: str, event_id: str) -> Delivery:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = None
        async for d in payoutd.webhook_endpoints.deliveries(endpoint_id):
            if d.event_id == event_id:
                found = d
                break
        assert found is not None
        if found.status == "delivered":
            return found
        assert time.monotonic() < deadline, f"not delivered after {WAIT_SECONDS} s: {found}"
        await asyncio.sleep(0.05)


def check_refusals(hook: Hook, secret: str) -> None:
    """What a receiver must refuse: the same webhook with one byte of its body changed,
    checked with another secret, or replayed after the tolerance."""
    tampered = hook.raw.replace(b'"BTC"', b'"LTC"', 1)
    assert tampered != hook.raw
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(tampered, hook.headers, secret)
    other = "whsec_" + "A" * 32
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(hook.raw, hook.headers, other)
    sent_at = int(hook.headers["webhook-timestamp"])
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(hook.raw, hook.headers, secret, now=sent_at + 301)
    unsigned = {k: v for k, v in hook.headers.items() if k != "webhook-signature"}
    with pytest.raises(webhooks.WebhookVerificationError):
        webhooks.verify(hook.raw, unsigned, secret)


def test_a_real_webhook_is_verified_and_a_tampered_one_refused(live: Live) -> None:
    server = CallbackServer()
    server.start()
    try:
        with Client(live.merchant(), live.url) as payoutd:
            endpoint = payoutd.webhook_endpoints.create(
                server.url("/hooks"), description="SDK test"
            )
            assert endpoint.secret is not None and endpoint.secret.startswith("whsec_")
            assert [e.id for e in payoutd.webhook_endpoints.list()] == [endpoint.id]
            assert payoutd.webhook_endpoints.get(endpoint.id).secret is None  # shown once

            payout = payoutd.payouts.create(
                amount=Decimal("0.001"), currency="BTC", address=BTC_ADDRESS
            )
            [hook] = wait_for_hooks(server, "/hooks", payout.id, "payout.created")
            event = webhooks.verify(hook.raw, hook.headers, endpoint.secret)
            assert isinstance(event, WebhookEvent)
            assert event.type == "payout.created" and event.id == hook.body["id"]
            assert event.payout is not None and event.payout.id == payout.id
            assert event.payout.amount == Decimal("0.001")
            check_refusals(hook, endpoint.secret)

            # payoutd's worker carries the payout on to paid on the sandbox chain
            [paid] = wait_for_hooks(server, "/hooks", payout.id, "payout.paid")
            assert webhooks.verify(paid.raw, paid.headers, endpoint.secret).type == "payout.paid"

            delivery = delivered(payoutd, endpoint.id, event.id)
            assert delivery.event_type == "payout.created"
            assert delivery.attempt_log and delivery.attempt_log[0].status_code == 200
            again = payoutd.webhook_endpoints.redeliver(endpoint.id, delivery.id)
            assert again.id == delivery.id
            _, resent = wait_for_hooks(server, "/hooks", payout.id, "payout.created", count=2)
            assert webhooks.verify(resent.raw, resent.headers, endpoint.secret).id == event.id

            payoutd.webhook_endpoints.delete(endpoint.id)
            with pytest.raises(NotFound):
                payoutd.webhook_endpoints.get(endpoint.id)
    finally:
        server.stop()


async def test_async_a_real_webhook_is_verified_and_a_tampered_one_refused(live: Live) -> None:
    server = CallbackServer()
    server.start()
    try:
        async with AsyncClient(live.merchant(), live.url) as payoutd:
            endpoint = await payoutd.webhook_endpoints.create(
                server.url("/hooks"), event_types=["payout.created"]
            )
            assert endpoint.secret is not None
            assert [e.id async for e in payoutd.webhook_endpoints.list()] == [endpoint.id]
            payout = await payoutd.payouts.create(
                amount=Decimal("0.001"), currency="BTC", address=BTC_ADDRESS
            )
            [hook] = await await_hooks(server, "/hooks", payout.id, "payout.created")
            event = webhooks.verify(hook.raw, hook.headers, endpoint.secret)
            assert event.type == "payout.created"
            assert event.payout is not None and event.payout.id == payout.id
            check_refusals(hook, endpoint.secret)

            delivery = await adelivered(payoutd, endpoint.id, event.id)
            await payoutd.webhook_endpoints.redeliver(endpoint.id, delivery.id)
            _, resent = await await_hooks(server, "/hooks", payout.id, "payout.created", count=2)
            assert webhooks.verify(resent.raw, resent.headers, endpoint.secret).id == event.id
            await payoutd.webhook_endpoints.delete(endpoint.id)
            assert [e async for e in payoutd.webhook_endpoints.list()] == []
    finally:
        server.stop()
