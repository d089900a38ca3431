"""Access and safety through the native API, on SQLite and PostgreSQL: the authorization
matrix generated from the OpenAPI document, the payout-key cooldown, TOTP for payout
keys (wrong, expired and replayed codes), the audit log, request signing, IP
allowlists, per-key rate limits and the address allowlist."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from fastapi import FastAPI

from payoutd.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from payoutd.worker import jobs
from tests import support
from tests.services import ramp_support
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BTC_ADDR_2 = "1AGNa15ZQXAZUgFiqJ2i7Z2DPU2J6hW62i"
ETH_ADDR = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
BTC_PAYOUT = {"amount": "0.01", "currency": "BTC", "address": BTC_ADDR}
QUOTE = {"amount": "0.01", "currency": "BTC"}
COOLDOWN = timedelta(hours=24)

# Operations the OpenAPI document may list that take no key: not the API's own, or the
# liveness answer (which touches no data).
NOT_THE_API = {
    "/healthz",
    "/metrics",
    "/docs",
    "/docs/oauth2-redirect",
    "/openapi.json",
    "/redoc",
    "/v1/ping",
}
# Operator operations outside /v1/admin
OPERATOR_OPERATIONS = {
    ("POST", "/v1/sandbox/rules"),
    ("POST", "/v1/sandbox/deposits"),
    # the sandbox bank stands for a customer's bank and the operator's
    ("POST", "/v1/sandbox/bank/transfers"),
    ("POST", "/v1/sandbox/bank/payments/{payment_id}/return"),
}
# A POST that only reads: pricing creates, holds and stores nothing
READ_ONLY_POSTS = {("POST", "/v1/quotes")}
# Reads that show a secret: a read-only key may not learn a signing secret
SECRET_READS = {("GET", "/v1/webhook-secret")}
# Bodies for operations a merchant calls on an object of its own (when `{}` will not do)
BODIES: dict[tuple[str, str], Any] = {}
# Required query parameters of reads
QUERIES: dict[tuple[str, str], dict[str, str]] = {("GET", "/v1/limits"): {"currency": "BTC"}}


def error(r: Any) -> str:
    code: str = r.json()["error"]["code"]
    return code


def dialect_refusal(path: str, r: Any) -> bool:
    """A dialect's 401 in its provider's shape: Cryptomus and Spark answer `{"state": 1}`;
    Bitclear documents no error format, so payoutd's own, with a Basic challenge."""
    if path.startswith("/compat/bitclear/"):
        challenge = r.headers.get("www-authenticate", "").lower()
        return error(r) == "unauthorized" and challenge.startswith("basic")
    if path.startswith("/compat/calypso/"):
        # Calypso documents no error format either: payoutd's own
        return error(r) in ("unauthorized", "signature_invalid")
    if path.startswith("/compat/sphere/"):
        return sphere_refusal(r, "unauthorized")
    return bool(r.json().get("state") == 1)


