"""`payoutd payouts import` and `payoutd payouts export` as separate processes against a
real SQLite file: a dry run with a per-row report, the import itself, the same file
again, an unknown column, and the export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

LTC_ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"


def payouts(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM payouts").fetchone()[0])


def test_import_dry_run_report_and_export(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    made = run(tmp_path, "merchant", "create", "Payroll", "--json")
    merchant = json.loads(made.stdout)["merchant_id"]
    assert run(tmp_path, "deposit", merchant, "LTC", "20").returncode == 0
    db = tmp_path / "data" / "payoutd.db"

    lines = ["amount,currency,address,order_id,metadata.team"]
    lines += [f"0.5,LTC,{LTC_ADDR},,ops" for _ in range(18)]
    lines.insert(5, "0.5,LTC,nope,,ops")  # row 6
    lines.insert(9, f"abc,LTC,{LTC_ADDR},,ops")  # row 10
    sheet = tmp_path / "payroll.csv"
    sheet.write_text("\n".join(lines) + "\n")

    report = tmp_path / "report.csv"
    dry = run(
        tmp_path,
        "payouts",
        "import",
        str(sheet),
        "--merchant",
        merchant,
        "--dry-run",
        "--report",
        str(report),
    )
    assert dry.returncode == 1, dry.stderr  # rows were refused
    assert "18 would be accepted" in dry.stdout and "2 refused" in dry.stdout
    assert "row 6: invalid_address (address)" in dry.stdout
    assert "row 10: invalid_amount (amount)" in dry.stdout
    assert "rows/s" in dry.stderr  # the progress bar
    with report.open() as handle:
        rows = list(csv.DictReader(handle))
    assert [r["row"] for r in rows] == [str(n) for n in range(2, 22)]
    assert {r["row"]: r["error_code"] for r in rows if r["status"] == "refused"} == {
        "6": "invalid_address",
        "10": "invalid_amount",
    }
    assert payouts(db) == 0  # a dry run creates nothing

    done = run(tmp_path, "payouts", "import", str(sheet), "--merchant", merchant, "--json")
    assert done.returncode == 1, done.stderr
    out = json.loads(done.stdout)
    assert (out["status"], out["accepted"], out["refused"]) == ("done", 18, 2)
    assert payouts(db) == 18

    again = run(tmp_path, "payouts", "import", str(sheet), "--merchant", merchant, "--json")
    out = json.loads(again.stdout)
    assert (out["accepted"], out["existing"], out["refused"]) == (0, 18, 2)
    assert payouts(db) == 18
    assert run(tmp_path, "ledger", "check").returncode == 0

    good = tmp_path / "good.csv"
    good.write_text(f"amount,currency,address\n0.6,LTC,{LTC_ADDR}\n")
    fine = run(tmp_path, "payouts", "import", str(good), "--merchant", merchant)
    assert fine.returncode == 0, fine.stderr

    unknown = tmp_path / "unknown.csv"
    unknown.write_text(f"amount,currency,address,colour\n0.5,LTC,{LTC_ADDR},red\n")
    refused = run(tmp_path, "payouts", "import", str(unknown), "--merchant", merchant)
    assert refused.returncode == 2 and "Unknown columns: colour" in refused.stderr
    assert payouts(db) == 19

    exported = run(tmp_path, "payouts", "export", "--merchant", merchant, "--status", "queued")
    assert exported.returncode == 0, exported.stderr
    table = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(table) == 19
    assert {"id", "status", "amount", "address", "txid", "fee_total", "metadata.team"} <= set(
        table[0]
    )
    assert {r["status"] for r in table} == {"queued"}
    assert sum(r["metadata.team"] == "ops" for r in table) == 18
    out_file = tmp_path / "export.csv"
    assert (
        run(
            tmp_path, "payouts", "export", "--merchant", merchant, "--out", str(out_file)
        ).returncode
        == 0
    )
    assert len(list(csv.DictReader(out_file.open()))) == 19
    bad_status = run(tmp_path, "payouts", "export", "--merchant", merchant, "--status", "nope")
    assert bad_status.returncode == 2
