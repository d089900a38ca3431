"""Issue 17, access control, on SQLite and PostgreSQL: TOTP guessing is throttled in the
database, TOTP enrolment and reset are the operator's, deleting a key needs a TOTP code,
a signed request is used once by every API instance (and after a restart), rate limits
are shared through Redis, and a cooldown keeps its later end and is lifted only by the
operator. tests/e2e/test_access_processes.py proves the same with real processes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from payoutd.api.app import create_app
from payoutd.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from payoutd.bootstrap import build
from payoutd.config import Settings
from payoutd.store.tables import used_signatures
from tests import support
from tests.api.test_access import (
    BTC_PAYOUT,
    at,
    audit,
    bearer,
    code_at,
    enrol,
    error,
    new_key,
    payout_key,
    read_key,
)
from tests.support import Harness, Merchant


def wrong_codes(secret: str, h: Harness, count: int) -> list[str]:
    """Codes no step near now accepts (the window, and a few steps on for slow runs)."""
    near = {code_at(secret, h.clock.now(), step) for step in range(-3, 4)}
    return [c for c in (f"{n:06d}" for n in range(100_000, 999_999, 7919)) if c not in near][:count]


async def try_payout_key(h: Harness, m: Merchant, code: str) -> httpx.Response:
    return await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"scopes": ["read", "payouts"], "totp_code": code}
    )


def actions(entries: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [e for e in entries if e["action"] == action]


# -- Security 1: TOTP guessing ---------------------------------------------------------


async def test_wrong_totp_codes_lock_the_merchant_out_even_for_the_right_code(h: Harness) -> None:
    m = await h.merchant()
    secret = await enrol(h, m)
    answers = [await try_payout_key(h, m, code) for code in wrong_codes(secret, h, 8)]
    assert [(r.status_code, error(r)) for r in answers] == (
        [(422, "totp_invalid")] * 5 + [(429, "totp_locked")] * 3
    ), [r.text for r in answers]
    locked = answers[-1]
    assert list(locked.json()["error"]["fields"]) == ["totp_code"]
    window = h.rt.settings.totp_failure_window_seconds
    assert window == 900  # the default: 5 failures in 15 minutes
    assert 0 < int(locked.headers["Retry-After"]) <= window
    # the right code is refused while the lock holds
    r = await try_payout_key(h, m, code_at(secret, h.clock.now()))
    assert (r.status_code, error(r)) == (429, "totp_locked"), r.text
    h.clock.advance(int(r.headers["Retry-After"]) - 2)
    r = await try_payout_key(h, m, code_at(secret, h.clock.now()))
    assert (r.status_code, error(r)) == (429, "totp_locked"), r.text
    h.clock.advance(2)
    r = await try_payout_key(h, m, code_at(secret, h.clock.now()))
    assert r.status_code == 201, r.text
    # every failure, the lockout and every refusal during it is in the audit log
    entries = await audit(h, m.headers)
    assert len(actions(entries, "totp.failed")) == 5
    assert len(actions(entries, "totp.locked")) == 1
    refused = actions(entries, "totp.refused")
    assert len(refused) == 5 and all(e["details"]["reason"] == "locked" for e in refused)
    assert all(e["source"] == "127.0.0.1" for e in refused)
    metrics = (await h.client.get("/metrics")).text
    assert 'payoutd_totp_failures_total{reason="invalid"} 5.0' in metrics
    assert 'payoutd_totp_failures_total{reason="locked"} 5.0' in metrics


async def test_every_route_that_checks_a_code_counts_towards_one_limit(h: Harness) -> None:
    m = await h.merchant()
    secret = await enrol(h, m)
    codes = iter(wrong_codes(secret, h, 6))
    key = await read_key(h, m)
    for _ in range(2):
        r = await h.client.put(
            "/v1/address-allowlist",
            headers=m.headers,
            json={"enabled": True, "totp_code": next(codes)},
        )
        assert (r.status_code, error(r)) == (422, "totp_invalid"), r.text
    r = await h.client.post(
        "/v1/addresses",
        headers=m.headers,
        json={"network": "BTC", "address": BTC_PAYOUT["address"], "totp_code": next(codes)},
    )
    assert (r.status_code, error(r)) == (422, "totp_invalid"), r.text
    r = await h.client.request(
        "DELETE", f"/v1/api-keys/{key['id']}", headers=m.headers, json={"totp_code": next(codes)}
    )
    assert (r.status_code, error(r)) == (422, "totp_invalid"), r.text
    assert (await try_payout_key(h, m, next(codes))).status_code == 422
    r = await h.client.put(
        "/v1/address-allowlist", headers=m.headers, json={"enabled": True, "totp_code": next(codes)}
    )
    assert (r.status_code, error(r)) == (429, "totp_locked"), r.text
    # nothing the refused requests asked for was done
    r = await h.client.get("/v1/api-keys", headers=m.headers)
    assert key["id"] in [k["id"] for k in r.json()["data"]]
    assert (await h.client.get("/v1/addresses", headers=m.headers)).json()["data"] == []


async def test_the_operator_reset_clears_a_lockout(h: Harness) -> None:
    m = await h.merchant()
    secret = await enrol(h, m)
    for code in wrong_codes(secret, h, 5):
        await try_payout_key(h, m, code)
    r = await try_payout_key(h, m, code_at(secret, h.clock.now()))
    assert (r.status_code, error(r)) == (429, "totp_locked"), r.text
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp/reset", headers=h.admin)
    assert r.status_code == 200, r.text
    fresh = r.json()["secret"]
    assert fresh != secret
    r = await try_payout_key(h, m, code_at(fresh, h.clock.now()))
    assert r.status_code == 201, r.text


# -- Security 2: TOTP is the operator's; deleting a key needs it -----------------------


async def test_a_merchant_key_cannot_enrol_totp(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.post("/v1/totp", headers=m.headers)
    assert (r.status_code, error(r)) == (403, "totp_enrolment_by_operator"), r.text
    # and nothing was enrolled: a payout key still says to ask the operator
    r = await try_payout_key(h, m, "123456")
    assert (r.status_code, error(r)) == (422, "totp_required"), r.text
    assert "operator" in r.json()["error"]["message"]


async def test_the_operator_enrols_and_resets_totp_through_the_admin_api(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=m.headers)
    assert (r.status_code, error(r)) == (403, "forbidden_scope"), r.text
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert r.status_code == 201, r.text
    secret = r.json()["secret"]
    assert r.json()["otpauth_uri"].startswith("otpauth://totp/")
    again = await h.client.post(f"/v1/admin/merchants/{m.id}/totp", headers=h.admin)
    assert (again.status_code, error(again)) == (409, "totp_already_enrolled"), again.text
    r = await h.client.post("/v1/admin/merchants/no-such/totp", headers=h.admin)
    assert (r.status_code, error(r)) == (404, "merchant_not_found"), r.text
    await payout_key(h, m, secret)
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/totp/reset", headers=h.admin)
    assert r.status_code == 200, r.text
    fresh = r.json()["secret"]
    h.clock.advance(30)
    r = await try_payout_key(h, m, code_at(secret, h.clock.now()))
    assert (r.status_code, error(r)) == (422, "totp_invalid"), r.text  # the old one is gone
    await payout_key(h, m, fresh)
    entries = await audit(h, m.headers)
    assert [
        e["actor"].startswith("operator:")
        for e in actions(entries, "totp.enrolled") + actions(entries, "totp.reset")
    ] == [True, True]


async def test_deleting_a_key_needs_a_totp_code_once_enrolled(h: Harness) -> None:
    m = await h.merchant()
    plain = await read_key(h, m)
    r = await h.client.delete(f"/v1/api-keys/{plain['id']}", headers=m.headers)
    assert r.status_code == 204, r.text  # not enrolled: as before
    secret = await enrol(h, m)
    owner = await read_key(h, m)
    stolen = bearer((await payout_key(h, m, secret))["key"])  # and its cooldown runs
    r = await h.client.delete(f"/v1/api-keys/{owner['id']}", headers=stolen)
    assert (r.status_code, error(r)) == (422, "totp_required"), r.text
    assert list(r.json()["error"]["fields"]) == ["totp_code"]
    h.clock.advance(30)
    r = await h.client.request(
        "DELETE",
        f"/v1/api-keys/{owner['id']}",
        headers=stolen,
        json={"totp_code": code_at(secret, h.clock.now())},
    )
    assert r.status_code == 204, r.text


# -- Security 4: a signed request is used once, in every instance ------------------------


@asynccontextmanager
async def another_instance(h: Harness, **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """One more API instance on the same database, as another process (or the same one
    after a restart) would serve it."""
    settings = Settings(**{**h.rt.settings.model_dump(), **overrides})
    rt = build(settings, clock=h.clock)
    transport = httpx.ASGITransport(app=create_app(rt))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://payoutd.test") as c:
            yield c
    finally:
        await rt.close()


async def test_a_signed_payout_is_made_once_across_instances_and_a_restart(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    secret = await enrol(h, m)
    key = await new_key(
        h,
        m,
        scopes=["read", "payouts"],
        signed_requests=True,
        totp_code=code_at(secret, h.clock.now()),
    )
    h.clock.advance(h.rt.settings.payout_key_cooldown_hours * 3600)
    stamp = str(int(h.clock.now().timestamp()))
    body = json.dumps(BTC_PAYOUT).encode()
    headers = {
        **bearer(key["key"]),
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: "v1="
        + signature(key["signing_secret"], stamp, "POST", "/v1/payouts", body),
    }
    answers = [(await h.client.post("/v1/payouts", content=body, headers=headers)).status_code]
    async with another_instance(h) as second:
        answers.append(
            (await second.post("/v1/payouts", content=body, headers=headers)).status_code
        )
    async with another_instance(h) as restarted:
        answers.append(
            (await restarted.post("/v1/payouts", content=body, headers=headers)).status_code
        )
    assert answers == [201, 401, 401]
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert len(r.json()["data"]) == 1


async def test_used_signatures_are_kept_until_they_expire_and_then_purged(h: Harness) -> None:
    m = await h.merchant()
    key = await read_key(h, m, signed_requests=True)

    async def send(path: str) -> int:
        stamp = str(int(h.clock.now().timestamp()))
        sig = signature(key["signing_secret"], stamp, "GET", path, b"")
        r = await h.client.get(
            path,
            headers={**bearer(key["key"]), TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: f"v1={sig}"},
        )
        return r.status_code

    assert await send("/v1/balances") == 200
    assert await send("/v1/assets") == 200
    assert await kept(h) == 2
    h.clock.advance(h.rt.settings.request_signature_window_seconds + 1)
    assert await send("/v1/batches") == 200
    assert await kept(h) == 1  # the expired two are gone


async def kept(h: Harness) -> int:
    async with h.rt.db.read() as uow:
        return int(
            (await uow.conn.execute(select(func.count()).select_from(used_signatures))).scalar_one()
        )


# -- Security 5: rate limits through the `limits` library, shared through Redis ---------


async def test_a_rate_limit_holds_across_instances_with_redis(
    database_url: str | None, tmp_path: Path, redis_url: str
) -> None:
    settings = support.test_settings(tmp_path, database_url, rate_limit_storage_url=redis_url)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant()
        key = await read_key(h, m, rate_limit_per_minute=10)
        async with another_instance(h) as second:
            answers = []
            for _ in range(10):
                for client in (h.client, second):
                    r = await client.get("/v1/balances", headers=bearer(key["key"]))
                    answers.append(r.status_code)
    assert answers.count(200) == 10 and answers.count(429) == 10, answers


async def test_without_shared_storage_each_instance_limits_on_its_own(h: Harness) -> None:
    """The default, in memory, is for one API process: README says so."""
    assert h.rt.settings.rate_limit_storage_url == "memory://"
    m = await h.merchant()
    key = await read_key(h, m, rate_limit_per_minute=2)
    async with another_instance(h) as second:
        for client in (h.client, second):
            codes = [
                (await client.get("/v1/balances", headers=bearer(key["key"]))).status_code
                for _ in range(3)
            ]
            assert codes == [200, 200, 429]


# -- Security 10: the cooldown keeps its later end; the operator lifts it ----------------


async def test_a_new_payout_key_never_shortens_a_running_cooldown(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    secret = await enrol(h, m)
    first = await payout_key(h, m, secret)
    until = at(first["payouts_blocked_until"])
    h.rt.settings.payout_key_cooldown_hours = 1.0  # the operator lowers the setting
    h.clock.advance(60)
    second = await payout_key(h, m, secret)
    assert at(second["payouts_blocked_until"]) == until
    h.clock.advance(3600)  # past the second key's own hour, not the first's day
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text


async def test_the_operator_lifts_a_cooldown_and_it_is_audited(h: Harness) -> None:
    m = await h.merchant(BTC="1")
    await payout_key(h, m, await enrol(h, m))
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert (r.status_code, error(r)) == (403, "payouts_forbidden"), r.text
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/cooldown/lift", headers=m.headers)
    assert (r.status_code, error(r)) == (403, "forbidden_scope"), r.text
    r = await h.client.post(f"/v1/admin/merchants/{m.id}/cooldown/lift", headers=h.admin)
    assert r.status_code == 200, r.text
    assert r.json()["payouts_blocked_until"] is None
    assert at(r.json()["lifted_until"]) > h.clock.now()
    r = await h.client.post("/v1/payouts", headers=m.headers, json=BTC_PAYOUT)
    assert r.status_code == 201, r.text
    lifted = actions(await audit(h, m.headers), "cooldown.lifted")
    assert len(lifted) == 1 and lifted[0]["actor"].startswith("operator:")
    r = await h.client.post("/v1/admin/merchants/no-such/cooldown/lift", headers=h.admin)
    assert (r.status_code, error(r)) == (404, "merchant_not_found"), r.text


async def test_an_unreachable_rate_limit_storage_lets_requests_through(
    database_url: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Redis down is no reason to answer every request with a 500: the limits wait, the
    API goes on, and the log says why."""
    closed = "redis://127.0.0.1:9"  # the discard port: nothing listens
    settings = support.test_settings(tmp_path, database_url, rate_limit_storage_url=closed)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant()
        r = await h.client.get("/v1/balances", headers=m.headers)
        assert r.status_code == 200, r.text
    assert "rate_limit.storage_unavailable" in capsys.readouterr().out
