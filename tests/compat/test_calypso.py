"""Calypso's dialect driven by a client written from its documentation
(tests/compat/calypso_client.py): payouts created and read by id and idempotencyKey, a
scheduled executionDate, the signature and its 3-minute window, webhook subscriptions
signed with their own key pair, and one payout for 100 concurrent creates with one
idempotencyKey (PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from payoutd.chains import sandbox
from payoutd.dialects import calypso as words
from payoutd.domain.assets import ASSETS
from tests.compat.calypso_client import CalypsoClient, HookReceiver, sign
from tests.support import Harness, Merchant
from tests.webhooks.receiver import drive, open_harness

ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
REFUSED_ADDR = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"  # a sandbox `refuse` rule names it


@pytest.fixture
async def h(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    # webhooks may reach the receiver on loopback
    async with open_harness(database_url, tmp_path) as harness:
        yield harness


def client(h: Harness, m: Merchant) -> CalypsoClient:
    # the client reads the engine's clock, which the tests move
    return CalypsoClient(
        h.client, m.id, m.key, now_ms=lambda: int(h.clock.now().timestamp() * 1000)
    )


async def native(h: Harness, m: Merchant, payout_id: str) -> dict[str, Any]:
    r = await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def native_list(h: Harness, m: Merchant) -> list[dict[str, Any]]:
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()["data"]
    return found


async def created(c: CalypsoClient, **payload: Any) -> dict[str, Any]:
    r = await c.create(**payload)
    assert r.status_code == 200, r.text
    shown: dict[str, Any] = r.json()
    return shown


def test_every_calypso_currency_is_an_asset_payoutd_pays_out() -> None:
    assert set(words.CURRENCIES) == {
        *("BTC", "ETH", "USDT", "USDC", "DAI", "FRAX", "BUSD_ETH", "TRX", "USDT_TRX"),
        *("BNB", "BUSD", "MATIC", "USDT_MATIC", "XDG"),
    }
    for code, asset in words.CURRENCIES.items():
        assert asset in ASSETS, code
    assert words.CURRENCIES["MATIC"] == ("POL", "POLYGON")
    assert words.CURRENCIES["BUSD_ETH"] == ("BUSD", "ETH")
    assert words.CURRENCIES["XDG"] == ("DOGE", "DOGE")


async def test_create_then_get_by_id_and_by_idempotency_key(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = client(h, m)
    key = str(uuid.uuid4())
    shown = await created(
        c,
        depositAddress=ADDR,
        amount="0.01",
        currency="BTC",
        comment="dividend",
        idempotencyKey=key,
    )
    mine = await native(h, m, shown["id"])
    assert set(shown) == {
        *("id", "account", "depositAddress", "amount", "currency", "calypsoFee"),
        *("calypsoFeePercentage", "state", "createdDate", "transactionHash", "comment"),
        *("executionDate", "idempotencyKey", "errors", "cancellation"),
    }
    assert (shown["account"], shown["depositAddress"], shown["currency"]) == (m.id, ADDR, "BTC")
    assert Decimal(shown["amount"]) == Decimal("0.01")
    assert (shown["comment"], shown["idempotencyKey"], shown["state"]) == (
        "dividend",
        key,
        "IN_PROGRESS",
    )
    # the service fee, and the percent it was worked out with
    assert shown["calypsoFee"] == mine["fees"]["service"]
    assert Decimal(shown["calypsoFeePercentage"]) == h.rt.settings.service_fee_percent
    assert mine["order_id"] == key and mine["status"] == "queued"

    by_id = (await c.payout(id=shown["id"])).json()
    by_key = (await c.payout(idempotencyKey=key)).json()
    assert by_id == by_key == shown

    # a repeated idempotencyKey answers the first payout, even with another amount
    again = await created(c, depositAddress=ADDR, amount="0.02", currency="BTC", idempotencyKey=key)
    assert again["id"] == shown["id"] and Decimal(again["amount"]) == Decimal("0.01")
    assert [p["id"] for p in await native_list(h, m)] == [shown["id"]]

    await h.settle()
    done = (await c.payout(id=shown["id"])).json()
    assert done["state"] == "COMPLETED"
    txid = (await native(h, m, shown["id"]))["txid"]
    assert txid is not None and done["transactionHash"] == txid
    assert (await c.payout(id=str(uuid.uuid4()))).status_code == 404
    report = await h.ledger_check()
    assert report["ok"] is True, report["problems"]


async def test_a_currency_code_names_its_network(h: Harness) -> None:
    m = await h.merchant(USDT="100")
    c = client(h, m)
    tron = await created(
        c, depositAddress="TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t", amount="5", currency="USDT_TRX"
    )
    eth = await created(
        c, depositAddress="0xdAC17F958D2ee523a2206206994597C13D831ec7", amount="5", currency="USDT"
    )
    assert (tron["currency"], eth["currency"]) == ("USDT_TRX", "USDT")
    assert (await native(h, m, tron["id"]))["network"] == "TRON"
    assert (await native(h, m, eth["id"]))["network"] == "ETH"
    r = await c.create(depositAddress=ADDR, amount="1", currency="LTC")
    assert r.status_code == 422 and r.json()["error"]["code"] == "currency_not_found"


async def test_an_execution_date_in_the_future_is_honoured(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = client(h, m)
    when = (h.clock.now() + timedelta(hours=1)).replace(microsecond=0)
    shown = await created(
        c, depositAddress=ADDR, amount="0.01", currency="BTC", executionDate=when.isoformat()
    )
    assert shown["state"] == "IN_PROGRESS"
    assert datetime.fromisoformat(shown["executionDate"]) == when
    assert (await native(h, m, shown["id"]))["status"] == "scheduled"

    await h.settle()  # not yet: nothing is sent before executionDate
    early = await native(h, m, shown["id"])
    assert (early["status"], early["txid"]) == ("scheduled", None)

    h.clock.advance(3601)
    await h.settle()
    done = (await c.payout(id=shown["id"])).json()
    assert done["state"] == "COMPLETED" and done["transactionHash"]


async def test_a_timestamp_four_minutes_old_is_refused(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = client(h, m)
    now = c.now_ms()
    payload = {"depositAddress": ADDR, "amount": "0.01", "currency": "BTC"}
    r = await c.call("payout/create", payload, timestamp=now - 4 * 60 * 1000)
    assert r.status_code == 401 and r.json()["error"]["code"] == "signature_invalid", r.text
    r = await c.call("payout/create", payload, timestamp=now + 4 * 60 * 1000)
    assert r.status_code == 401, r.text
    assert await native_list(h, m) == []
    # inside the window the same request is taken
    r = await c.call("payout/create", payload, timestamp=now - 2 * 60 * 1000)
    assert r.status_code == 200, r.text


async def test_a_body_altered_after_signing_is_refused(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    c = client(h, m)
    body = c.envelope({"depositAddress": ADDR, "amount": "0.01", "currency": "BTC"})
    altered = body.replace(b'"0.01"', b'"0.09"')
    assert altered != body
    r = await c.send("payout/create", altered, signed_body=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    # the same JSON re-spaced is other bytes: the signature is over the bytes sent
    r = await c.send("payout/create", body.replace(b",", b", "), signed_body=body)
    assert r.status_code == 401, r.text
    # signed by another merchant's key, or naming another account
    other = client(h, await h.merchant("Other"))
    r = await other.send("payout/create", body)  # body names m's account
    assert r.status_code == 401, r.text
    assert await native_list(h, m) == []
    r = await c.send("payout/create", body)
    assert r.status_code == 200, r.text


async def test_subscriptions_receive_status_changes_and_validation_errors_signed(
    h: Harness,
) -> None:
    m = await h.merchant(BTC="1")
    c = client(h, m)
    rx = HookReceiver()
    with rx.running():
        r = await c.subscribe(rx.url(), notificationServiceTypes=["PAYOUT"])
        assert r.status_code == 200, r.text
        everything = r.json()
        assert everything["notificationEventTypes"] == [
            "PAYOUT_CHANGE_STATUS",
            "PAYOUT_VALIDATION_ERROR",
        ]
        r = await c.subscribe(rx.url("/errors"), notificationEventTypes=["PAYOUT_VALIDATION_ERROR"])
        errors_only = r.json()
        assert everything["key"] != errors_only["key"]
        assert everything["secret"] != errors_only["secret"]
        rx.trust(everything["key"], everything["secret"])
        rx.trust(errors_only["key"], errors_only["secret"])
        listed = (await c.subscriptions()).json()["subscriptions"]
        assert {s["id"] for s in listed} == {everything["id"], errors_only["id"]}
        assert all("secret" not in s for s in listed)  # shown once, at creation

        await sandbox.add_rule(h.rt.db, address=REFUSED_ADDR, action="refuse")
        fine = await created(c, depositAddress=ADDR, amount="0.01", currency="BTC")
        refused = await created(c, depositAddress=REFUSED_ADDR, amount="0.02", currency="BTC")
        await drive(h)

        hooks = rx.received()
        assert hooks and all(hook.genuine for hook in hooks)

        def statuses(key: str, payout_id: str) -> list[str]:
            return [
                hook.body["payload"]["payoutStatus"]
                for hook in rx.received(words.PAYOUT_CHANGE_STATUS)
                if hook.key == key and hook.body["payload"]["id"] == payout_id
            ]

        assert statuses(everything["key"], fine["id"]) == ["IN_PROGRESS", "COMPLETED"]
        assert statuses(everything["key"], refused["id"]) == ["IN_PROGRESS", "FAILED"]
        [error, error_too] = rx.received(words.PAYOUT_VALIDATION_ERROR)
        assert {error.key, error_too.key} == {everything["key"], errors_only["key"]}
        assert error.body["payload"]["id"] == refused["id"]
        assert error.body["account"] == m.id
        assert REFUSED_ADDR in error.body["payload"]["errors"][0]["message"]
        # the errors-only subscription hears the validation error and nothing else
        assert len([hook for hook in hooks if hook.key == errors_only["key"]]) == 1
        # Sign is the subscription's own: the other subscription's secret does not make it
        first = rx.received(words.PAYOUT_CHANGE_STATUS)[0]
        assert first.key == everything["key"]
        assert sign(first.raw, everything["secret"]) == first.sign
        assert sign(first.raw, errors_only["secret"]) != first.sign
        assert (await c.payout(id=refused["id"])).json()["state"] == "FAILED"

        # the deliveries are in the native delivery log, and the native API lists the
        # subscriptions as endpoints
        r = await h.client.get(
            f"/v1/webhook-endpoints/{everything['id']}/deliveries", headers=m.headers
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["data"]) == len([k for k in hooks if k.key == everything["key"]])

        r = await c.unsubscribe(errors_only["id"])
        assert r.status_code == 200, r.text
        listed = (await c.subscriptions()).json()["subscriptions"]
        assert [s["id"] for s in listed] == [everything["id"]]
        assert (await c.unsubscribe(errors_only["id"])).status_code == 404


@pytest.mark.postgres
async def test_100_concurrent_creates_with_one_idempotency_key_make_one_payout(
    pg_url: str, tmp_path: Path
) -> None:
    async with open_harness(pg_url, tmp_path) as h:
        m = await h.merchant(BTC="1")
        c = client(h, m)
        key = str(uuid.uuid4())
        payload = {"depositAddress": ADDR, "amount": "0.001", "currency": "BTC"}
        answers = await asyncio.gather(
            *(c.create(**payload, idempotencyKey=key) for _ in range(100))
        )
        assert {r.status_code for r in answers} == {200}, {r.text for r in answers}
        ids = {r.json()["id"] for r in answers}
        assert len(ids) == 1
        assert [p["id"] for p in await native_list(h, m)] == list(ids)
        held = (await h.balances(m))["BTC"]
        # one payout's debit, not a hundred
        debit = Decimal((await native(h, m, ids.pop()))["debit"]["amount"])
        assert Decimal(held["available"]) == Decimal(1) - debit
        assert (await h.ledger_check())["ok"] is True


async def test_the_openapi_document_shows_the_mount(h: Harness) -> None:
    document = (await h.client.get("/openapi.json")).json()
    mounted = {
        path: item["post"]
        for path, item in document["paths"].items()
        if path.startswith("/compat/calypso/api/v1/")
    }
    assert set(mounted) == {
        f"/compat/calypso/api/v1/{call}"
        for call in (
            "payout/create",
            "payout",
            "subscription/webhook/create",
            "subscription/webhook/list",
            "subscription/webhook/delete",
        )
    }
    for op in mounted.values():
        assert op["tags"] == ["Calypso dialect"]
        assert {p["name"] for p in op["parameters"]} == {"Key", "Sign"}
        envelope = op["requestBody"]["content"]["application/json"]["schema"]
        assert envelope["required"] == ["account", "timestamp", "payload"]
    listing = document["paths"]["/v1/payouts"]["get"]
    assert "idempotency_key" in {p["name"] for p in listing["parameters"]}
