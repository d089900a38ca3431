"""`payoutd bank import|export|review` and `payoutd ramps list` as separate processes on a
real SQLite file: a statement line that matches no ramp payout lands in the review queue
and moves no money, the operator dismisses it, importing again changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

STATEMENT = "\n".join(
    [
        "{4:",
        ":20:MT940-20261208",
        ":25:9900000001",
        ":28C:1/1",
        ":60F:C261207USD0,00",
        ":61:2612081208C40,00NTRFNONREF//B-77",
        ":86:WIRE IN NO MEMO OF OURS",
        ":62F:C261208USD40,00",
        "-}",
    ]
)


def test_import_review_and_dismiss(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    statement = tmp_path / "statement.sta"
    statement.write_text(STATEMENT)
    done = run(tmp_path, "bank", "import", str(statement), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "lines": 1,
        "funded": 0,
        "settled": 0,
        "returned": 0,
        "review": 1,
        "duplicate": 0,
    }
    again = json.loads(run(tmp_path, "bank", "import", str(statement), "--json").stdout)
    assert (again["duplicate"], again["review"]) == (1, 0)

    queued = json.loads(run(tmp_path, "bank", "review", "list", "--json").stdout)["data"]
    assert [(i["amount"], i["currency"], i["reference"]) for i in queued] == [
        ("40.00", "USD", "B-77")
    ]
    # nothing moved
    report = json.loads(run(tmp_path, "ledger", "check", "--json").stdout)
    assert report["ok"] and report["transactions"] == 0

    both = run(tmp_path, "bank", "review", "resolve", queued[0]["id"], "--assign", "x", "--dismiss")
    assert both.returncode == 2
    dismissed = run(tmp_path, "bank", "review", "resolve", queued[0]["id"], "--dismiss", "--json")
    assert dismissed.returncode == 0, dismissed.stderr
    assert json.loads(dismissed.stdout)["status"] == "dismissed"
    twice = run(tmp_path, "bank", "review", "resolve", queued[0]["id"], "--dismiss")
    assert twice.returncode == 2 and "review_item_resolved" in twice.stderr
    assert json.loads(run(tmp_path, "bank", "review", "list", "--json").stdout)["data"] == []

    unreadable = tmp_path / "junk.txt"
    unreadable.write_text("not a statement")
    bad = run(tmp_path, "bank", "import", str(unreadable))
    assert bad.returncode == 2 and "statement_unreadable" in bad.stderr

    out = tmp_path / "payments.xml"
    nothing = run(tmp_path, "bank", "export", "--currency", "eur", "--out", str(out), "--json")
    assert nothing.returncode == 0, nothing.stderr
    assert json.loads(nothing.stdout) == {"exported": 0} and not out.exists()
    assert json.loads(run(tmp_path, "ramps", "list", "--json").stdout) == {"data": []}
