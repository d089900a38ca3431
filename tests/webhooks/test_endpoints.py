"""Webhook endpoints as a merchant uses them, against a real receiver on loopback that
verifies every request with the `standardwebhooks` package: subscriptions by event type
and by service, the secret shown once, rotation with an overlap, a payout's own
callback_url, disabling (410, and failing too long) with the reason shown, the delivery
log, redelivery, isolation between merchants, and the events of a payout the chain
refuses. On SQLite and PostgreSQL."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from payoutd.chains import sandbox
from tests.support import Harness, Merchant
from tests.webhooks.receiver import (
    BTC_ADDR,
    Receiver,
    drive,
    open_harness,
    pay,
    pump,
    subscribe,
)

BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
REFUSED_ADDR = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
PAYOUT_EVENTS = [
    "payout.created",
    "payout.failed",
    "payout.paid",
    "payout.status_changed",
    "payout.validation_error",
]


async def get_endpoint(h: Harness, m: Merchant, endpoint_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/webhook-endpoints/{endpoint_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    ep: dict[str, Any] = r.json()
    return ep


async def log(h: Harness, m: Merchant, endpoint_id: str) -> list[dict[str, Any]]:
    r = await h.client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=m.headers)
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def kinds(arrivals: list[Any]) -> list[tuple[str, str | None]]:
    return [(a.type, a.payout_status) for a in arrivals]


# -- subscriptions ---------------------------------------------------------------------


async def test_subscriptions_by_event_type_and_by_service(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    paid_only = await subscribe(h, m, rx, "/paid", event_types=["payout.paid"])
    service = await subscribe(h, m, rx, "/service", services=["PAYOUT"])
    failures = await subscribe(
        h, m, rx, "/failures", event_types=["payout.failed", "payout.validation_error"]
    )
    everything = await subscribe(h, m, rx, "/all")
    assert paid_only["event_types"] == ["payout.paid"]
    assert service["event_types"] == PAYOUT_EVENTS
    assert everything["event_types"] == ["*"]
    assert (await get_endpoint(h, m, failures["id"]))["event_types"] == [
        "payout.failed",
        "payout.validation_error",
    ]

    for bad in (
        {"event_types": ["payout.exploded"]},
        {"services": ["LOANS"]},
        {"url": "ftp://example.com/hooks"},
        {"url": "https://user:pw@example.com/hooks"},
    ):
        r = await h.client.post(
            "/v1/webhook-endpoints",
            headers=m.headers,
            json={"url": "https://example.com/hooks", **bad},
        )
        assert r.status_code == 422, (bad, r.text)

    payout = await pay(h, m)
    await drive(h)
    full = [
        ("payout.created", "queued"),
        ("payout.status_changed", "sending"),
        ("payout.status_changed", "confirming"),
        ("payout.status_changed", "paid"),
        ("payout.paid", "paid"),
    ]
    assert kinds(rx.delivered("/paid")) == [("payout.paid", "paid")]
    assert kinds(rx.delivered("/service")) == full
    assert kinds(rx.delivered("/all")) == full
    assert rx.at("/failures") == []
    assert {a.payout_id for a in rx.delivered()} == {payout["id"]}
    # batch.broadcast is the operator's: it reaches no merchant endpoint
    assert "batch.broadcast" not in {a.type for a in rx.arrivals}


async def test_the_secret_is_shown_once(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)
    secret = ep["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert (await get_endpoint(h, m, ep["id"]))["secret"] is None
    r = await h.client.get("/v1/webhook-endpoints", headers=m.headers)
    assert [(e["id"], e["secret"]) for e in r.json()["data"]] == [(ep["id"], None)]
    assert secret not in r.text
    # and it is the one that signs
    await pay(h, m)
    await pump(h)
    assert [a.verified_by for a in rx.delivered()] == [(secret,)]


async def test_rotation_signs_with_both_secrets_until_the_overlap_ends(
    h: Harness, rx: Receiver
) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    old = ep["secret"]
    await pay(h, m, order_id="before")
    await pump(h)

    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/rotate-secret",
        headers=m.headers,
        json={"overlap_seconds": 3600},
    )
    assert r.status_code == 200, r.text
    new = r.json()["secret"]
    assert new.startswith("whsec_") and new != old
    assert at(r.json()["previous_secret_expires_at"]) == h.clock.now() + timedelta(hours=1)
    assert (await get_endpoint(h, m, ep["id"]))["secret"] is None
    rx.trust("/hooks", old, new)

    await pay(h, m, order_id="during")
    await pump(h)
    h.clock.advance(3599)
    await pay(h, m, order_id="end-of-overlap")
    await pump(h)
    h.clock.advance(1)
    await pay(h, m, order_id="after")
    await pump(h)

    got = rx.delivered()
    assert [a.body["data"]["payout"]["order_id"] for a in got] == [
        "before",
        "during",
        "end-of-overlap",
        "after",
    ]
    assert [len(a.signatures) for a in got] == [1, 2, 2, 1]
    assert all(s.startswith("v1,") for a in got for s in a.signatures)
    assert [set(a.verified_by) for a in got] == [{old}, {old, new}, {old, new}, {new}]


async def test_rotation_without_overlap_and_the_default_overlap(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    old = ep["secret"]
    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/rotate-secret", headers=m.headers, json={}
    )
    assert r.status_code == 200, r.text
    middle = r.json()["secret"]
    assert at(r.json()["previous_secret_expires_at"]) == h.clock.now() + timedelta(days=1)
    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/rotate-secret",
        headers=m.headers,
        json={"overlap_seconds": 0},
    )
    new = r.json()["secret"]
    rx.trust("/hooks", old, middle, new)
    await pay(h, m)
    await pump(h)
    # the one before the last is dropped at once; the first is long gone
    assert [set(a.verified_by) for a in rx.delivered()] == [{new}]


# -- a payout's own callback_url --------------------------------------------------------


async def test_callback_url_is_signed_with_the_merchants_default_secret(
    h: Harness, rx: Receiver
) -> None:
    m = await h.merchant(BTC="1")
    r = await h.client.post("/v1/webhook-secret", headers=m.headers)
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    assert secret.startswith("whsec_")
    rx.trust("/callback", secret)
    rx.trust("/hooks", "whsec_" + base64.b64encode(b"x" * 24).decode())  # never used

    with_callback = await pay(h, m, callback_url=rx.url("/callback"))
    await pay(h, m, "0.02", BTC_ADDR_2)  # no callback_url: nothing to send
    await drive(h)
    got = rx.delivered("/callback")
    assert kinds(got) == [
        ("payout.created", "queued"),
        ("payout.status_changed", "sending"),
        ("payout.status_changed", "confirming"),
        ("payout.status_changed", "paid"),
        ("payout.paid", "paid"),
    ]
    assert {a.payout_id for a in got} == {with_callback["id"]}
    assert all(a.verified_by == (secret,) for a in got)
    assert len(rx.arrivals) == 5

    # POST /v1/webhook-secret rotates: what is signed from then on uses the new one
    r = await h.client.post("/v1/webhook-secret", headers=m.headers)
    rotated = r.json()["secret"]
    assert rotated != secret
    rx.trust("/callback", secret, rotated)
    await pay(h, m, "0.03", callback_url=rx.url("/callback"))
    await pump(h)
    assert rx.delivered("/callback")[-1].verified_by == (rotated,)


# -- disabling -------------------------------------------------------------------------


async def test_410_disables_the_endpoint_and_says_why(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)
    other = await subscribe(h, m, rx, "/other")
    await pay(h, m)
    rx.set("410", path="/hooks")
    await pump(h)
    rx.set("ok", path="/hooks")  # were anything sent again, it would be delivered
    found = await get_endpoint(h, m, ep["id"])
    assert found["status"] == "disabled"
    assert "410" in found["disabled_reason"], found
    [d] = await log(h, m, ep["id"])
    assert (d["status"], d["last_status_code"]) == ("cancelled", 410)

    # nothing more is sent to it; the other endpoint is unaffected
    await pay(h, m, "0.02", BTC_ADDR_2)
    await drive(h)
    h.clock.advance(86400)
    await pump(h)
    assert len(rx.at("/hooks")) == 1
    assert len(rx.delivered("/other")) == 10
    assert (await get_endpoint(h, m, other["id"]))["status"] == "enabled"
    listed = (await h.client.get("/v1/webhook-endpoints", headers=m.headers)).json()["data"]
    assert {e["id"]: e["status"] for e in listed} == {ep["id"]: "disabled", other["id"]: "enabled"}

    # enabled again, it gets new events (those of while it was disabled are not replayed)
    r = await h.client.post(f"/v1/webhook-endpoints/{ep['id']}/enable", headers=m.headers)
    assert r.status_code == 200 and r.json()["status"] == "enabled"
    assert r.json()["disabled_reason"] is None
    third = await pay(h, m, "0.03")
    await pump(h)
    assert [(a.type, a.payout_id) for a in rx.delivered("/hooks")] == [
        ("payout.created", third["id"])
    ]


async def test_after_410_nothing_more_is_sent_not_even_in_the_same_pass(
    h: Harness, rx: Receiver
) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx)
    for i in range(4):
        await pay(h, m, order_id=f"gone-{i}")
    rx.set("410")
    assert await pump(h) == 4  # four were due for this endpoint in this pass
    assert len(rx.at("/hooks")) == 1  # the receiver said Gone to the first: that is all
    assert (await get_endpoint(h, m, ep["id"]))["status"] == "disabled"
    found = await log(h, m, ep["id"])
    assert sorted(d["status"] for d in found) == ["cancelled"] * 4
    assert sorted(d["attempts"] for d in found) == [0, 0, 0, 1]


async def test_an_endpoint_failing_too_long_is_disabled_with_its_reason(
    database_url: str | None, tmp_path: Path, rx: Receiver
) -> None:
    async with open_harness(database_url, tmp_path, webhook_disable_after_hours=3) as h:
        m = await h.merchant(BTC="1")
        ep = await subscribe(h, m, rx, event_types=["payout.created"])
        rx.set("500")
        await pay(h, m)
        await pump(h)
        started = h.clock.now()
        assert at((await get_endpoint(h, m, ep["id"]))["failing_since"]) == started
        for wait in (5, 300, 1800, 7200):  # 2 h 35 min 5 s: still enabled
            h.clock.advance(wait)
            assert await pump(h) == 1
        found = await get_endpoint(h, m, ep["id"])
        assert found["status"] == "enabled" and found["disabled_reason"] is None
        h.clock.advance(5 * 3600)  # the next attempt, 7 h 35 min in: over 3 h
        assert await pump(h) == 1
        found = await get_endpoint(h, m, ep["id"])
        assert found["status"] == "disabled"
        reason = found["disabled_reason"]
        assert "failed" in reason and "500" in reason, reason
        [d] = await log(h, m, ep["id"])
        assert d["status"] == "cancelled" and d["attempts"] == 6

        # no attempts any more, for this delivery or new events
        await pay(h, m, "0.02")
        h.clock.advance(86400)
        assert await pump(h) == 0
        assert rx.requests == 6


async def test_a_success_resets_the_failing_clock(
    database_url: str | None, tmp_path: Path, rx: Receiver
) -> None:
    async with open_harness(database_url, tmp_path, webhook_disable_after_hours=1) as h:
        m = await h.merchant(BTC="1")
        ep = await subscribe(h, m, rx, event_types=["payout.created"])
        rx.set("500")
        await pay(h, m, order_id="a")
        await pump(h)
        h.clock.advance(1800)
        rx.set("ok")
        await pay(h, m, order_id="b")
        await pump(h)  # b arrives (and a, whose 5 s retry is due)
        assert (await get_endpoint(h, m, ep["id"]))["failing_since"] is None
        rx.set("500")
        h.clock.advance(1800)
        await pay(h, m, order_id="c")
        await pump(h)  # 1 h after the first failure, but only just failing again
        found = await get_endpoint(h, m, ep["id"])
        assert found["status"] == "enabled", found


# -- the delivery log and redelivery ------------------------------------------------------


async def test_the_delivery_log_and_redeliver(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    ep = await subscribe(h, m, rx, event_types=["payout.created"])
    payout = await pay(h, m)
    rx.then("503")
    await pump(h)
    [d] = await log(h, m, ep["id"])
    assert d["event_type"] == "payout.created" and d["status"] == "pending"
    assert d["attempts"] == 1 and d["last_status_code"] == 503
    assert d["last_error"] == "HTTP 503"
    assert isinstance(d["last_latency_ms"], int) and 0 <= d["last_latency_ms"] < 5000
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=5)
    assert d["delivered_at"] is None
    [a1] = d["attempt_log"]
    assert a1["attempt"] == 1 and a1["status_code"] == 503 and a1["error"] == "HTTP 503"
    assert at(a1["at"]) == h.clock.now()

    h.clock.advance(5)
    await pump(h)
    [d] = await log(h, m, ep["id"])
    assert (d["status"], d["attempts"], d["last_status_code"]) == ("delivered", 2, 200)
    assert d["next_attempt_at"] is None and at(d["delivered_at"]) == h.clock.now()
    assert [(a["attempt"], a["status_code"]) for a in d["attempt_log"]] == [(1, 503), (2, 200)]
    assert all(isinstance(a["latency_ms"], int) for a in d["attempt_log"])

    # the merchant asks for it again
    h.clock.advance(60)
    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/deliveries/{d['id']}/redeliver", headers=m.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and at(r.json()["next_attempt_at"]) == h.clock.now()
    assert await pump(h) == 1
    got = rx.delivered()
    assert len(got) == 2 and got[0].webhook_id == got[1].webhook_id == d["event_id"]
    assert got[1].payout_id == payout["id"]
    [d] = await log(h, m, ep["id"])
    assert (d["status"], d["attempts"]) == ("delivered", 3)
    assert [a["status_code"] for a in d["attempt_log"]] == [503, 200, 200]
    assert await pump(h) == 0

    # someone else's delivery, or an unknown one: not found
    other = await h.merchant("Other")
    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/deliveries/{d['id']}/redeliver", headers=other.headers
    )
    assert r.status_code == 404
    r = await h.client.post(
        f"/v1/webhook-endpoints/{ep['id']}/deliveries/nope/redeliver", headers=m.headers
    )
    assert r.status_code == 404
    r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}/deliveries", headers=other.headers)
    assert r.status_code == 404


# -- merchants are apart ----------------------------------------------------------------


async def test_events_never_reach_another_merchants_endpoint(h: Harness, rx: Receiver) -> None:
    a = await h.merchant("A", BTC="1")
    b = await h.merchant("B", BTC="1")
    ep_a = await subscribe(h, a, rx, "/a")
    ep_b = await subscribe(h, b, rx, "/b")
    # each receiver path trusts only its own merchant's secret: a stray event would not
    # only land at the wrong path, it would also fail verification there
    pa = await pay(h, a, "0.01")
    pb = await pay(h, b, "0.02", BTC_ADDR_2)
    await drive(h)
    assert {x.payout_id for x in rx.delivered("/a")} == {pa["id"]}
    assert {x.payout_id for x in rx.delivered("/b")} == {pb["id"]}
    assert len(rx.delivered("/a")) == len(rx.delivered("/b")) == 5
    assert all(x.verified_by == (ep_a["secret"],) for x in rx.delivered("/a"))
    assert all(x.verified_by == (ep_b["secret"],) for x in rx.delivered("/b"))

    # nor can B see or touch A's endpoint
    for method, path in (
        ("GET", ""),
        ("GET", "/deliveries"),
        ("POST", "/rotate-secret"),
        ("POST", "/enable"),
        ("DELETE", ""),
    ):
        r = await h.client.request(
            method,
            f"/v1/webhook-endpoints/{ep_a['id']}{path}",
            headers=b.headers,
            json={} if path == "/rotate-secret" else None,
        )
        assert r.status_code == 404, (method, path, r.text)
    r = await h.client.get("/v1/webhook-endpoints", headers=b.headers)
    assert [e["id"] for e in r.json()["data"]] == [ep_b["id"]]


# -- a payout the chain refuses ---------------------------------------------------------


async def test_a_refused_payout_sends_failed_and_validation_error(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    await subscribe(h, m, rx)
    await subscribe(h, m, rx, "/failures", event_types=["payout.failed", "payout.validation_error"])
    await sandbox.add_rule(h.rt.db, address=REFUSED_ADDR, action="refuse")
    refused = await pay(h, m, "0.01", REFUSED_ADDR)
    fine = await pay(h, m, "0.02", BTC_ADDR)
    await drive(h)

    mine = [a for a in rx.delivered("/hooks") if a.payout_id == refused["id"]]
    assert kinds(mine) == [
        ("payout.created", "queued"),
        ("payout.status_changed", "failed"),
        ("payout.failed", "failed"),
        ("payout.validation_error", "failed"),
    ]
    error = mine[-1].body["data"]
    assert REFUSED_ADDR in error["reason"]
    assert error["payout"]["failure_reason"] == error["reason"]
    assert kinds(rx.delivered("/failures")) == [
        ("payout.failed", "failed"),
        ("payout.validation_error", "failed"),
    ]
    assert {a.payout_id for a in rx.delivered("/failures")} == {refused["id"]}
    assert ("payout.paid", "paid") in kinds(
        [a for a in rx.delivered("/hooks") if a.payout_id == fine["id"]]
    )


# -- a payout's callback_url: its delivery log and redelivery -----------------------------


async def callback_log(h: Harness, m: Merchant, payout_id: str, **params: Any) -> dict[str, Any]:
    r = await h.client.get(f"/v1/payouts/{payout_id}/deliveries", headers=m.headers, params=params)
    assert r.status_code == 200, r.text
    page: dict[str, Any] = r.json()
    return page


async def test_the_callback_delivery_log_and_redeliver(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    secret = (await h.client.post("/v1/webhook-secret", headers=m.headers)).json()["secret"]
    rx.trust("/callback", secret)
    ep = await subscribe(h, m, rx, event_types=["payout.created"])  # not in the log below
    payout = await pay(h, m, callback_url=rx.url("/callback"))
    other_payout = await pay(h, m, "0.02", BTC_ADDR_2, callback_url=rx.url("/callback"))
    rx.set("503", path="/callback")
    assert await pump(h) == 4
    page = await callback_log(h, m, payout["id"])
    assert page["next_cursor"] is None
    [d] = page["data"]
    assert d["event_type"] == "payout.created" and d["status"] == "pending"
    assert (d["attempts"], d["last_status_code"], d["last_error"]) == (1, 503, "HTTP 503")
    assert at(d["next_attempt_at"]) == h.clock.now() + timedelta(seconds=5)
    assert [a["status_code"] for a in d["attempt_log"]] == [503]
    assert len(await log(h, m, ep["id"])) == 2  # the endpoint's own log is apart

    rx.set("ok", path="/callback")
    h.clock.advance(5)
    await pump(h)
    [d] = (await callback_log(h, m, payout["id"]))["data"]
    assert (d["status"], d["attempts"]) == ("delivered", 2)

    # the merchant asks for it again
    r = await h.client.post(
        f"/v1/payouts/{payout['id']}/deliveries/{d['id']}/redeliver", headers=m.headers
    )
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and at(r.json()["next_attempt_at"]) == h.clock.now()
    assert await pump(h) == 1
    got = [a for a in rx.delivered("/callback") if a.payout_id == payout["id"]]
    assert len(got) == 2 and got[0].webhook_id == got[1].webhook_id == d["event_id"]
    [d] = (await callback_log(h, m, payout["id"]))["data"]
    assert (d["status"], d["attempts"]) == ("delivered", 3)

    # paginated like the other lists: more events, two pages of one
    await drive(h)
    full = (await callback_log(h, m, payout["id"]))["data"]
    assert [x["event_type"] for x in reversed(full)] == [
        "payout.created",
        "payout.status_changed",
        "payout.status_changed",
        "payout.status_changed",
        "payout.paid",
    ]
    first = await callback_log(h, m, payout["id"], limit=2)
    assert [x["id"] for x in first["data"]] == [x["id"] for x in full[:2]]
    second = await callback_log(h, m, payout["id"], limit=2, cursor=first["next_cursor"])
    assert [x["id"] for x in second["data"]] == [x["id"] for x in full[2:4]]

    # another payout's delivery, someone else's payout, an unknown delivery: not found
    [other_d, *_] = (await callback_log(h, m, other_payout["id"]))["data"]
    r = await h.client.post(
        f"/v1/payouts/{payout['id']}/deliveries/{other_d['id']}/redeliver", headers=m.headers
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    endpoint_delivery = (await log(h, m, ep["id"]))[0]
    r = await h.client.post(
        f"/v1/payouts/{payout['id']}/deliveries/{endpoint_delivery['id']}/redeliver",
        headers=m.headers,
    )
    assert r.status_code == 404
    other = await h.merchant("Other")
    r = await h.client.get(f"/v1/payouts/{payout['id']}/deliveries", headers=other.headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = await h.client.post(
        f"/v1/payouts/{payout['id']}/deliveries/{d['id']}/redeliver", headers=other.headers
    )
    assert r.status_code == 404
    r = await h.client.get("/v1/payouts/nope/deliveries", headers=m.headers)
    assert r.status_code == 404
    r = await h.client.get(
        f"/v1/payouts/{payout['id']}/deliveries", headers=m.headers, params={"cursor": "!!"}
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "invalid_cursor"
