"""Webhook URLs, an endpoint's and a payout's callback_url alike: refused at creation
with 422 naming the field when they could never be delivered to, and a URL that still
fails at delivery time (a row stored before these checks) is a failed attempt like any
other: recorded, retried on the schedule, and counted toward disabling the endpoint.
On SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from payoutd.store.tables import webhook_endpoints
from tests.support import Harness, Merchant
from tests.webhooks.receiver import BTC_ADDR, pump

BAD = [
    ("https://example.com:99999/", "port"),
    ("https://example.com:65536/hooks", "port"),
    ("https://example.com:0/", "port"),
    ("https://example.com:abc/", "port"),
    ("https://user:secret@example.com/hooks", "credentials"),
    ("https://token@example.com/hooks", "credentials"),
    ("ftp://example.com/hooks", "http(s)"),
    ("https:///hooks", "http(s)"),
    ("example.com/hooks", "http(s)"),
    ("https://[::1/hooks", "valid URL"),
    ("https://exa mple.com/hooks", "spaces"),
    ("https://example.com/\thooks", "control"),
    ("https://-bad-.example.com/", "host name"),
    ("https://999.1.1.1/", "host name"),
    ("https://ex!ample.com/", "host name"),
    ("https://example.com/" + "a" * 2048, "2048"),
]
IDS = [u[:40] for u, _ in BAD]


async def create_endpoint(h: Harness, m: Merchant, url: str) -> Any:
    return await h.client.post("/v1/webhook-endpoints", headers=m.headers, json={"url": url})


async def create_payout(h: Harness, m: Merchant, url: str, **headers: str) -> Any:
    return await h.client.post(
        "/v1/payouts",
        headers={**m.headers, **headers},
        json={"amount": "0.01", "currency": "BTC", "address": BTC_ADDR, "callback_url": url},
    )


@pytest.mark.parametrize(("url", "why"), BAD, ids=IDS)
async def test_a_url_that_cannot_be_delivered_to_is_refused_naming_the_field(
    h: Harness, url: str, why: str
) -> None:
    m = await h.merchant(BTC="1")
    r = await create_endpoint(h, m, url)
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    [message] = r.json()["error"]["fields"]["url"]
    assert why in message, message
    # a payout's callback_url: on the intake's fast lane, and on the route (which an
    # Idempotency-Key sends it to), by the same rule
    for headers in ({}, {"Idempotency-Key": f"k-{len(url)}-{why}"}):
        r = await create_payout(h, m, url, **headers)
        assert r.status_code == 422, r.text
        assert r.json()["error"]["code"] == "validation_error"
        [callback_message] = r.json()["error"]["fields"]["callback_url"]
        assert why in callback_message, callback_message
    # nothing was created
    assert (await h.client.get("/v1/webhook-endpoints", headers=m.headers)).json()["data"] == []
    assert (await h.client.get("/v1/payouts", headers=m.headers)).json()["data"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com:65535/hooks",
        "https://example.com:1/",
        "http://hooks.example.com/in?x=1",
        "https://b\u00fccher.example/hooks",
        "https://example.com./hooks",
        "https://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8443/hooks",
    ],
)
async def test_good_urls_are_accepted(h: Harness, url: str) -> None:
    m = await h.merchant(BTC="1")
    r = await create_endpoint(h, m, url)
    assert r.status_code == 201, r.text
    assert r.json()["url"] == url
    r = await create_payout(h, m, url)
    assert r.status_code == 201, r.text
    assert r.json()["callback_url"] == url


async def test_a_delivery_that_raises_is_a_failed_attempt(h: Harness) -> None:
    """An endpoint stored before URLs were checked, with a port out of range: each
    attempt fails (the URL cannot even be parsed) and is recorded as such, retried on
    the schedule, and the endpoint is disabled once it has failed long enough."""
    m = await h.merchant(BTC="1")
    r = await create_endpoint(h, m, "https://example.com/hooks")
    assert r.status_code == 201, r.text
    ep = r.json()
    async with h.rt.db.unit() as uow:
        await uow.conn.execute(
            update(webhook_endpoints)
            .where(webhook_endpoints.c.id == ep["id"])
            .values(url="https://example.com:99999/hooks")
        )
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.01", "currency": "BTC", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text

    assert await pump(h) == 1  # the pass itself does not fail
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}/deliveries", headers=m.headers)
    [d] = r.json()["data"]
    assert d["status"] == "pending" and d["attempts"] == 1, d
    assert d["last_status_code"] is None and "port" in d["last_error"].lower(), d
    [attempt] = d["attempt_log"]
    assert attempt["error"] == d["last_error"]
    assert (await h.client.get(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)).json()[
        "failing_since"
    ] is not None

    # retried on the schedule, until the endpoint has failed for long enough
    h.clock.advance(4)
    assert await pump(h) == 0
    h.clock.advance(1)
    assert await pump(h) == 1
    h.clock.advance(h.rt.ctx.settings.webhook_disable_after_hours * 3600)
    assert await pump(h) == 1
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}", headers=m.headers)
    assert r.json()["status"] == "disabled", r.json()
    assert "port" in r.json()["disabled_reason"].lower()
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}/deliveries", headers=m.headers)
    [d] = r.json()["data"]
    assert d["status"] == "cancelled" and d["attempts"] == 3
