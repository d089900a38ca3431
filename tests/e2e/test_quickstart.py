"""The README's first Quickstart command, as a person runs it: no configuration at all."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"

pytestmark = pytest.mark.e2e


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "payoutd"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_quickstart_serves_and_pays_within_30s(tmp_path: Path) -> None:
    if not _port_free(8000):
        pytest.fail("127.0.0.1:8000 is taken; the Quickstart needs it (stop the other server)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    log = (tmp_path / "serve.log").open("w")
    server = subprocess.Popen(
        [str(ROOT / "scripts" / "serve")],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get("http://127.0.0.1:8000/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.2)
        else:
            pytest.fail("payoutd did not answer /healthz within 60 s")
        assert (tmp_path / ".payoutd" / "payoutd.db").exists()

        made = _cli(tmp_path, env, "merchant", "create", "Quickstart", "--json")
        assert made.returncode == 0, made.stderr
        merchant = json.loads(made.stdout)
        assert set(merchant) == {"merchant_id", "api_key"}
        dep = _cli(tmp_path, env, "deposit", merchant["merchant_id"], "LTC", "2")
        assert dep.returncode == 0, dep.stderr

        headers = {"Authorization": f"Bearer {merchant['api_key']}"}
        started = time.monotonic()
        r = httpx.post(
            "http://127.0.0.1:8000/v1/payouts",
            headers=headers,
            json={"amount": "0.5", "currency": "LTC", "address": ADDR},
        )
        assert r.status_code == 201, r.text
        payout_id = r.json()["id"]
        status = r.json()["status"]
        while time.monotonic() - started < 30 and status != "paid":
            time.sleep(0.5)
            status = httpx.get(
                f"http://127.0.0.1:8000/v1/payouts/{payout_id}", headers=headers
            ).json()["status"]
        assert status == "paid", f"still {status} after 30 s"

        check = _cli(tmp_path, env, "ledger", "check", "--json")
        assert check.returncode == 0, check.stdout + check.stderr
        assert json.loads(check.stdout)["ok"] is True
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
