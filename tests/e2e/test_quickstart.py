"""The README's first Quickstart command, as a person runs it: no configuration at all."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
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


def _tree(into: Path) -> Path:
    """A copy of what `scripts/bootstrap` installs from: a checkout without a .venv."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, into / name)
    shutil.copytree(ROOT / "scripts", into / "scripts")
    shutil.copytree(ROOT / "src", into / "src", ignore=shutil.ignore_patterns("__pycache__"))
    # the SDK: `bootstrap dev` installs it, and both modes hash its pyproject.toml
    shutil.copytree(
        ROOT / "clients" / "python",
        into / "clients" / "python",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build"),
    )
    return into


def _bootstrap(tree: Path, mode: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    return subprocess.run(
        [str(tree / "scripts" / "bootstrap"), mode],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.mark.slow
def test_serve_installs_only_what_running_needs_and_says_so(tmp_path: Path) -> None:
    """`scripts/serve`'s install (`bootstrap run`) in a fresh checkout: each step said on
    stderr with pip's own output, payoutd installed, none of the dev tools; run again,
    it installs nothing."""
    tree = _tree(tmp_path)
    first = _bootstrap(tree, "run")
    assert first.returncode == 0, first.stderr[-5000:]
    assert first.stdout == ""  # stdout stays free for what a command prints
    steps = [line for line in first.stderr.splitlines() if line.startswith("bootstrap: ")]
    assert [s.split()[1] for s in steps] == ["creating", "updating", "installing", "done:"]
    assert "Successfully installed" in first.stderr  # pip speaks: not --quiet
    python = tree / ".venv" / "bin" / "python"
    for module, present in (("payoutd.api.app", True), ("pytest", False), ("mypy", False)):
        found = subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, timeout=120
        )
        assert (found.returncode == 0) is present, (module, found.stderr)
    assert not (tree / ".venv" / "bin" / "pytest").exists()
    assert (tree / ".venv" / ".payoutd-installed-run").exists()
    assert not (tree / ".venv" / ".payoutd-installed-dev").exists()

    again = _bootstrap(tree, "run")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_serve_after_test_installs_nothing() -> None:
    """This checkout's .venv has the dev install (the tests run in it): `bootstrap run`
    finds everything running needs there and does nothing."""
    stamp = ROOT / ".venv" / ".payoutd-installed-dev"
    # both pyproject.toml files, payoutd's and the SDK's, as scripts/bootstrap hashes them
    want = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes()
        + (ROOT / "clients" / "python" / "pyproject.toml").read_bytes()
    ).hexdigest()
    # scripts/test runs `bootstrap dev` first; without it this would install into the
    # .venv the tests run in
    assert stamp.exists() and stamp.read_text().strip() == want, "run scripts/bootstrap dev"
    again = _bootstrap(ROOT, "run")
    assert (again.returncode, again.stdout, again.stderr) == (0, "", "")


def test_bootstrap_refuses_an_unknown_mode(tmp_path: Path) -> None:
    refused = _bootstrap(_tree(tmp_path), "bench")
    assert refused.returncode == 2
    assert "usage: scripts/bootstrap [run|dev]" in refused.stderr
    assert not (tmp_path / ".venv").exists()
