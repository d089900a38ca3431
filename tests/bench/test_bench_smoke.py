"""The benchmarks still run: `bench.run --quick` on its cheapest subset, end to end (a
real `payoutd serve`, wrk, the HTTP ceiling, the sqlite3 reference, the batching table,
the Cryptomus dialect's CPU against the native create's), and its results.json has every
number the summary needs, all positive.

wrk is required: skipped locally when it is missing, failed under CI=true."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() == "true"

pytestmark = pytest.mark.e2e


def test_quick_benchmarks_write_results(tmp_path: Path) -> None:
    if shutil.which("wrk") is None:
        if IN_CI:
            pytest.fail("wrk is required in CI (apt-get install -y wrk)")
        pytest.skip("wrk is not installed (apt-get install -y wrk)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--only",
            "intake_sqlite,batching,compat",
            "--out",
            str(tmp_path),
            "--no-readme",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    assert "| SQLite intake ÷ HTTP ceiling, 32 connections |" in done.stdout

    results = json.loads((tmp_path / "results.json").read_text())
    assert {
        "meta",
        "thresholds",
        "summary",
        "ceiling",
        "intake_sqlite",
        "batching",
        "compat",
    } <= set(results)
    for key in ("ceiling", "intake_sqlite", "batching", "compat"):
        assert "error" not in results[key], results[key]

    ceiling = results["ceiling"]["payoutd_app"]
    assert set(ceiling) == {"8", "32"}
    assert all(run["rps"] > 0 and run["p99_ms"] > 0 for run in ceiling.values())

    sqlite = results["intake_sqlite"]
    assert sqlite["payoutd_sqlite"]["journal_mode"].lower() == "wal"
    assert sqlite["payoutd_sqlite"]["synchronous"] in ("NORMAL", "FULL", "EXTRA")
    assert sqlite["sqlite3_loop"]["tps"] > 0
    assert [row["connections"] for row in sqlite["rows"]] == [8, 32]
    for row in sqlite["rows"]:
        run = row["payoutd"]
        assert run["rps"] > 0 and run["p50_ms"] > 0 and run["p99_ms"] >= run["p50_ms"]
        assert run["created"] > 0 and not run["errors"], run
        assert row["ratio_http_ceiling"] > 0 and row["ratio_sqlite3_loop"] > 0

    assert [row["payouts"] for row in results["batching"]["rows"]] == [10, 100]
    assert all(0 < row["saved"] <= row["physical_limit"] for row in results["batching"]["rows"])

    _check_compat(results["compat"])

    checks = {check["check"]: check for check in results["summary"]}
    assert checks["SQLite intake ÷ HTTP ceiling, 32 connections"]["result"] in ("PASS", "FAIL")
    assert checks["SQLite durability (payoutd's connections)"]["result"] == "PASS"

    compat_check = "Cryptomus signed `payout` create ÷ native create, CPU per request"
    assert checks[compat_check]["value"] == results["compat"]["ratio"]
    assert checks[compat_check]["result"] == "-"  # a quick run's ratio is reported only
    assert f"| {compat_check} |" in done.stdout

    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return
    assert (tmp_path / "throughput.png").stat().st_size > 0


def _check_compat(compat: dict[str, Any]) -> None:
    """Every kind created every payout it was sent, with CPU measured in every round; the
    ratios are those of the kinds' rounds."""
    kinds = compat["kinds"]
    assert set(kinds) == {"native", "compat", "native_callback", "compat_callback"}
    for kind in kinds.values():
        assert len(kind["cpu_us_per_request"]) == compat["repeat"]
        assert all(us > 0 for us in kind["cpu_us_per_request"])
        assert kind["answers"]["created"] == compat["requests"] * compat["repeat"]
    assert compat["stored_payouts"] == compat["sent"] > 0
    assert 0 < compat["payout_dialects"] < compat["stored_payouts"]
    low, high = compat["ratio_range"]
    assert 0 < low <= compat["ratio"] <= high
    rounds = zip(
        kinds["compat"]["cpu_us_per_request"], kinds["native"]["cpu_us_per_request"], strict=True
    )
    assert min(a / b for a, b in rounds) == pytest.approx(low, abs=0.002)


def test_quick_imports_bench(tmp_path: Path) -> None:
    """`imports` at smoke size: a 500-row CSV imported through the API and a worker
    process and through the CLI, each row a payout, against the intake of the same run."""
    if shutil.which("wrk") is None:
        if IN_CI:
            pytest.fail("wrk is required in CI (apt-get install -y wrk)")
        pytest.skip("wrk is not installed (apt-get install -y wrk)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.run",
            "--quick",
            "--only",
            "imports",
            "--out",
            str(tmp_path),
            "--no-readme",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    res = json.loads((tmp_path / "results.json").read_text())["imports"]
    assert "error" not in res, res
    assert res["rows"] == 500 and res["intake"]["rps"] > 0 and res["intake"]["created"] > 0
    for way in ("api", "cli"):
        assert (res[way]["accepted"], res[way]["refused"]) == (500, 0)
        assert res[way]["rows_per_s"] > 0
    # the warm-up's one row, and both imports' rows: every one a payout
    assert res["created"] == 1 + 500 + 500
    ratio = res["api"]["rows_per_s"] / res["intake"]["rps"]
    assert res["ratio_api"] == pytest.approx(ratio, abs=0.001)
    check = next(
        c
        for c in json.loads((tmp_path / "results.json").read_text())["summary"]
        if c["check"].startswith("SQLite import of 500 rows")
    )
    assert check["result"] in ("PASS", "FAIL")
