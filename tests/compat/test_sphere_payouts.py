"""Sphere's payouts, driven by the client written from the seed
(tests/compat/sphere_client.py) on SQLite and PostgreSQL: create, retrieve and cancel in
Sphere's envelope, ids and payout object (instructions.resource the funding bankAccount),
the error envelope for an unknown payout, a funded payout refused cancellation, the
field limits, and webhooks in Sphere's format signed with HMAC-SHA256."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

from sqlalchemy import select

from payoutd.dialects.sphere_payouts import EndpointFormat
from payoutd.services import parties
from payoutd.store.tables import webhook_deliveries
from tests.compat.sphere_client import BANK_ACCOUNT_FIELDS, IDS, TS, Answer, SphereClient
from tests.support import Harness, Merchant

# the seed's payout object, in its order (the properties it documents)
PAYOUT_FIELDS = [
    "id", "number", "type", "status", "thirdParty", "thirdPartyMessage", "meta", "lookupKey",
    "amount", "finalAmount", "source", "funding", "destination", "instructions", "mock",
    "customer", "updated", "created",
]  # fmt: skip
INSTRUCTION_FIELDS = ["memo", "imad", "omad", "human", "machine", "resource"]
SOL_ADDR = "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"  # the seed's


def _failure(a: Answer, status: int, error: str) -> None:
    assert (a.status, a.ok, a.envelope["error"]) == (status, False, error), a.envelope
    assert a.data is None


async def _parties(h: Harness, m: Merchant, c: SphereClient) -> dict[str, str]:
    customer = (await c.create_customer(type="individual", name="Ada Lovelace")).data["customer"]
    account = await c.create_bank_account(
        customer=customer["id"],
        currency="usd",
        accountHolderName="Ada Lovelace",
        bankName="Lead Bank",
        accountNumber="2223335771",
        routingNumber="101206101",
    )
    wallet = await c.create_wallet(
        customer=customer["id"], network="sol", currency="usdc", address=SOL_ADDR
    )
    # the operator approves the customer's KYC
    async with h.rt.db.unit() as uow:
        await parties.set_kyc(uow, h.rt.ctx, customer["id"], "approved", actor="tests")
    return {
        "customer": customer["id"],
        "account": account.data["bankAccount"]["id"],
        "wallet": wallet.data["wallet"]["id"],
    }


def _on_ramp(ids: dict[str, str], amount: str = "10.00", **extra: Any) -> dict[str, Any]:
    return {
        "amount": amount,
        "customer": ids["customer"],
        "source": {"id": ids["account"], "currency": "usd", "network": "wire"},
        "destination": {"id": ids["wallet"], "currency": "usdc", "network": "sol"},
        **extra,
    }


async def test_create_retrieve_cancel_in_spheres_words(h: Harness) -> None:
    m = await h.merchant()
    c = SphereClient(h.client, m.key)
    ids = await _parties(h, m, c)
    a = await c.post("payout", _on_ramp(ids))
    assert (a.status, a.ok) == (200, True), a.envelope
    payout = a.data["payout"]
    assert list(payout) == PAYOUT_FIELDS
    assert IDS["payout"].fullmatch(payout["id"])
    assert (payout["number"], payout["type"], payout["status"]) == (1, "onRamp", "pending")
    assert (payout["amount"], payout["finalAmount"], payout["lookupKey"]) == ("10.00", None, None)
    assert payout["source"] == {"id": ids["account"], "currency": "usd", "network": "wire"}
    assert payout["destination"] == {"id": ids["wallet"], "currency": "usdc", "network": "sol"}
    assert payout["funding"]["currency"] == "usd" and payout["funding"]["network"] == "wire"
    assert IDS["bankAccount"].fullmatch(payout["funding"]["id"])
    assert payout["customer"] == ids["customer"] and payout["mock"] is False
    assert TS.fullmatch(payout["created"]) and TS.fullmatch(payout["updated"])
    instructions = payout["instructions"]
    assert list(instructions) == INSTRUCTION_FIELDS
    assert re.fullmatch(r"[A-Z2-9]{20}", instructions["memo"])
    assert (instructions["imad"], instructions["omad"], instructions["machine"]) == (
        None,
        None,
        "",
    )
    assert instructions["human"] == (
        f"Send 10 usd via the wire network from {ids['account']} with an account number of "
        f"********5771 to {payout['funding']['id']} with an account number of ********0001. "
        f"After sending usd, the payout will be funded and 10 of usdc will be on-ramped to "
        f"{ids['wallet']} with an address of {SOL_ADDR} on the sol network."
    )
    resource = instructions["resource"]
    assert list(resource) == BANK_ACCOUNT_FIELDS
    assert resource["id"] == payout["funding"]["id"] and resource["last4"] == "0001"

    got = await c.get("payout", payout["id"])
    assert got.ok and got.data["payout"] == payout

    second = (await c.post("payout", _on_ramp(ids, "12.50", lookupKey="k"))).data["payout"]
    assert (second["number"], second["lookupKey"]) == (2, "k")

    cancelled = await c.post(f"payout/cancel/{payout['id']}", {})
    assert cancelled.ok and cancelled.data["payout"]["status"] == "cancelled"
    again = await c.get("payout", payout["id"])
    assert again.data["payout"]["status"] == "cancelled"

    # the error envelope for an unknown payout, and for what is no payout id at all
    _failure(await c.get("payout", "payout_" + "0" * 32), 404, "not_found")
    _failure(await c.get("payout", "wallet_123"), 404, "not_found")
    _failure(await c.post("payout/cancel/payout_" + "f" * 32, {}), 404, "not_found")
    # another merchant's payout is unknown to it
    other = SphereClient(h.client, (await h.merchant("Other")).key)
    _failure(await other.get("payout", second["id"]), 404, "not_found")


async def test_a_funded_payout_is_not_cancelled(h: Harness) -> None:
    m = await h.merchant()
    c = SphereClient(h.client, m.key)
    ids = await _parties(h, m, c)
    payout = (await c.post("payout", _on_ramp(ids))).data["payout"]
    r = await h.client.post(
        "/v1/sandbox/bank/transfers",
        json={
            "amount": "10.00",
            "currency": "usd",
            "memo": payout["instructions"]["memo"],
            "network": "wire",
        },
        headers=h.admin,
    )
    assert r.json()["outcome"] == "funded"
    assert (await c.get("payout", payout["id"])).data["payout"]["status"] == "funded"
    refused = await c.post(f"payout/cancel/{payout['id']}", {})
    _failure(refused, 409, "payout_not_cancellable")
    assert (await c.get("payout", payout["id"])).data["payout"]["status"] == "funded"
    assert (await h.ledger_check())["ok"]


async def test_field_limits_in_spheres_words(h: Harness) -> None:
    m = await h.merchant()
    c = SphereClient(h.client, m.key)
    ids = await _parties(h, m, c)
    ok = await c.post(
        "payout",
        _on_ramp(
            ids,
            thirdParty=True,
            thirdPartyMessage="x" * 500,
            wireMessage="\n".join(["w" * 35] * 3),
        ),
    )
    assert ok.ok and ok.data["payout"]["thirdPartyMessage"] == "x" * 500
    for extra, field in (
        ({"thirdPartyMessage": "x" * 501}, "thirdPartyMessage"),
        ({"wireMessage": "a\nb\nc\nd"}, "wireMessage"),
        ({"wireMessage": "w" * 36}, "wireMessage"),
    ):
        a = await c.post("payout", _on_ramp(ids, **extra))
        _failure(a, 422, "validation_error")
        assert a.envelope["message"].startswith(f"{field}: ")
    # an unapproved customer's payout moves no money: refused
    customer = (await c.create_customer(type="business", name="Acme Ltd")).data["customer"]
    a = await c.post("payout", {**_on_ramp(ids), "customer": customer["id"]})
    _failure(a, 422, "customer_not_approved")


async def test_webhooks_in_spheres_format_signed_with_hmac_sha256(h: Harness) -> None:
    m = await h.merchant()
    c = SphereClient(h.client, m.key)
    ids = await _parties(h, m, c)
    hook = await c.post("webhook", {"url": "https://hooks.example.com/sphere"})
    assert hook.ok, hook.envelope
    secret = hook.data["webhook"]["secret"]
    payout = (await c.post("payout", _on_ramp(ids))).data["payout"]
    await c.post(f"payout/cancel/{payout['id']}", {})
    from payoutd.worker.jobs import dispatch_events

    await dispatch_events(h.rt.db, h.rt.ctx)
    async with h.rt.db.read() as uow:
        rows = (
            await uow.conn.execute(
                select(webhook_deliveries.c.event_type, webhook_deliveries.c.event_id).where(
                    webhook_deliveries.c.endpoint_id == hook.data["webhook"]["id"]
                )
            )
        ).all()
        assert sorted(r[0] for r in rows) == ["ramp_payout.cancelled", "ramp_payout.created"]
        [cancelled_id] = [r[1] for r in rows if r[0] == "ramp_payout.cancelled"]
        event = (await uow.webhooks.events([cancelled_id]))[cancelled_id]

    # what the delivery carries, and how a receiver checks it
    headers, body = EndpointFormat().render(event, hook.data["webhook"]["id"], secret)
    expected = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
    assert headers["signature"] == expected
    sent = json.loads(body)
    assert sent["type"] == "payout.cancelled"
    assert sent["data"]["payout"]["id"] == payout["id"]
    assert sent["data"]["payout"]["status"] == "cancelled"
    assert TS.fullmatch(sent["created"])


async def test_the_openapi_document_has_no_dangling_reference(h: Harness) -> None:
    """Sphere's request bodies are given to the document whole (pydantic's schema of a
    model with nested models): each `$ref` of Sphere's operations resolves in the served
    document."""
    r = await h.client.get("/openapi.json")
    assert r.status_code == 200, r.text
    document = r.json()

    def refs(node: Any) -> list[str]:
        if isinstance(node, list):
            return [ref for item in node for ref in refs(item)]
        if not isinstance(node, dict):
            return []
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [ref for value in node.values() for ref in refs(value)]

    def resolves(ref: str) -> bool:
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            if not isinstance(node, dict) or part not in node:
                return False
            node = node[part]
        return True

    sphere = [op for path, op in document["paths"].items() if path.startswith("/compat/sphere/")]
    assert sphere
    dangling = sorted({ref for ref in refs(sphere) if not resolves(ref)})
    assert dangling == []
