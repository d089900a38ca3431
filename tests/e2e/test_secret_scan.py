"""The log scan finds no secret: `payoutd serve` at debug level, as a real process, through
a run that creates every kind of secret payoutd has (API keys of merchants and of the
operator, a request-signing secret, a TOTP secret, webhook endpoint secrets and their
rotation, the merchant's callback secret), uses them (signed requests, a payout key
behind TOTP, payouts paid on the sandbox chain, webhooks delivered to a receiver that
verifies them) and provokes refusals. Everything the processes print is captured, and
none of those secrets appears in it, whole or without its prefix.

A canary run proves the scan would see a leak: the same server with one log line
patched in (the TOTP secret, logged at debug) must be caught."""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from payoutd.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, signature
from tests import support
from tests.webhooks.receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"
BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
LTC_ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"

pytestmark = pytest.mark.e2e

# One log line patched into the server: the TOTP secret, at debug level.
LEAK = """
import structlog
from payoutd.services import access

_enrol = access.enrol_totp


async def enrol_totp(*args, **kwargs):
    secret, uri = await _enrol(*args, **kwargs)
    structlog.get_logger("payoutd.api").debug("totp.enrolled", secret=secret)
    return secret, uri


access.enrol_totp = enrol_totp
"""


@dataclass
class Target:
    kind: str
    data_dir: Path
    url: str | None  # None: SQLite in data_dir


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    data_dir = tmp_path / "data"
    if request.param == "sqlite":
        yield Target("sqlite", data_dir, None)
        return
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()
    try:
        yield Target("postgres", data_dir, support.pg_url(name))
    finally:
        support.drop_pg_database(name)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Run:
    """The processes of one run and everything they printed."""

    target: Target
    tmp: Path
    env: dict[str, str]
    base: str
    output: list[str] = field(default_factory=list)  # what may never show a secret
    secrets: dict[str, str] = field(default_factory=dict)  # name -> value

    def cli(self, *args: str, secret_output: bool = False) -> str:
        """A CLI command; its stderr is scanned, its stdout too unless printing a secret
        is what the command is for (`merchant create`, `operator-key create`)."""
        done = subprocess.run(
            [str(PAYOUTD), *args],
            env=self.env,
            cwd=self.tmp,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        self.output.append(done.stderr)
        if not secret_output:
            self.output.append(done.stdout)
        return done.stdout

    def keep(self, name: str, value: str | None) -> str:
        assert value, name
        self.secrets[name] = value
        return value


def environment(target: Target, tmp: Path, port: int, *, leak: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(
        {
            "PAYOUTD_DATA_DIR": str(target.data_dir),
            "PAYOUTD_HOST": "127.0.0.1",
            "PAYOUTD_PORT": str(port),
            "PAYOUTD_LOG_LEVEL": "debug",
            "PAYOUTD_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver listens on loopback
            "PAYOUTD_WORKER_INTERVAL_SECONDS": "0.1",
            "PAYOUTD_SANDBOX_BLOCK_SECONDS": "0.2",
            "PAYOUTD_SANDBOX_BATCH_WINDOW_SECONDS": "0",
            "PAYOUTD_SANDBOX_CONFIRMATIONS": "1",
            "PAYOUTD_MIN_PAYOUT_EUR": "0",
            "PAYOUTD_RATE_SOURCES": '["static"]',
            "PYTHONUNBUFFERED": "1",
        }
    )
    if target.url:
        env["PAYOUTD_DATABASE_URL"] = target.url
    if leak:
        patch = tmp / "leak"
        patch.mkdir()
        (patch / "sitecustomize.py").write_text(LEAK)
        env["PYTHONPATH"] = os.pathsep.join(
            [str(patch), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
    return env


def serve(run: Run, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(PAYOUTD), "serve"], env=run.env, cwd=run.tmp, stdout=out, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        try:
            if httpx.get(f"{run.base}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    proc.kill()
    proc.wait()
    pytest.fail(f"payoutd serve did not answer within 60 s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def forms(name: str, value: str) -> dict[str, str]:
    """The secret, and the part of it that is secret on its own (without `pk_<id>_` or
    `whsec_`): a log line printing only that part leaks as much."""
    found = {name: value}
    if value.startswith("pk_"):
        found[f"{name} (secret part)"] = value.split("_", 2)[2]
    if value.startswith("whsec_"):
        found[f"{name} (secret part)"] = value.removeprefix("whsec_")
    return found


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """The names of the secrets that appear in `text`."""
    everything = {k: v for name, value in secrets.items() for k, v in forms(name, value).items()}
    assert all(len(v) >= 16 for v in everything.values()), everything
    return sorted(name for name, value in everything.items() if value in text)


def scenario(run: Run, receiver: Receiver, *, short: bool = False) -> None:
    """Merchants, keys, TOTP, signed requests, webhook endpoints and rotations, payouts,
    deposits and a few refusals, through the CLI and the API of the running server."""
    operator = json.loads(run.cli("operator-key", "create", "--json", secret_output=True))
    op_key = run.keep("operator key", operator["api_key"])
    made = json.loads(run.cli("merchant", "create", "Acme", "--json", secret_output=True))
    a_key = run.keep("merchant A key", made["api_key"])
    a = {"Authorization": f"Bearer {a_key}"}
    admin = {"Authorization": f"Bearer {op_key}"}

    def call(
        method: str, path: str, headers: dict[str, str], expect: int = 200, **kwargs: Any
    ) -> Any:
        r = httpx.request(method, f"{run.base}{path}", headers=headers, timeout=30, **kwargs)
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    if short:
        run.keep(
            "TOTP secret",
            call("POST", f"/v1/admin/merchants/{made['merchant_id']}/totp", admin, 201)["secret"],
        )
        return

    run.cli("deposit", made["merchant_id"], "BTC", "1")
    b = call("POST", "/v1/admin/merchants", admin, 201, json={"name": "Beta"})
    b_headers = {"Authorization": f"Bearer {run.keep('merchant B key', b['api_key'])}"}
    call(
        "POST",
        "/v1/admin/deposits",
        admin,
        201,
        json={"merchant_id": b["merchant_id"], "currency": "LTC", "amount": "5"},
    )

    # webhooks: an endpoint, rotated, and the merchant's own callback secret
    receiver.trust(
        "/callback",
        run.keep("merchant webhook secret", call("POST", "/v1/webhook-secret", a)["secret"]),
    )
    ep = call("POST", "/v1/webhook-endpoints", a, 201, json={"url": receiver.url("/hooks")})
    first = run.keep("webhook secret", ep["secret"])
    rotated = call(
        "POST", f"/v1/webhook-endpoints/{ep['id']}/rotate-secret", a, json={"overlap_seconds": 3600}
    )
    receiver.trust("/hooks", first, run.keep("rotated webhook secret", rotated["secret"]))
    ep_b = call(
        "POST", "/v1/webhook-endpoints", b_headers, 201, json={"url": receiver.url("/hooks-b")}
    )
    receiver.trust("/hooks-b", run.keep("merchant B webhook secret", ep_b["secret"]))

    # payouts, paid on the sandbox chain (before a new payout key blocks A's payouts)
    paying = [
        call(
            "POST",
            "/v1/payouts",
            a,
            201,
            json={
                "amount": "0.01",
                "currency": "BTC",
                "address": BTC_ADDR,
                "callback_url": receiver.url("/callback"),
            },
        )["id"],
        call(
            "POST",
            "/v1/payouts",
            b_headers,
            201,
            json={"amount": "0.5", "currency": "LTC", "address": LTC_ADDR},
        )["id"],
    ]
    call(
        "POST",
        "/v1/payouts",
        a,
        422,
        json={"amount": "100", "currency": "BTC", "address": BTC_ADDR},
    )

    # keys: read-only and signing, with IP allowlist and rate limit
    signing = call(
        "POST",
        "/v1/api-keys",
        a,
        201,
        json={"scopes": ["read"], "signed_requests": True, "name": "signer"},
    )
    run.keep("read key", signing["key"])
    sig_secret = run.keep("signing secret", signing["signing_secret"])
    stamp = str(int(time.time()))
    good = signature(sig_secret, stamp, "GET", "/v1/balances", b"")
    call(
        "GET",
        "/v1/balances",
        {
            "Authorization": f"Bearer {signing['key']}",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: f"v1={good}",
        },
    )
    call(
        "GET",
        "/v1/balances",
        {
            "Authorization": f"Bearer {signing['key']}",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: "v1=00",
        },
        401,
    )
    fenced = call(
        "POST",
        "/v1/api-keys",
        a,
        201,
        json={"scopes": ["read"], "ip_allowlist": ["10.0.0.0/8"], "rate_limit_per_minute": 5},
    )
    run.keep("fenced key", fenced["key"])
    call("GET", "/v1/balances", {"Authorization": f"Bearer {fenced['key']}"}, 403)
    call("DELETE", f"/v1/api-keys/{fenced['id']}", a, 204)
    call("GET", "/v1/balances", {"Authorization": f"Bearer {fenced['key']}"}, 401)
    call("GET", "/v1/balances", {"Authorization": f"Bearer {a_key[:-4]}xxxx"}, 401)

    # address allowlist, then TOTP and a payout key behind it
    call("PUT", "/v1/address-allowlist", a, json={"enabled": True})
    call("POST", "/v1/addresses", a, 201, json={"network": "BTC", "address": BTC_ADDR})
    call("PUT", "/v1/address-allowlist", a, json={"enabled": False})
    enrol = f"/v1/admin/merchants/{made['merchant_id']}/totp"
    totp_secret = run.keep("TOTP secret", call("POST", enrol, admin, 201)["secret"])
    call("POST", enrol, admin, 409)
    call("POST", "/v1/api-keys", a, 422, json={"scopes": ["payouts"], "totp_code": "12345x"})
    code = pyotp.TOTP(totp_secret).now()
    payer = call(
        "POST", "/v1/api-keys", a, 201, json={"scopes": ["payouts", "read"], "totp_code": code}
    )
    payer_headers = {"Authorization": f"Bearer {run.keep('payout key', payer['key'])}"}
    call("POST", "/v1/api-keys", a, 422, json={"scopes": ["payouts"], "totp_code": code})
    call(
        "POST",
        "/v1/payouts",
        payer_headers,
        403,
        json={"amount": "0.01", "currency": "BTC", "address": BTC_ADDR},
    )
    call("GET", "/v1/audit-log", payer_headers)

    # wait for the payouts and their webhooks
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        statuses = [
            call("GET", f"/v1/payouts/{pid}", h)["status"]
            for pid, h in zip(paying, (a, b_headers), strict=True)
        ]
        paths = {x.path for x in receiver.delivered()}
        if statuses == ["paid", "paid"] and {"/hooks", "/hooks-b", "/callback"} <= paths:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"not paid and delivered within 60 s: {statuses}, {paths}")
    assert receiver.unverified == []
    assert call("GET", "/v1/admin/ledger/check", admin)["ok"] is True
    run.cli("ledger", "check", "--json")


def start(target: Target, tmp: Path, *, leak: bool = False) -> Run:
    port = free_port()
    run = Run(target, tmp, environment(target, tmp, port, leak=leak), f"http://127.0.0.1:{port}")
    run.cli("migrate")
    return run


def test_a_full_run_at_debug_level_logs_no_secret(target: Target, tmp_path: Path) -> None:
    run = start(target, tmp_path)
    log = tmp_path / "serve.log"
    receiver = Receiver()
    receiver.up()
    proc = serve(run, log)
    try:
        scenario(run, receiver)
    finally:
        stop(proc)
        receiver.close()
    printed = log.read_text(errors="replace")
    run.output.append(printed)
    # the run did log, at debug level too, and the scan has what it needs
    assert "batch.broadcast" in printed and "webhook.attempt" in printed, printed[-3000:]
    assert len(run.secrets) >= 12, sorted(run.secrets)
    found = leaks("\n".join(run.output), run.secrets)
    assert found == [], f"secrets in the output: {found}"


def test_the_scan_sees_a_secret_logged_at_debug(tmp_path: Path) -> None:
    """The canary: the same server with one log line patched in, printing the TOTP
    secret at debug level. The scan must name exactly that secret."""
    run = start(Target("sqlite", tmp_path / "data", None), tmp_path, leak=True)
    log = tmp_path / "serve.log"
    receiver = Receiver()
    proc = serve(run, log)
    try:
        scenario(run, receiver, short=True)
    finally:
        stop(proc)
        receiver.close()
    run.output.append(log.read_text(errors="replace"))
    assert leaks("\n".join(run.output), run.secrets) == ["TOTP secret"]


# -- at rest: what a database dump (or a copy of the SQLite file) reveals ---------------


def readable_forms(value: str) -> dict[str, bytes]:
    """The ways a stored secret could be read back out of a dump: as given, without its
    prefix, and its random bytes raw, in hex and in each base64/base32 alphabet."""
    core = value.split("_", 2)[2] if value.startswith("pk_") else value.removeprefix("whsec_")
    if value.startswith("whsec_"):
        raw = base64.b64decode(core)
    elif core.isupper() and len(core) == 32:  # a TOTP seed (base32)
        raw = base64.b32decode(core)
    else:  # secrets.token_urlsafe
        raw = base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    assert len(raw) >= 20, value
    return {
        "as given": value.encode(),
        "without prefix": core.encode(),
        "raw": raw,
        "hex": raw.hex().encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "base64url": base64.urlsafe_b64encode(raw).rstrip(b"="),
        "base32": base64.b32encode(raw).rstrip(b"="),
    }


def readable_in(dump: bytes, secrets: dict[str, str]) -> list[str]:
    lowered = dump.lower()  # hex and base32 may be stored in either case
    return sorted(
        f"{name} ({form})"
        for name, value in secrets.items()
        for form, data in readable_forms(value).items()
        if data in dump or (form in ("hex", "base32") and data.lower() in lowered)
    )


def dump_of(target: Target) -> bytes:
    """Everything a thief who copies the database gets: pg_dump's output, or the SQLite
    file and its WAL read as bytes (the server is running: recent writes are in the WAL)."""
    if target.url is not None:
        name = target.url.rsplit("/", 1)[1]
        done = subprocess.run(
            ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", name],
            capture_output=True,
            timeout=120,
            check=True,
        )
        return done.stdout
    files = sorted(target.data_dir.glob("payoutd.db*"))
    assert target.data_dir / "payoutd.db-wal" in files, files
    return b"".join(f.read_bytes() for f in files)


@dataclass
class Kept:
    """What the merchant of the at-rest test holds, to use its secrets after restarts."""

    headers: dict[str, str]
    signing_key: str
    signing_secret: str
    totp_secret: str
    totp_steps: list[int] = field(default_factory=list)

    def fresh_code(self) -> str:
        """A TOTP code of a time step not used yet (a used step is refused): the next
        step's code when this one is used, accepted as clock drift."""
        totp = pyotp.TOTP(self.totp_secret)
        step = totp.timecode(datetime.now(UTC))
        while self.totp_steps and step <= self.totp_steps[-1]:
            if step + 1 > self.totp_steps[-1]:
                step += 1
                break
            time.sleep(1)
            step = totp.timecode(datetime.now(UTC))
        self.totp_steps.append(step)
        return totp.generate_otp(step)


def call_api(
    run: Run, method: str, path: str, headers: dict[str, str], expect: int = 200, **kwargs: Any
) -> Any:
    r = httpx.request(method, f"{run.base}{path}", headers=headers, timeout=30, **kwargs)
    assert r.status_code == expect, (method, path, r.status_code, r.text)
    return r.json() if r.content else None


def stock(run: Run, receiver: Receiver) -> Kept:
    """A merchant with every kind of stored secret: the callback secret, an endpoint whose
    secret was rotated (the previous one still signs), a request-signing key, TOTP."""
    made = json.loads(run.cli("merchant", "create", "Acme", "--json", secret_output=True))
    a = {"Authorization": f"Bearer {run.keep('merchant key', made['api_key'])}"}
    run.cli("deposit", made["merchant_id"], "BTC", "1")
    receiver.trust(
        "/callback",
        run.keep(
            "merchant webhook secret", call_api(run, "POST", "/v1/webhook-secret", a)["secret"]
        ),
    )
    ep = call_api(
        run, "POST", "/v1/webhook-endpoints", a, 201, json={"url": receiver.url("/hooks")}
    )
    first = run.keep("previous webhook secret", ep["secret"])
    rotated = call_api(
        run,
        "POST",
        f"/v1/webhook-endpoints/{ep['id']}/rotate-secret",
        a,
        json={"overlap_seconds": 3600},
    )
    receiver.trust("/hooks", first, run.keep("webhook secret", rotated["secret"]))
    signer = call_api(
        run, "POST", "/v1/api-keys", a, 201, json={"scopes": ["read"], "signed_requests": True}
    )
    return Kept(
        a,
        run.keep("signing key", signer["key"]),
        run.keep("signing secret", signer["signing_secret"]),
        # two-factor is enrolled by the operator, never through a merchant's key
        run.keep(
            "TOTP secret",
            json.loads(
                run.cli(
                    "merchant", "totp", "enrol", made["merchant_id"], "--json", secret_output=True
                )
            )["secret"],
        ),
    )


def uses_its_secrets(run: Run, receiver: Receiver, kept: Kept) -> None:
    """Each stored secret still does its job: a signed request is let in (a wrong
    signature is not), a TOTP code is accepted (a wrong one is not), and a payout's
    webhooks arrive signed with the endpoint's two secrets and the callback secret."""
    stamp = str(int(time.time()))
    good = signature(kept.signing_secret, stamp, "GET", "/v1/balances", b"")
    signed = {"Authorization": f"Bearer {kept.signing_key}", TIMESTAMP_HEADER: stamp}
    call_api(run, "GET", "/v1/balances", {**signed, SIGNATURE_HEADER: f"v1={good}"})
    call_api(run, "GET", "/v1/balances", {**signed, SIGNATURE_HEADER: "v1=00"}, 401)
    call_api(
        run,
        "PUT",
        "/v1/address-allowlist",
        kept.headers,
        422,
        json={
            "enabled": False,
            "totp_code": "000000" if pyotp.TOTP(kept.totp_secret).now() != "000000" else "111111",
        },
    )
    call_api(
        run,
        "PUT",
        "/v1/address-allowlist",
        kept.headers,
        json={"enabled": False, "totp_code": kept.fresh_code()},
    )
    payout = call_api(
        run,
        "POST",
        "/v1/payouts",
        kept.headers,
        201,
        json={
            "amount": "0.001",
            "currency": "BTC",
            "address": BTC_ADDR,
            "callback_url": receiver.url("/callback"),
        },
    )["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        arrived = [
            x for x in receiver.delivered() if x.payout_id == payout and x.payout_status == "paid"
        ]
        if {"/hooks", "/callback"} <= {x.path for x in arrived}:
            break
        time.sleep(0.3)
    else:
        pytest.fail(f"payout {payout}'s webhooks did not arrive within 60 s")
    assert receiver.unverified == []
    # the endpoint's delivery is signed with both of its secrets, each verifying it
    assert {len(x.verified_by) for x in arrived if x.path == "/hooks"} == {2}


def test_a_dump_reveals_no_secret_and_they_work_after_restart_and_rotation(
    target: Target, tmp_path: Path
) -> None:
    run = start(target, tmp_path)
    receiver = Receiver()
    receiver.up()
    proc = serve(run, tmp_path / "serve-1.log")
    try:
        kept = stock(run, receiver)
        uses_its_secrets(run, receiver, kept)
        dump = dump_of(target)
        assert b"Acme" in dump  # the dump holds the data
        assert readable_in(dump, run.secrets) == []
        stop(proc)
        proc = serve(run, tmp_path / "serve-2.log")
        uses_its_secrets(run, receiver, kept)
        stop(proc)

        key_file = target.data_dir / "secret.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        before = key_file.read_text().split()
        rotated = json.loads(run.cli("secrets", "rotate", "--json"))
        after = key_file.read_text().split()
        # the new key first; the one it replaced kept until the next rotation
        assert len(after) == 2 and after[1] == before[0] and after[0] != before[0]
        assert key_file.stat().st_mode & 0o777 == 0o600
        assert rotated["resealed"] >= 6
        proc = serve(run, tmp_path / "serve-3.log")
        uses_its_secrets(run, receiver, kept)
        dump = dump_of(target)
        assert readable_in(dump, run.secrets) == []
        assert b"secrets.rotated" in dump  # the audit trail has it
    finally:
        stop(proc)
        receiver.close()
