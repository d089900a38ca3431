"""The operator's commands against a real SQLite file, as separate processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env["PAYOUTD_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run([str(ROOT / ".venv" / "bin" / "payoutd"), *args], env=env,
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)


def test_merchant_deposit_and_ledger_check(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    made = run(tmp_path, "merchant", "create", "Acme", "--json")
    assert made.returncode == 0, made.stderr
    merchant = json.loads(made.stdout)
    assert merchant["api_key"].startswith("pk_")

    dep = run(tmp_path, "deposit", merchant["merchant_id"], "usdt", "100.25", "--json")
    assert dep.returncode == 0, dep.stderr
    assert json.loads(dep.stdout)["available"] == "100.25"

    bad = run(tmp_path, "deposit", merchant["merchant_id"], "USDT", "0.1234567")
    assert bad.returncode == 2 and "invalid_amount" in bad.stderr
    assert run(tmp_path, "deposit", merchant["merchant_id"], "USDT", "-5").returncode == 2
    assert run(tmp_path, "deposit", "no-such-merchant", "USDT", "5").returncode == 2

    clean = run(tmp_path, "ledger", "check", "--json")
    assert clean.returncode == 0
    report = json.loads(clean.stdout)
    assert report["ok"] and report["transactions"] == 1 and report["entries"] == 2

    # The key is stored as a hash only.
    db = sqlite3.connect(tmp_path / "data" / "payoutd.db")
    hashes = [r[0] for r in db.execute("SELECT key_hash FROM api_keys")]
    assert merchant["api_key"] not in hashes and len(hashes) == 1

    # Tamper with a balance behind the ledger's back: the check must notice and fail.
    db.execute("UPDATE ledger_accounts SET balance = '1000' WHERE kind = 'merchant'")
    db.commit()
    db.close()
    dirty = run(tmp_path, "ledger", "check", "--json")
    assert dirty.returncode == 1
    assert any("sum of entries" in p for p in json.loads(dirty.stdout)["problems"])