def sphere_refusal(r: Any, code: str) -> bool:
    """Sphere's envelope refusing with `code` (Sphere's keys are the native Bearer keys)."""
    body = r.json()
    return bool(
        body.get("ok") is False
        and body.get("error") == code
        and body["statusCode"] == r.status_code
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def code_at(secret: str, at: datetime, steps: int = 0) -> str:
    """The TOTP code of the time step `steps` away from the one `at` falls in."""
    return pyotp.TOTP(secret).at(at, counter_offset=steps)


async def enrol(h: Harness, m: Merchant) -> str:
    """As the operator does: a merchant's own key cannot (test_access_hardening)."""
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert r.status_code == 201, r.text
    secret: str = r.json()["secret"]
    return secret


async def new_key(h: Harness, m: Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/api-keys", headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    key: dict[str, Any] = r.json()
    return key


async def read_key(h: Harness, m: Merchant, **more: Any) -> dict[str, Any]:
    return await new_key(h, m, scopes=["read"], **more)


async def payout_key(h: Harness, m: Merchant, secret: str) -> dict[str, Any]:
    return await new_key(h, m, scopes=["read", "payouts"], totp_code=code_at(secret, h.clock.now()))


async def create(
    h: Harness,
    m: Merchant,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=headers or m.headers, json=body or BTC_PAYOUT)
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def audit(h: Harness, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = await h.client.get("/v1/audit-log", headers=headers)
    assert r.status_code == 200, r.text
    entries: list[dict[str, Any]] = r.json()["data"]
    return entries


# -- the authorization matrix, from the OpenAPI document ----------------------------


async def operations(h: Harness) -> list[tuple[str, str]]:
    r = await h.client.get("/openapi.json")
    assert r.status_code == 200
    found = [
        (method.upper(), path)
        for path, item in r.json()["paths"].items()
        if path not in NOT_THE_API
        for method in item
        if method in ("get", "post", "put", "patch", "delete")
    ]
    assert len(found) >= 30, found
    return found


def is_operator(method: str, path: str) -> bool:
    return path.startswith("/v1/admin/") or (method, path) in OPERATOR_OPERATIONS


def params(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


async def objects_of(h: Harness, a: Merchant) -> dict[str, str]:
    """One real object of `a` for every kind of path id."""
    endpoint = await h.client.post(
        "/v1/webhook-endpoints", headers=a.headers, json={"url": "https://a.example/hooks"}
    )
    assert endpoint.status_code == 201, endpoint.text
    endpoint_id = endpoint.json()["id"]
    paid = await create(h, a)
    await h.settle()
    r = await h.client.get(f"/v1/payouts/{paid['id']}", headers=a.headers)
    assert r.json()["status"] == "paid", r.text
    assert await jobs.dispatch_events(h.rt.db, h.rt.ctx) > 0
    batch_id = r.json()["batch_id"]
    key = await read_key(h, a, name="a's reader")
    r = await h.client.post(
        "/v1/addresses", headers=a.headers, json={"network": "BTC", "address": BTC_ADDR_2}
    )
    assert r.status_code == 201, r.text
    address_id = r.json()["id"]
    r = await h.client.get(f"/v1/webhook-endpoints/{endpoint_id}/deliveries", headers=a.headers)
    deliveries = r.json()["data"]
    parties = await _parties_of(h, a)
    r = await h.client.post(
        "/v1/payout-imports",
        content=f"amount,currency,address\n0.001,BTC,{BTC_ADDR}\n".encode(),
        headers={**a.headers, "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    return {
        **parties,
        "import_id": r.json()["id"],
        "payout_id": (await create(h, a))["id"],  # queued: cancel would still work
        "batch_id": batch_id,
        "endpoint_id": endpoint_id,
        "delivery_id": deliveries[0]["id"],
        "key_id": key["id"],
        "address_id": address_id,
        "merchant_id": a.id,
        "currency": "BTC",
        **await ramp_support.ramp_objects(h, a),
    }


async def _parties_of(h: Harness, a: Merchant) -> dict[str, str]:
    """A customer of `a` with a bank account and a wallet (ramp payouts)."""
    made: dict[str, str] = {}
    for name, path, body in (
        ("customer_id", "/v1/customers", {"type": "individual", "name": "Ada"}),
        (
            "account_id",
            "/v1/bank-accounts",
            {
                "currency": "usd",
                "holder_name": "Ada",
                "routing_number": "101206101",
                "account_number": "1000682035",
            },
        ),
        (
            "wallet_id",
            "/v1/wallets",
            {"network": "base", "currency": "usdc", "address": ETH_ADDR},
        ),
    ):
        if name != "customer_id":
            body = {**body, "customer": made["customer_id"]}
        r = await h.client.post(path, headers=a.headers, json=body)
        assert r.status_code == 201, r.text
        made[name] = r.json()["id"]
    return made


async def state_of(h: Harness, a: Merchant, ids: dict[str, str]) -> list[Any]:
    """Everything of `a`'s that another merchant's calls could change."""
    paths = [
        f"/v1/payouts/{ids['payout_id']}",
        f"/v1/batches/{ids['batch_id']}",
        f"/v1/webhook-endpoints/{ids['endpoint_id']}",
        f"/v1/webhook-endpoints/{ids['endpoint_id']}/deliveries",
        "/v1/api-keys",
        "/v1/addresses",
        "/v1/balances",
        "/v1/payouts",
        "/v1/webhook-endpoints",
        "/v1/customers",
        "/v1/bank-accounts",
        "/v1/wallets",
    ]
    state = []
    for path in paths:
        r = await h.client.get(path, headers=a.headers)
        assert r.status_code == 200, (path, r.text)
        body = r.json()
        if path == "/v1/api-keys":  # the matrix itself uses a's keys
            body = [{k: v for k, v in key.items() if k != "last_used_at"} for key in body["data"]]
        state.append(body)
    return state


async def test_authorization_matrix_from_the_openapi_document(h: Harness) -> None:
    ops = await operations(h)
    a = await h.merchant("A", BTC="1")
    b = await h.merchant("B", BTC="1")
    ids = await objects_of(h, a)
    reader = bearer((await read_key(h, a))["key"])
    before = await state_of(h, a, ids)

    def url(path: str) -> str:
        missing = [p for p in params(path) if p not in ids]
        assert not missing, f"{path}: give the matrix a real object for {missing}"
        if path.startswith("/compat/sphere/"):
            # Sphere's payouts are ramp payouts, named `payout_` + the id's 32 hex digits
            sphere_id = "payout_" + ids["ramp_id"].replace("-", "")
            return path.format(**{**ids, "payout_id": sphere_id})
        return path.format(**ids)

    for method, path in ops:
        where = f"{method} {path}"
        if path.startswith("/compat/sphere/"):
            # Sphere's keys are the native Bearer keys, its refusals its envelope
            for headers in (
                {},
                bearer("pk_000000000000_not-a-real-secret"),
                {"Authorization": "Basic cGtfMDAwMDAwMDAwMDAwOm5vdC1hLXJlYWwtc2VjcmV0"},
            ):
                r = await h.client.request(method, url(path), headers=headers)
                assert r.status_code == 401 and dialect_refusal(path, r), (where, r.text)
            r = await h.client.request(method, url(path), headers=reader, json={})
            if method == "GET":
                assert r.status_code == 200 and r.json()["ok"], (where, r.text)
            else:
                assert r.status_code == 403, (where, r.text)
                assert sphere_refusal(r, "forbidden_scope"), (where, r.text)
            if params(path):
                r = await h.client.request(method, url(path), headers=b.headers)
                assert r.status_code == 404 and sphere_refusal(r, "not_found"), (where, r.text)
            continue
        if path.startswith("/compat/"):
            # a provider dialect: only the provider's own signature lets a request in;
            # none, or a native key however good, is refused in the provider's shape
            for headers in (
                {},
                a.headers,
                bearer("pk_000000000000_not-a-real-secret"),
                {"Authorization": "Basic cGtfMDAwMDAwMDAwMDAwOm5vdC1hLXJlYWwtc2VjcmV0"},
            ):
                r = await h.client.request(method, url(path), headers=headers)
                assert r.status_code == 401 and dialect_refusal(path, r), (where, r.text)
            continue
        # 1. no key at all: 401, whatever the operation
        r = await h.client.request(method, url(path))
        assert (r.status_code, error(r)) == (401, "unauthorized"), (where, r.text)
        # a key that does not exist, or is not a Bearer key: 401 too
        for headers in (
            bearer("pk_000000000000_not-a-real-secret"),
            {"Authorization": "Basic dXNlcjpwYXNz"},
        ):
            r = await h.client.request(method, url(path), headers=headers)
            assert (r.status_code, error(r)) == (401, "unauthorized"), (where, r.text)

        if is_operator(method, path):
            # 2. the operator's operations refuse merchant keys, full or read-only
            for headers in (a.headers, reader):
                r = await h.client.request(method, url(path), headers=headers, json={})
                assert (r.status_code, error(r)) == (403, "forbidden_scope"), (where, r.text)
            continue

        # 3. a read key may read, never write
        if (method == "GET" and (method, path) not in SECRET_READS) or (
            method,
            path,
        ) in READ_ONLY_POSTS:
            body = QUOTE if (method, path) in READ_ONLY_POSTS else None
            r = await h.client.request(
                method, url(path), headers=reader, json=body, params=QUERIES.get((method, path))
            )
            assert r.status_code == 200, (where, r.text)
        else:
            r = await h.client.request(
                method, url(path), headers=reader, json=BODIES.get((method, path), {})
            )
            assert (r.status_code, error(r)) == (403, "forbidden_scope"), (where, r.text)

        # 4. another merchant's objects do not exist for this one: 404, never 403 or 2xx
        if params(path):
            r = await h.client.request(
                method, url(path), headers=b.headers, json=BODIES.get((method, path), {})
            )
            assert (r.status_code, error(r)) == (404, "not_found"), (where, r.text)

    # B's own endpoint, A's delivery: still not B's
    mine = await h.client.post(
        "/v1/webhook-endpoints", headers=b.headers, json={"url": "https://b.example/hooks"}
    )
    r = await h.client.post(
        f"/v1/webhook-endpoints/{mine.json()['id']}/deliveries/{ids['delivery_id']}/redeliver",
        headers=b.headers,
    )
    assert (r.status_code, error(r)) == (404, "not_found"), r.text

    # and nothing of A's changed: not its payout, batch, endpoint, keys or addresses
    assert await state_of(h, a, ids) == before
    assert (await h.client.get("/v1/balances", headers=reader)).status_code == 200
    assert (await h.ledger_check())["ok"]


async def test_an_unauthenticated_route_would_fail_the_matrix(h: Harness) -> None:
    """The matrix iterates the OpenAPI document: a route added without a key check is
    in it, and answers without 401."""
    app: FastAPI = h.app

    @app.get("/v1/forgotten-auth")
    async def forgotten() -> dict[str, str]:
        return {"ok": "yes"}

    app.openapi_schema = None
    assert ("GET", "/v1/forgotten-auth") in await operations(h)
    r = await h.client.get("/v1/forgotten-auth")
    assert r.status_code == 200  # the matrix's first assertion would fail on it


# -- the payout-key cooldown ---------------------------------------------------------


async def test_the_first_key_starts_no_cooldown(h: Harness) -> None:
    m = await h.merchant(BTC="1")  # as `payoutd merchant create` makes it
    await create(h, m)
    offer = await create(h, m, dict(BTC_PAYOUT, approval="manual"))
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert r.status_code == 200, r.text


async def test_a_read_key_starts_no_cooldown(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    key = await read_key(h, m)
    assert key["payouts_blocked_until"] is None
    await create(h, m)


async def test_a_new_payout_key_blocks_create_and_approve_until_the_cooldown_ends(
    h: Harness,
) -> None:
    m = await h.merchant(BTC="1")
    offer = await create(h, m, dict(BTC_PAYOUT, approval="manual"))
    queued = await create(h, m)
    secret = await enrol(h, m)
    minted = h.clock.now()
    key = await payout_key(h, m, secret)
    assert key["scopes"] == ["payouts", "read"]
    assert key["payouts_blocked_until"] is not None
    assert at(key["payouts_blocked_until"]) == minted + COOLDOWN
    fresh = bearer(key["key"])
    balances = await h.balances(m)

    async def refused() -> None:
        for headers in (m.headers, fresh):  # the whole merchant waits, not only the new key
            r = await h.client.post("/v1/payouts", headers=headers, json=BTC_PAYOUT)
            assert r.status_code == 403, r.text
            assert r.json() == {
                "error": {"code": "payouts_forbidden", "message": "You are forbidden", "fields": {}}
            }
            r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=headers)
            assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
        assert await h.balances(m) == balances

    await refused()
    # reads work meanwhile, with either key
    for headers in (m.headers, fresh):
        for path in (
            "/v1/payouts",
            f"/v1/payouts/{offer['id']}",
            "/v1/balances",
            "/v1/api-keys",
            "/v1/audit-log",
            "/v1/batches",
        ):
            r = await h.client.get(path, headers=headers)
            assert r.status_code == 200, (path, r.text)
        r = await h.client.post("/v1/quotes", headers=headers, json=QUOTE)
        assert r.status_code == 200, r.text
    # cancelling only takes risk away: allowed
    r = await h.client.post(f"/v1/payouts/{queued['id']}/cancel", headers=fresh)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    balances = await h.balances(m)

    h.clock.advance(COOLDOWN.total_seconds() - 1)
    await refused()
    h.clock.advance(1)
    # the offer made before the key has expired meanwhile (an hour); a new one is approved
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=fresh)
    assert (r.status_code, error(r)) == (409, "quote_expired"), r.text
    offer = await create(h, m, dict(BTC_PAYOUT, approval="manual"), headers=fresh)
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=fresh)
    assert r.status_code == 200 and r.json()["status"] == "queued", r.text
    await create(h, m)
    assert (await h.ledger_check())["ok"]


async def test_an_expired_offer_is_refused_by_the_cooldown_first(h: Harness) -> None:
    """During the cooldown approve changes nothing, not even an offer's expiry."""
    m = await h.merchant(BTC="1")
    offer = await create(h, m, dict(BTC_PAYOUT, approval="manual"))
    await payout_key(h, m, await enrol(h, m))
    h.clock.advance(h.rt.settings.quote_ttl_seconds + 1)
    r = await h.client.post(f"/v1/payouts/{offer['id']}/approve", headers=m.headers)
    assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
    r = await h.client.get(f"/v1/payouts/{offer['id']}", headers=m.headers)
    assert r.json()["status"] == "pending_approval"


@pytest.fixture
async def short_cooldown(
    database_url: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Harness]:
    """The operator's own cooldown, from the environment as `payoutd serve` reads it."""
    monkeypatch.setenv("PAYOUTD_PAYOUT_KEY_COOLDOWN_HOURS", "2.5")
    settings = support.test_settings(tmp_path, database_url)
    assert settings.payout_key_cooldown_hours == 2.5
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


async def test_the_cooldown_is_the_operators_setting(short_cooldown: Harness) -> None:
    h = short_cooldown
    m = await h.merchant(BTC="1")
    key = await payout_key(h, m, await enrol(h, m))
    assert at(key["payouts_blocked_until"]) == h.clock.now() + timedelta(hours=2.5)
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
    h.clock.advance(2.5 * 3600 - 1)
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
    h.clock.advance(1)
    await create(h, m, headers=bearer(key["key"]))


# -- TOTP ----------------------------------------------------------------------------


async def keys_of(h: Harness, m: Merchant) -> list[str]:
    r = await h.client.get("/v1/api-keys", headers=m.headers)
    assert r.status_code == 200, r.text
    return [k["id"] for k in r.json()["data"]]


async def test_totp_is_enrolled_once_and_its_secret_shown_once(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert len(secret) >= 16 and secret in r.json()["otpauth_uri"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    again = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert (again.status_code, error(again)) == (409, "totp_already_enrolled"), again.text
    # the first secret still holds
    await payout_key(h, m, secret)
    # and is nowhere else to be read
    for path in ("/v1/api-keys", "/v1/audit-log"):
        assert secret not in (await h.client.get(path, headers=m.headers)).text


async def test_a_payout_key_needs_a_current_unused_totp_code(h: Harness) -> None:
    # more wrong codes than the lockout allows: each gets its own answer here (the lockout
    # has tests of its own, test_access_hardening)
    h.rt.settings.totp_max_failures = 100
    m = await h.merchant(BTC="1")
    body = {"scopes": ["payouts"]}

    async def refused(code: str, **more: Any) -> dict[str, Any]:
        r = await h.client.post("/v1/api-keys", headers=m.headers, json={**body, **more})
        assert r.status_code == 422, r.text
        assert error(r) == code and list(r.json()["error"]["fields"]) == ["totp_code"], r.text
        payload: dict[str, Any] = r.json()["error"]
        return payload

    # not enrolled yet: the operator enrols
    assert (
        "payoutd merchant totp enrol"
        in (await refused("totp_required", totp_code="123456"))["message"]
    )
    secret = await enrol(h, m)
    keys = await keys_of(h, m)
    now = h.clock.now()
    current = code_at(secret, now)
    window = {code_at(secret, now, s) for s in (-1, 0, 1)}

    await refused("totp_required")  # missing
    await refused("totp_required", totp_code="")
    wrong = next(c for c in ("000000", "111111", "222222", "333333") if c not in window)
    await refused("totp_invalid", totp_code=wrong)
    await refused("totp_invalid", totp_code="12345a")
    await refused("totp_invalid", totp_code="١٢٣٤٥٦")  # Arabic-Indic digits
    for steps in (-2, -3, -10, 2, 3):  # expired, or not yet valid
        late = code_at(secret, now, steps)
        if late not in window:
            await refused("totp_invalid", totp_code=late)
    assert await keys_of(h, m) == keys
    # a refused attempt starts no cooldown
    await create(h, m)

    first = await new_key(h, m, **body, totp_code=current)
    assert first["scopes"] == ["payouts"]
    # the same code again: a replay, refused
    replay = await refused("totp_invalid", totp_code=current)
    assert "already used" in replay["message"]
    # so is the previous step's code, still inside the drift window
    earlier = code_at(secret, now, -1)
    if earlier != current:
        await refused("totp_invalid", totp_code=earlier)
    assert len(await keys_of(h, m)) == len(keys) + 1
    # the next time step brings a new code
    h.clock.advance(30)
    second = await new_key(h, m, **body, totp_code=code_at(secret, h.clock.now()))
    assert second["id"] != first["id"]


async def test_a_read_key_needs_no_totp(h: Harness) -> None:
    m = await h.merchant()
    key = await read_key(h, m, name="dashboard")
    assert key["scopes"] == ["read"] and key["key"].startswith("pk_")
    await enrol(h, m)
    await read_key(h, m)  # enrolled or not
    r = await h.client.post("/v1/api-keys", headers=m.headers, json={"scopes": ["admin"]})
    assert r.status_code == 422, r.text
    # a read key cannot mint keys of its own
    r = await h.client.post("/v1/api-keys", headers=bearer(key["key"]), json={"scopes": ["read"]})
    assert (r.status_code, error(r)) == (403, "forbidden_scope"), r.text


async def test_the_audit_log_records_every_access_change_for_its_merchant_only(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    other = await h.merchant("Other", BTC="2")
    await h.deposit(m, "USDT", "50")
    secret = await enrol(h, m)
    reader = await read_key(h, m)
    payer = await payout_key(h, m, secret)
    h.clock.advance(30)
    r = await h.client.request(
        "DELETE",
        f"/v1/api-keys/{reader['id']}",
        headers=m.headers,
        json={"totp_code": code_at(secret, h.clock.now())},
    )
    assert r.status_code == 204, r.text
    h.clock.advance(30)
    r = await h.client.put(
        "/v1/address-allowlist",
        headers=m.headers,
        json={"enabled": True, "totp_code": code_at(secret, h.clock.now())},
    )
    assert r.status_code == 200, r.text
    h.clock.advance(30)
    r = await h.client.post(
        "/v1/addresses",
        headers=m.headers,
        json={"network": "BTC", "address": BTC_ADDR, "totp_code": code_at(secret, h.clock.now())},
    )
    assert r.status_code == 201, r.text
    address_id = r.json()["id"]
    r = await h.client.delete(f"/v1/addresses/{address_id}", headers=m.headers)
    assert r.status_code == 204, r.text

    entries = await audit(h, m.headers)
    actions = [e["action"] for e in entries]
    assert actions == [
        "address.removed",
        "address.added",
        "address_allowlist.on",
        "api_key.deleted",
        "api_key.created",
        "api_key.created",
        "totp.enrolled",
        "deposit",
        "deposit",
    ], actions
    by_action = {e["action"]: e for e in entries}
    assert by_action["api_key.deleted"]["subject_id"] == reader["id"]
    assert entries[4]["subject_id"] == payer["id"]
    assert entries[4]["details"]["scopes"] == ["payouts", "read"]
    assert by_action["address.added"]["subject_id"] == address_id
    assert by_action["deposit"]["details"] == {"currency": "BTC", "amount": "1"}
    prefix = m.key.split("_")[0] + "_" + m.key.split("_")[1]
    assert by_action["api_key.deleted"]["actor"] == f"key:{prefix}"
    assert by_action["totp.enrolled"]["actor"].startswith("operator:")  # the operator's
    assert all(e["source"] == "127.0.0.1" for e in entries if e["action"] != "deposit")
    # the log shows no secret: not the keys, not the TOTP secret
    text = json.dumps(entries)
    for value in (secret, reader["key"], payer["key"], m.key):
        assert value not in text
    # another merchant sees its own deposit and nothing of m's; a read key reads the log
    theirs = await audit(h, other.headers)
    assert [e["action"] for e in theirs] == ["deposit"]
    assert not {e["id"] for e in theirs} & {e["id"] for e in entries}
    assert await audit(h, bearer(payer["key"])) == entries


# -- keys: signing, IP allowlist, rate limit, revocation ------------------------------


async def signed(
    h: Harness,
    key: dict[str, Any],
    method: str,
    path: str,
    body: Any = None,
    *,
    stamp: int | None = None,
    signed_path: str | None = None,
) -> Any:
    content = b"" if body is None else json.dumps(body).encode()
    ts = str(int(h.clock.now().timestamp()) if stamp is None else stamp)
    sig = signature(key["signing_secret"], ts, method, signed_path or path, content)
    headers = {**bearer(key["key"]), TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={sig}"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    return await h.client.request(method, path, headers=headers, content=content)


async def test_a_signing_key_must_sign_every_request(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    key = await read_key(h, m, signed_requests=True)
    assert key["signed_requests"] is True and key["signing_secret"]
    assert (
        key["signing_secret"] not in (await h.client.get("/v1/api-keys", headers=m.headers)).text
    )  # shown once

    def refused(r: Any) -> None:
        assert (r.status_code, error(r)) == (401, "signature_invalid"), r.text

    refused(await h.client.get("/v1/balances", headers=bearer(key["key"])))  # unsigned
    assert (await signed(h, key, "GET", "/v1/balances")).status_code == 200
    # the query is signed with the path
    assert (await signed(h, key, "GET", "/v1/payouts?limit=5")).status_code == 200
    refused(await signed(h, key, "GET", "/v1/payouts?limit=6", signed_path="/v1/payouts"))
    # and the body
    r = await signed(h, key, "POST", "/v1/quotes", QUOTE)
    assert r.status_code == 200, r.text
    ts = str(int(h.clock.now().timestamp()))
    sig = signature(key["signing_secret"], ts, "POST", "/v1/quotes", json.dumps(QUOTE).encode())
    r = await h.client.post(
        "/v1/quotes",
        json=dict(QUOTE, amount="0.02"),
        headers={**bearer(key["key"]), TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={sig}"},
    )
    refused(r)
    # a wrong secret, a wrong method
    refused(await signed(h, dict(key, signing_secret="not-the-secret"), "GET", "/v1/balances"))
    ts = str(int(h.clock.now().timestamp()))
    sig = signature(key["signing_secret"], ts, "POST", "/v1/balances", b"")
    refused(
        await h.client.get(
            "/v1/balances",
            headers={**bearer(key["key"]), TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={sig}"},
        )
    )
    # stale or from the future, beyond the window
    window = h.rt.settings.request_signature_window_seconds
    now = int(h.clock.now().timestamp())
    refused(await signed(h, key, "GET", "/v1/assets", stamp=now - window - 1))
    refused(await signed(h, key, "GET", "/v1/assets", stamp=now + window + 1))
    assert (await signed(h, key, "GET", "/v1/assets", stamp=now - window + 1)).status_code == 200
    # a replay of a good request: refused
    ts = str(now)
    sig = signature(key["signing_secret"], ts, "GET", "/v1/batches", b"")
    headers = {**bearer(key["key"]), TIMESTAMP_HEADER: ts, SIGNATURE_HEADER: f"v1={sig}"}
    assert (await h.client.get("/v1/batches", headers=headers)).status_code == 200
    r = await h.client.get("/v1/batches", headers=headers)
    refused(r)
    assert "already used" in r.json()["error"]["message"]
    # keys that do not sign are not asked to
    assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200


async def test_a_key_with_an_ip_allowlist_is_refused_elsewhere(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    # the in-process client connects from 127.0.0.1, as the audit log records
    await read_key(h, m)
    assert (await audit(h, m.headers))[0]["source"] == "127.0.0.1"
    far = await read_key(h, m, ip_allowlist=["10.0.0.0/8"])
    assert far["ip_allowlist"] == ["10.0.0.0/8"]
    r = await h.client.get("/v1/balances", headers=bearer(far["key"]))
    assert (r.status_code, error(r)) == (403, "ip_not_allowed"), r.text
    near = await read_key(h, m, ip_allowlist=["10.0.0.0/8", "127.0.0.1"])
    assert near["ip_allowlist"] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert (await h.client.get("/v1/balances", headers=bearer(near["key"]))).status_code == 200
    r = await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"scopes": ["read"], "ip_allowlist": ["not-an-ip"]}
    )
    assert (r.status_code, error(r)) == (422, "validation_error"), r.text
    assert list(r.json()["error"]["fields"]) == ["ip_allowlist"]


async def test_a_key_with_a_rate_limit_gets_429_with_retry_after(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    key = await read_key(h, m, rate_limit_per_minute=3)
    assert key["rate_limit_per_minute"] == 3
    for _ in range(3):
        assert (await h.client.get("/v1/balances", headers=bearer(key["key"]))).status_code == 200
    r = await h.client.get("/v1/balances", headers=bearer(key["key"]))
    assert (r.status_code, error(r)) == (429, "rate_limited"), r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 60  # within the minute
    # per key: the merchant's other keys are not limited
    assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200


async def test_a_deleted_key_no_longer_works(h: Harness) -> None:
    m = await h.merchant()
    key = await read_key(h, m)
    r = await h.client.delete(f"/v1/api-keys/{key['id']}", headers=m.headers)
    assert r.status_code == 204, r.text
    r = await h.client.get("/v1/balances", headers=bearer(key["key"]))
    assert (r.status_code, error(r)) == (401, "unauthorized"), r.text
    assert key["id"] not in await keys_of(h, m)
    r = await h.client.delete(f"/v1/api-keys/{key['id']}", headers=m.headers)
    assert (r.status_code, error(r)) == (404, "not_found"), r.text


# -- the address allowlist -----------------------------------------------------------


async def test_with_the_address_allowlist_on_payouts_go_to_saved_addresses_only(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    r = await h.client.put("/v1/address-allowlist", headers=m.headers, json={"enabled": True})
    assert r.status_code == 200 and r.json() == {"enabled": True}, r.text
    balances = await h.balances(m)
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert (r.status_code, error(r)) == (422, "address_not_allowed"), r.text
    assert list(r.json()["error"]["fields"]) == ["address"]
    assert await h.balances(m) == balances
    r = await h.client.post(
        "/v1/addresses",
        headers=m.headers,
        json={"network": "btc", "address": BTC_ADDR, "label": "cold"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["network"] == "BTC" and r.json()["label"] == "cold"
    await create(h, m)
    # the same address saved on another network does not count
    r = await h.client.post(
        "/v1/payouts", headers=m.headers, json=dict(BTC_PAYOUT, address=BTC_ADDR_2)
    )
    assert (r.status_code, error(r)) == (422, "address_not_allowed"), r.text
    # saving twice, or an address the network refuses
    r = await h.client.post(
        "/v1/addresses", headers=m.headers, json={"network": "BTC", "address": BTC_ADDR}
    )
    assert (r.status_code, error(r)) == (422, "validation_error"), r.text
    r = await h.client.post(
        "/v1/addresses", headers=m.headers, json={"network": "BTC", "address": BTC_ADDR[:-1] + "b"}
    )
    assert (r.status_code, error(r)) == (422, "invalid_address"), r.text
    # off again: any address
    r = await h.client.put("/v1/address-allowlist", headers=m.headers, json={"enabled": False})
    assert r.status_code == 200, r.text
    await create(h, m, dict(BTC_PAYOUT, address=BTC_ADDR_2))
    assert (await h.ledger_check())["ok"]


async def test_once_enrolled_the_address_allowlist_changes_need_totp(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    secret = await enrol(h, m)
    saved = {"network": "BTC", "address": BTC_ADDR}
    for path, method, body in (
        ("/v1/addresses", "POST", saved),
        ("/v1/address-allowlist", "PUT", {"enabled": True}),
    ):
        r = await h.client.request(method, path, headers=m.headers, json=body)
        assert (r.status_code, error(r)) == (422, "totp_required"), r.text
        r = await h.client.request(
            method, path, headers=m.headers, json=dict(body, totp_code="0000000")
        )
        assert (r.status_code, error(r)) == (422, "totp_invalid"), r.text
        r = await h.client.request(
            method,
            path,
            headers=m.headers,
            json=dict(body, totp_code=code_at(secret, h.clock.now())),
        )
        assert r.status_code in (200, 201), r.text
        h.clock.advance(30)
    assert [
        a["address"]
        for a in (await h.client.get("/v1/addresses", headers=m.headers)).json()["data"]
    ] == [BTC_ADDR]
    # turning it off needs a code too: a stolen key cannot lift the allowlist
    r = await h.client.put("/v1/address-allowlist", headers=m.headers, json={"enabled": False})
    assert (r.status_code, error(r)) == (422, "totp_required"), r.text
    r = await h.client.post(
        "/v1/payouts", headers=m.headers, json=dict(BTC_PAYOUT, address=BTC_ADDR_2)
    )
    assert (r.status_code, error(r)) == (422, "address_not_allowed"), r.text
    await create(h, m)


async def test_a_retry_of_a_payout_made_before_the_cooldown_gets_its_payout(h: Harness) -> None:
    """A client that timed out and retries under its Idempotency-Key must learn that the
    payout exists (it will be paid), not be told `payouts_forbidden`: that answer reads
    as "not paid" and invites paying again another way. The same for an approval."""
    m = await h.merchant(BTC="1")
    key = {"Idempotency-Key": "withdrawal-42"}
    first = await h.client.post("/v1/payouts", headers={**m.headers, **key}, json=BTC_PAYOUT)
    assert first.status_code == 201, first.text
    offer = await create(h, m, dict(BTC_PAYOUT, approval="manual"))
    approve = f"/v1/payouts/{offer['id']}/approve"
    approval = {"Idempotency-Key": "approval-7"}
    approved = await h.client.post(approve, headers={**m.headers, **approval})
    assert approved.status_code == 200, approved.text
    await payout_key(h, m, await enrol(h, m))

    again = await h.client.post("/v1/payouts", headers={**m.headers, **key}, json=BTC_PAYOUT)
    assert (again.status_code, again.json()) == (201, first.json()), again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    again = await h.client.post(approve, headers={**m.headers, **approval})
    assert (again.status_code, again.json()) == (200, approved.json()), again.text
    # a new request is refused, and the refusal is its answer
    other = {"Idempotency-Key": "withdrawal-43"}
    for _ in range(2):
        r = await h.client.post("/v1/payouts", headers={**m.headers, **other}, json=BTC_PAYOUT)
        assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
