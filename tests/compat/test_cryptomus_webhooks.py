"""Issue 19, must show: a payout made through the Cryptomus (or Spark) dialect with a
`url_callback` is heard there in the provider's format, on each change of its status as
the provider words it (its creation, `process`; then `paid`, or `fail` with its funds
back), each body signed so that the seed's own check, implemented apart from payoutd
(tests/compat/client.py: webhook_is_genuine), accepts it with the payout key and
refuses it with any other. A real HTTP server on 127.0.0.1 receives them; the worker
sends them (tests/webhooks/receiver.drive: its job passes, a block mined, its webhook
pass). Both databases.

Also: the PHP json_encode the signature is made over, against PHP's documented output
written out by hand; and a payout made natively with a callback_url still hears
Standard Webhooks."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from payoutd.chains import sandbox
from payoutd.dialects import cryptomus as dialect
from payoutd.store.tables import outbox
from tests.compat.client import CryptomusClient, webhook_is_genuine
from tests.compat.receiver import CallbackServer, Hook, callback_server
from tests.support import Harness, Merchant
from tests.webhooks.receiver import BTC_ADDR, drive, open_harness

BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
MOUNTS = {"cryptomus": "/compat/cryptomus/v1", "spark": "/compat/spark/v1"}
# The seed's payout webhook, field by field and in its order (issue 19, item 6)
FIELDS = [
    "type",
    "uuid",
    "order_id",
    "amount",
    "merchant_amount",
    "commission",
    "is_final",
    "status",
    "txid",
    "currency",
    "network",
    "payer_currency",
    "payer_amount",
    "sign",
]


@pytest.fixture
async def h(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    # webhooks may go to loopback, where the callback server listens
    async with open_harness(database_url, tmp_path) as harness:
        yield harness


@pytest.fixture
async def cb() -> AsyncIterator[CallbackServer]:
    async with callback_server() as server:
        yield server


async def dialect_payout(
    h: Harness, m: Merchant, cb: CallbackServer, mount: str, **fields: Any
) -> dict[str, Any]:
    client = CryptomusClient(h.client, m.id, m.key, base=MOUNTS[mount])
    body = {
        "amount": "0.01",
        "currency": "BTC",
        "address": BTC_ADDR,
        "is_subtract": True,
        "url_callback": cb.url(),
        **fields,
    }
    r = await client.payout(**body)
    assert r.status_code == 200 and r.json()["state"] == 0, r.text
    result: dict[str, Any] = r.json()["result"]
    return result


async def native(h: Harness, m: Merchant, payout_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    view: dict[str, Any] = r.json()
    return view


def assert_genuine(hooks: list[Hook], key: str, other_key: str) -> None:
    """Every body passes the seed's check with the payout key, and fails it with another
    (a check that passed whatever the key would prove nothing)."""
    for hook in hooks:
        assert hook.headers["content-type"] == "application/json"
        assert list(hook.body) == FIELDS, hook.body
        assert webhook_is_genuine(hook.raw, key), hook.raw
        assert not webhook_is_genuine(hook.raw, other_key), hook.raw


def assert_speaks_for(body: dict[str, Any], view: dict[str, Any], order_id: str) -> None:
    """The webhook tells what the native API tells of the same payout."""
    assert body["type"] == "payout"
    assert (body["uuid"], body["order_id"]) == (view["id"], order_id)
    assert (body["amount"], body["currency"], body["network"]) == (
        view["amount"],
        view["currency"],
        view["network"],
    )
    assert body["merchant_amount"] == view["debit"]["amount"]
    assert body["commission"] == view["fees"]["total"]
    assert (body["payer_currency"], body["payer_amount"]) == (
        view["payout_currency"],
        view["final_amount"],
    )


async def callback_log(h: Harness, m: Merchant, payout_id: str) -> list[dict[str, Any]]:
    """The payout's deliveries as the native API lists them, oldest first."""
    r = await h.client.get(f"/v1/payouts/{payout_id}/deliveries", headers=m.headers)
    assert r.status_code == 200, r.text
    return list(reversed(r.json()["data"]))


async def events_of(h: Harness, payout_id: str, final: str) -> list[str]:
    """The ids of the payout's creation event and of its change to `final`, in order:
    the two a provider's webhook is sent for."""
    async with h.rt.db.read() as uow:
        rows = await uow.conn.execute(
            select(outbox.c.id, outbox.c.type, outbox.c.payload)
            .where(outbox.c.subject_id == payout_id)
            .order_by(outbox.c.seq)
        )
        return [
            r.id
            for r in rows
            if r.type == "payout.created"
            or (r.type == "payout.status_changed" and r.payload["new_status"] == final)
        ]


