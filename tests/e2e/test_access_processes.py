"""Issue 17, access control, with real `payoutd serve` processes: wrong TOTP codes spread
over two API processes lock the merchant out, a signed request is used once across two
processes and a restart, a rate limit holds over two processes through Redis, and
forwarded headers count only from the proxies PAYOUTD_FORWARDED_ALLOW_IPS names, on
every way the API is started."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from payoutd.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from tests.e2e import test_api_processes
from tests.e2e.test_api_processes import PAYOUTD, free_port, wait_until_serving

pytestmark = pytest.mark.e2e


def env_for(tmp_path: Path, database_url: str | None, port: int) -> dict[str, str]:
    """A process environment on a migrated database: the CLI commands these tests run
    first never create one (only `migrate` and `serve` do)."""
    env = test_api_processes.env_for(tmp_path, database_url, port)
    done = subprocess.run(
        [str(PAYOUTD), "migrate"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return env


BTC_PAYOUT = {"amount": "0.01", "currency": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"}


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [str(PAYOUTD), *args, "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@contextmanager
def serving(env: dict[str, str], log: Path, *args: str) -> Iterator[str]:
    """`payoutd serve --role api` on a port of its own; yields its base URL."""
    port = free_port()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "api", *args],
            env={**env, "PAYOUTD_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(proc, base, log)
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        # uvicorn ends a lone server by raising the signal again once it has shut down
        assert proc.wait(timeout=30) in (0, -signal.SIGTERM), log.read_text()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def audit_actions(base: str, key: str) -> list[str]:
    r = httpx.get(f"{base}/v1/audit-log", headers=bearer(key), timeout=30)
    assert r.status_code == 200, r.text
    return [e["action"] for e in r.json()["data"]]


def pg_env(tmp_path: Path, pg_url: str, **more: str) -> dict[str, str]:
    # every change is read at once by the other process (no key cache to wait out)
    return {**env_for(tmp_path, pg_url, 0), "PAYOUTD_AUTH_CACHE_SECONDS": "0", **more}


@pytest.mark.postgres
def test_wrong_totp_codes_over_two_api_processes_lock_the_merchant_out(
    tmp_path: Path, pg_url: str
) -> None:
    window = 30
    env = pg_env(tmp_path, pg_url, PAYOUTD_TOTP_FAILURE_WINDOW_SECONDS=str(window))
    made = cli(env, "merchant", "create", "Acme")
    secret = cli(env, "merchant", "totp", "enrol", made["merchant_id"])["secret"]
    totp = pyotp.TOTP(secret)
    near = {totp.at(time.time(), counter_offset=step) for step in range(-2, 6)}
    wrong = [c for c in (f"{n:06d}" for n in range(123_457, 999_999, 31_337)) if c not in near][:20]
    assert len(wrong) == 20
    log = tmp_path / "serve.log"
    with serving(env, log) as a, serving(env, log) as b:

        def attempt(i: int) -> httpx.Response:
            return httpx.post(
                f"{(a, b)[i % 2]}/v1/api-keys",
                headers=bearer(made["api_key"]),
                json={"scopes": ["payouts"], "totp_code": wrong[i]},
                timeout=60,
            )

        with ThreadPoolExecutor(max_workers=10) as pool:
            answers = [error(r) for r in pool.map(attempt, range(20))]
        assert answers.count((422, "totp_invalid")) == 5, answers
        assert answers.count((429, "totp_locked")) == 15, answers
        # the right code, on either process, waits for the lock to expire
        for base in (a, b):
            r = httpx.post(
                f"{base}/v1/api-keys",
                headers=bearer(made["api_key"]),
                json={"scopes": ["payouts"], "totp_code": totp.now()},
                timeout=30,
            )
            assert error(r) == (429, "totp_locked"), r.text
            wait = int(r.headers["Retry-After"])
            assert 0 < wait <= window
        time.sleep(wait + 1)
        r = httpx.post(
            f"{b}/v1/api-keys",
            headers=bearer(made["api_key"]),
            json={"scopes": ["payouts"], "totp_code": totp.now()},
            timeout=30,
        )
        assert r.status_code == 201, r.text
        actions = audit_actions(a, made["api_key"])
        assert actions.count("totp.failed") == 5
        assert actions.count("totp.locked") == 1
        assert actions.count("totp.refused") == 15 + 2  # every attempt is in the log
        # each process counts what it answered
        failures = {"invalid": 0.0, "locked": 0.0}
        for base in (a, b):
            for line in httpx.get(f"{base}/metrics", timeout=30).text.splitlines():
                for reason in failures:
                    if line.startswith(f'payoutd_totp_failures_total{{reason="{reason}"}}'):
                        failures[reason] += float(line.split()[-1])
        assert failures == {"invalid": 5.0, "locked": 17.0}


@pytest.mark.postgres
def test_a_signed_payout_is_made_once_across_two_processes_and_a_restart(
    tmp_path: Path, pg_url: str
) -> None:
    env = pg_env(tmp_path, pg_url)
    made = cli(env, "merchant", "create", "Acme")
    cli(env, "deposit", made["merchant_id"], "BTC", "1")
    secret = cli(env, "merchant", "totp", "enrol", made["merchant_id"])["secret"]
    log = tmp_path / "serve.log"
    with serving(env, log) as a:
        r = httpx.post(
            f"{a}/v1/api-keys",
            headers=bearer(made["api_key"]),
            timeout=30,
            json={
                "scopes": ["read", "payouts"],
                "signed_requests": True,
                "totp_code": pyotp.TOTP(secret).now(),
            },
        )
        assert r.status_code == 201, r.text
        key = r.json()
        assert key["payouts_blocked_until"]
        lifted = cli(env, "merchant", "cooldown", "lift", made["merchant_id"])
        assert lifted["lifted_until"] == key["payouts_blocked_until"]
        stamp = str(int(time.time()))
        body = json.dumps(BTC_PAYOUT).encode()
        headers = {
            **bearer(key["key"]),
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: "v1="
            + signature(key["signing_secret"], stamp, "POST", "/v1/payouts", body),
        }
        answers = [
            httpx.post(f"{a}/v1/payouts", content=body, headers=headers, timeout=30).status_code
        ]
        with serving(env, log) as b:
            answers.append(
                httpx.post(f"{b}/v1/payouts", content=body, headers=headers, timeout=30).status_code
            )
    with serving(env, log) as restarted:
        answers.append(
            httpx.post(
                f"{restarted}/v1/payouts", content=body, headers=headers, timeout=30
            ).status_code
        )
        r = httpx.get(f"{restarted}/v1/payouts", headers=bearer(made["api_key"]), timeout=30)
        assert len(r.json()["data"]) == 1
        assert "cooldown.lifted" in audit_actions(restarted, made["api_key"])
    assert answers == [201, 401, 401]


@pytest.mark.postgres
def test_a_rate_limit_holds_over_two_processes_with_redis(
    tmp_path: Path, pg_url: str, redis_url: str
) -> None:
    env = pg_env(tmp_path, pg_url, PAYOUTD_RATE_LIMIT_STORAGE_URL=redis_url)
    made = cli(env, "merchant", "create", "Acme")
    log = tmp_path / "serve.log"
    with serving(env, log) as a, serving(env, log) as b:
        r = httpx.post(
            f"{a}/v1/api-keys",
            headers=bearer(made["api_key"]),
            timeout=30,
            json={"scopes": ["read"], "rate_limit_per_minute": 10},
        )
        assert r.status_code == 201, r.text
        limited = bearer(r.json()["key"])
        codes = [
            httpx.get(f"{base}/v1/balances", headers=limited, timeout=30).status_code
            for _ in range(10)
            for base in (a, b)
        ]
    assert codes.count(200) == 10 and codes.count(429) == 10, codes


@pytest.mark.parametrize(
    "start", ["one process", pytest.param("--processes 2", marks=pytest.mark.postgres)]
)
def test_forwarded_headers_count_only_from_the_allowed_proxies(
    tmp_path: Path, request: pytest.FixtureRequest, start: str
) -> None:
    several = start == "--processes 2"
    url = request.getfixturevalue("pg_url") if several else None
    env = {**env_for(tmp_path, url, 0), "PAYOUTD_AUTH_CACHE_SECONDS": "0"}
    args = ("--processes", "2") if several else ()
    made = cli(env, "merchant", "create", "Acme")
    log = tmp_path / "serve.log"
    forged = {**bearer(made["api_key"]), "X-Forwarded-For": "10.1.2.3"}
    with serving(env, log, *args) as base:
        r = httpx.post(
            f"{base}/v1/api-keys",
            headers=forged,
            timeout=30,
            json={"scopes": ["read"], "ip_allowlist": ["10.0.0.0/8"]},
        )
        assert r.status_code == 201, r.text
        far = r.json()["key"]
        r = httpx.get(
            f"{base}/v1/balances",
            timeout=30,
            headers={**bearer(far), "X-Forwarded-For": "10.1.2.3"},
        )
        assert error(r) == (403, "ip_not_allowed"), r.text
        entries = httpx.get(
            f"{base}/v1/audit-log", headers=bearer(made["api_key"]), timeout=30
        ).json()["data"]
        assert entries[0]["action"] == "api_key.created"
        assert entries[0]["source"] == "127.0.0.1"  # not what the header claimed
    with serving({**env, "PAYOUTD_FORWARDED_ALLOW_IPS": "127.0.0.1"}, log, *args) as base:
        r = httpx.get(
            f"{base}/v1/balances",
            timeout=30,
            headers={**bearer(far), "X-Forwarded-For": "10.1.2.3"},
        )
        assert r.status_code == 200, r.text  # the proxy on 127.0.0.1 is believed


def test_the_operator_commands_refuse_an_unknown_merchant_and_reset_a_secret(
    tmp_path: Path,
) -> None:
    env = env_for(tmp_path, None, 0)
    made = cli(env, "merchant", "create", "Acme")
    for args in (("totp", "enrol"), ("totp", "reset"), ("cooldown", "lift")):
        done = subprocess.run(
            [str(PAYOUTD), "merchant", *args, "no-such-merchant"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2 and "merchant_not_found" in done.stderr, done.stderr
    first = cli(env, "merchant", "totp", "enrol", made["merchant_id"])["secret"]
    done = subprocess.run(
        [str(PAYOUTD), "merchant", "totp", "enrol", made["merchant_id"]],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "totp_already_enrolled" in done.stderr, done.stderr
    again = cli(env, "merchant", "totp", "reset", made["merchant_id"])
    assert again["secret"] != first and again["otpauth_uri"].startswith("otpauth://totp/")
    assert cli(env, "merchant", "cooldown", "lift", made["merchant_id"])["lifted_until"] is None
