"""The webhook contract is written down where merchants read it: every event type the
code can emit is in docs/webhooks.md, every one a merchant can receive is in the OpenAPI
document's `webhooks` section with its payload model, and what a real receiver gets
matches those models (SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from payoutd.api import webhook_events
from payoutd.api.app import create_app
from payoutd.bootstrap import build
from payoutd.chains import sandbox
from payoutd.domain import events, webhook_policy
from tests import support
from tests.services import ramp_support as rs
from tests.support import Harness
from tests.webhooks.receiver import Receiver, pay, pump, subscribe

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "payoutd"
DOC = ROOT / "docs" / "webhooks.md"
REFUSED = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"


def emitted_names() -> set[str]:
    """The `events.NAME` constants the code refers to anywhere outside domain/events.py:
    the event types it can write to the outbox."""
    found: set[str] = set()
    for path in SRC.rglob("*.py"):
        if path == SRC / "domain" / "events.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "events"
                and node.attr.isupper()
                and isinstance(getattr(events, node.attr, None), str)
            ):
                found.add(getattr(events, node.attr))
    return found


def test_every_event_the_code_emits_is_a_known_type() -> None:
    emitted = emitted_names()
    assert {"payout.created", "payout.validation_error", "batch.broadcast"} <= emitted
    assert emitted <= set(events.ALL)


def test_every_event_type_is_in_openapi_and_in_the_doc(tmp_path: Path) -> None:
    document = create_app(build(support.test_settings(tmp_path, None))).openapi()
    hooks = document["webhooks"]
    # what a merchant can receive: each payout event, nothing else (batch events are
    # the operator's and reach no endpoint)
    assert set(hooks) == set(webhook_policy.MERCHANT_EVENTS)
    assert set(events.ALL) - set(webhook_policy.MERCHANT_EVENTS) == {events.BATCH_BROADCAST}
    for event_type, item in hooks.items():
        op = item["post"]
        ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
        assert schema["properties"]["type"]["const"] == event_type
        headers = {p["name"] for p in op["parameters"] if p["in"] == "header"}
        assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
        assert "5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h" in op["description"]
    text = DOC.read_text()
    for event_type in events.ALL:
        assert f"`{event_type}`" in text, event_type
    for word in ("webhook-id", "webhook-timestamp", "webhook-signature", "At least once"):
        assert word in text, word
    assert webhook_events.RETRIES in text


async def test_what_a_receiver_gets_matches_the_documented_models(h: Harness, rx: Receiver) -> None:
    m = await h.merchant(BTC="1")
    await subscribe(h, m, rx)
    await sandbox.add_rule(h.rt.db, address=REFUSED, action="refuse")
    paid = await pay(h, m, "0.01")
    refused = await pay(h, m, "0.02", REFUSED)
    # and a ramp payout's: an on-ramp funded through the sandbox bank, its USDC paid
    c = await rs.customer(h, m)
    ramp = await rs.create(h, m, rs.on_ramp_body(c, "25.00"))
    r = await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={
            "amount": "25.00",
            "currency": "usd",
            "memo": ramp["instructions"]["memo"],
            "network": "wire",
        },
        headers=h.admin,
    )
    assert r.json()["outcome"] == "funded", r.text
    await h.settle()
    await pump(h)
    got = rx.delivered("/hooks")
    ramp_flow = {f"ramp_payout.{s}" for s in ("created", "funded", "processing", "succeeded")}
    assert {a.type for a in got} == set(webhook_policy.SERVICES["PAYOUT"]) | ramp_flow
    for a in got:
        event = webhook_events.MODELS[a.type].model_validate(a.body, strict=True)
        shown: Any = event.model_dump(mode="json")
        assert shown == a.body  # nothing the model leaves out or adds
        assert a.headers["webhook-id"] == a.body["id"]
    leg = (await rs.status_of(h, m, ramp["id"]))["payout_id"]  # the on-ramp's USDC payout
    statuses = {
        a.body["data"]["payout"]["id"]: a.body["data"]["payout"]["status"]
        for a in got
        if a.type.startswith("payout.")
    }
    assert statuses == {paid["id"]: "paid", refused["id"]: "failed", leg: "paid"}
    ramp_seen = [a.body["data"]["ramp_payout"] for a in got if a.type.startswith("ramp_payout.")]
    assert {r["id"] for r in ramp_seen} == {ramp["id"]}
    assert ramp_seen[-1]["status"] == "succeeded"