# -- from creation to paid ----------------------------------------------------------------


@pytest.mark.parametrize("mount", list(MOUNTS))
async def test_each_status_change_to_paid_is_heard_signed(
    h: Harness, cb: CallbackServer, mount: str
) -> None:
    m = await h.merchant(BTC="1")
    other = await h.merchant("Other")  # its key must not verify m's webhooks
    created = await dialect_payout(h, m, cb, mount, order_id=f"{mount}-paid")
    await drive(h)  # step by step: each step's webhooks are sent before the next step

    view = await native(h, m, created["uuid"])
    assert view["status"] == "paid" and view["txid"]
    hooks = cb.at("/callback")
    # queued, sending and confirming are all `process`: one webhook, then `paid`
    assert [(b.body["status"], b.body["is_final"]) for b in hooks] == [
        ("process", False),
        ("paid", True),
    ]
    assert [b.body["txid"] for b in hooks] == [None, view["txid"]]
    assert_genuine(hooks, m.key, other.key)
    for hook in hooks:
        assert_speaks_for(hook.body, view, f"{mount}-paid")

    # the same deliveries, in the delivery log like every other
    log = await callback_log(h, m, created["uuid"])
    assert [(d["event_type"], d["status"], d["last_status_code"]) for d in log] == [
        ("payout.created", "delivered", 200),
        ("payout.status_changed", "delivered", 200),
    ]
    assert all(d["attempts"] == 1 for d in log), log
    assert [d["event_id"] for d in log] == await events_of(h, created["uuid"], "paid")


# -- a payout that fails -------------------------------------------------------------------


async def test_a_failed_payout_is_heard_as_fail_with_its_funds_back(
    h: Harness, cb: CallbackServer
) -> None:
    m = await h.merchant(BTC="1")
    other = await h.merchant("Other")
    # the sandbox chain's node refuses the broadcast: nothing is sent, the payout fails
    await sandbox.add_rule(h.rt.db, address=BTC_ADDR_2, action="reject")
    created = await dialect_payout(h, m, cb, "cryptomus", order_id="fails", address=BTC_ADDR_2)
    assert (await h.balances(m))["BTC"]["held"] != "0.00000000"
    await drive(h)

    view = await native(h, m, created["uuid"])
    assert view["status"] == "failed"
    hooks = cb.at("/callback")
    assert [(b.body["status"], b.body["is_final"]) for b in hooks] == [
        ("process", False),
        ("fail", True),
    ]
    assert_genuine(hooks, m.key, other.key)
    assert_speaks_for(hooks[-1].body, view, "fails")
    assert hooks[-1].body["txid"] == view["txid"]
    assert (await h.balances(m))["BTC"] == {
        "currency": "BTC",
        "available": "1.00000000",
        "held": "0.00000000",
        "balance": "1.00000000",
    }
    log = await callback_log(h, m, created["uuid"])
    assert [(d["event_type"], d["status"]) for d in log] == [
        ("payout.created", "delivered"),
        ("payout.status_changed", "delivered"),
    ]
    assert [d["event_id"] for d in log] == await events_of(h, created["uuid"], "failed")
    check = await h.ledger_check()
    assert check["ok"], check["problems"]


# -- a native payout's callback_url: unchanged ---------------------------------------------


async def test_a_native_payout_with_a_callback_url_still_hears_standard_webhooks(
    h: Harness, cb: CallbackServer
) -> None:
    m = await h.merchant(BTC="1")
    secret = (await h.client.post("/v1/webhook-secret", headers=m.headers)).json()["secret"]
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={
            "amount": "0.01",
            "currency": "BTC",
            "address": BTC_ADDR,
            "callback_url": cb.url("/native"),
        },
    )
    assert r.status_code == 201, r.text
    # and, beside it, a dialect payout of the same merchant: each is heard its own way
    await dialect_payout(h, m, cb, "cryptomus", order_id="beside", address=BTC_ADDR_2)
    await drive(h)

    natively = cb.at("/native")
    assert [b.body["data"]["payout"]["status"] for b in natively] == [
        "queued",
        "sending",
        "confirming",
        "paid",
        "paid",
    ]
    for hook in natively:
        Webhook(secret).verify(hook.raw, hook.headers)  # raises when not genuine
        assert "sign" not in hook.body
    assert [b.body["status"] for b in cb.at("/callback")] == ["process", "paid"]
    assert all("webhook-signature" not in b.headers for b in cb.at("/callback"))


# -- the JSON the sign is made over ----------------------------------------------------------

# What PHP's json_encode($value, JSON_UNESCAPED_UNICODE) writes, from PHP's manual: compact;
# "/" escaped as "\/" (JSON_UNESCAPED_SLASHES not given); non-ASCII kept as UTF-8, except
# U+2028 and U+2029, escaped since PHP 7.1 unless JSON_UNESCAPED_LINE_TERMINATORS is also
# given; control characters as \b \f \n \r \t or \u00xx in lower-case hex; <, >, &, ' and
# DEL as they are (JSON_HEX_* not given). Written by hand, not computed.
PHP_OUTPUTS: list[tuple[Any, str]] = [
    (
        {"a": "b", "n": 1, "t": True, "f": False, "z": None},
        '{"a":"b","n":1,"t":true,"f":false,"z":null}',
    ),
    ({"url": "https://x.example/cb"}, '{"url":"https:\\/\\/x.example\\/cb"}'),
    ({"name": "café €"}, '{"name":"café €"}'),
    ("😀", '"😀"'),
    ("a\u2028b\u2029c", '"a\\u2028b\\u2029c"'),
    ('say "hi" \\ bye', '"say \\"hi\\" \\\\ bye"'),
    ("\b\f\n\r\t\x01\x1f", '"\\b\\f\\n\\r\\t\\u0001\\u001f"'),
    ("<a href='x'>&</a>\x7f", "\"<a href='x'>&<\\/a>\x7f\""),
    (["a/b", {"x": []}], '["a\\/b",{"x":[]}]'),
]


@pytest.mark.parametrize(("value", "php"), PHP_OUTPUTS)
def test_php_json_writes_what_php_writes(value: Any, php: str) -> None:
    assert dialect.php_json(value) == php


def test_a_slash_and_non_ascii_are_signed_the_php_way() -> None:
    """No value of a real webhook holds a "/" or a non-ASCII character (the next test):
    so the rule is shown on a body made up for it, signed by payoutd and checked by the
    independent client, and the sign over the unescaped slash is not the one sent."""
    view = {
        "id": "0b0c3d4e-1111-4222-8333-944455556666",
        "order_id": "a/b-é",
        "amount": "1.5",
        "currency": "USDT",
        "network": "TRON",
        "status": "paid",
        "txid": "ab/cd",
        "payout_currency": "USDT",
        "final_amount": "1.5",
        "debit": {"amount": "2.5", "currency": "USDT"},
        "fees": {"total": "1"},
    }
    key = "pk_test_payout-key"
    raw = dialect.signed_webhook(view, key).encode()
    assert b'"order_id":"a\\/b-\xc3\xa9"' in raw  # "\/" and é in UTF-8, as PHP writes them
    assert webhook_is_genuine(raw, key)
    assert not webhook_is_genuine(raw, key + "x")
    unsigned = {k: v for k, v in json.loads(raw).items() if k != "sign"}
    plain = json.dumps(unsigned, separators=(",", ":"), ensure_ascii=False).encode()
    wrong = hashlib.md5(base64.b64encode(plain) + key.encode()).hexdigest()
    assert json.loads(raw)["sign"] != wrong


async def test_no_webhook_value_can_hold_a_slash_or_non_ascii(
    h: Harness, cb: CallbackServer
) -> None:
    """order_id, the only value of a webhook the merchant writes, is alpha_dash; the
    others come from payoutd's catalogue (codes, amounts) and the chain (a hex txid)."""
    m = await h.merchant(BTC="1")
    client = CryptomusClient(h.client, m.id, m.key)
    for order_id in ("a/b", "café", "a b"):
        r = await client.payout(
            amount="0.01",
            currency="BTC",
            address=BTC_ADDR,
            is_subtract=True,
            order_id=order_id,
            url_callback=cb.url(),
        )
        assert r.status_code == 422, (order_id, r.text)
        assert r.json() == {"state": 1, "errors": {"order_id": ["validation.alpha_dash"]}}
    assert (await h.balances(m))["BTC"]["held"] == "0.00000000"
