"""The operator's commands against a real SQLite file, as separate processes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env["PAYOUTD_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "payoutd"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )


def test_merchant_deposit_and_ledger_check(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    made = run(tmp_path, "merchant", "create", "Acme", "--json")
    assert made.returncode == 0, made.stderr
    merchant = json.loads(made.stdout)
    assert merchant["api_key"].startswith("pk_")

    dep = run(tmp_path, "deposit", merchant["merchant_id"], "usdt", "100.25", "--json")
    assert dep.returncode == 0, dep.stderr
    assert json.loads(dep.stdout)["available"] == "100.250000"  # USDT: 6 decimals

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


def run_env(cwd: Path, env_extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(env_extra)
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "payoutd"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
    )


def database_commands() -> list[list[str]]:
    """Every command of the CLI but `migrate` and `serve`, with a value for each required
    argument and option (walked from the application, so a new command is covered)."""
    import typer.main

    from payoutd.cli import app

    # commands that refuse their arguments before they open the database need a valid set
    extra = {("review", "resolve"): ["--failed"], ("bank", "resolve"): ["--dismiss"]}
    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        if hasattr(command, "commands"):  # a group (typer's own copy of click)
            for name, sub in command.commands.items():
                walk(sub, [*path, name])
            return
        # migrate and serve make the database; `secrets new-key` only prints a new
        # master key and touches none
        if path in (["migrate"], ["serve"], ["secrets", "new-key"]):
            return
        args = list(path)
        for param in command.params:
            if param.required and param.param_type_name == "argument":
                args.append("1")
            elif param.required and param.param_type_name == "option":
                args += [param.opts[0], "1"]
        found.append(args + extra.get((path[0], path[-1]), []))

    walk(typer.main.get_command(app), [])
    return found


def test_no_command_but_migrate_creates_a_database(tmp_path: Path) -> None:
    """Run from another directory, or without the server's PAYOUTD_DATA_DIR, a command
    would make a second, empty database whose keys the server refuses. It refuses to run
    instead, naming the file it looked for."""
    commands = database_commands()
    assert ["ledger", "check"] in commands and ["deposit", "1", "1", "1"] in commands
    data_dir = tmp_path / "data"
    for env, where in (
        ({}, tmp_path / ".payoutd" / "payoutd.db"),
        ({"PAYOUTD_DATA_DIR": str(data_dir)}, data_dir / "payoutd.db"),
    ):
        for args in commands:
            done = run_env(tmp_path, env, *args)
            assert done.returncode != 0, (args, done.stdout)
            assert str(where) in done.stderr, (args, done.stderr)
            assert "Traceback" not in done.stderr, done.stderr
            assert not where.exists() and not where.parent.exists(), args
    # migrate is how a database is made on purpose
    assert run_env(tmp_path, {"PAYOUTD_DATA_DIR": str(data_dir)}, "migrate").returncode == 0
    assert (data_dir / "payoutd.db").is_file()
    assert run_env(tmp_path, {"PAYOUTD_DATA_DIR": str(data_dir)}, "ledger", "check").returncode == 0


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_named(tmp_path: Path, pg_url: str) -> None:
    missing = pg_url.rsplit("/", 1)[0] + "/payoutd_no_such_database"
    done = run_env(tmp_path, {"PAYOUTD_DATABASE_URL": missing}, "ledger", "check")
    assert done.returncode != 0
    assert "payoutd_no_such_database" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_the_cli_prints_amounts_at_their_currencys_precision(
    tmp_path: Path, database_url: str | None
) -> None:
    """The same deposit reads the same on both databases (PostgreSQL keeps NUMERIC(38, 18),
    and printed 2.000000000000000000 where SQLite printed 2)."""
    env = (
        {"PAYOUTD_DATABASE_URL": database_url}
        if database_url
        else {"PAYOUTD_DATA_DIR": str(tmp_path)}
    )
    made = run_env(tmp_path, env, "merchant", "create", "Acme", "--json")
    assert made.returncode == 0, made.stderr
    merchant = json.loads(made.stdout)["merchant_id"]
    for currency, given, shown, twice in (
        ("USDT", "2", "2.000000", "4.000000"),
        ("ETH", "2", "2." + "0" * 18, "4." + "0" * 18),
        ("BTC", "0.5", "0.50000000", "1.00000000"),
    ):
        dep = run_env(tmp_path, env, "deposit", merchant, currency, given, "--json")
        assert dep.returncode == 0, dep.stderr
        out = json.loads(dep.stdout)
        assert (out["amount"], out["available"]) == (shown, shown), out
        text = run_env(tmp_path, env, "deposit", merchant, currency, given)
        assert text.stdout.split() == ["deposited", shown, f"{currency};", "available", twice], (
            text.stdout
        )


def test_the_cli_deposits_fiat(tmp_path: Path, database_url: str | None) -> None:
    """`payoutd deposit M USD 1000` credits a fiat balance, kept in cents, on either
    database; a fraction of a cent is refused and the ledger stays clean."""
    env = (
        {"PAYOUTD_DATABASE_URL": database_url}
        if database_url
        else {"PAYOUTD_DATA_DIR": str(tmp_path)}
    )
    made = run_env(tmp_path, env, "merchant", "create", "Acme", "--json")
    assert made.returncode == 0, made.stderr
    merchant = json.loads(made.stdout)["merchant_id"]
    for currency, given, shown, available in (
        ("USD", "1000", "1000.00", "1000.00"),
        ("usd", "0.5", "0.50", "1000.50"),
        ("EUR", "250.25", "250.25", "250.25"),
    ):
        dep = run_env(tmp_path, env, "deposit", merchant, currency, given, "--json")
        assert dep.returncode == 0, dep.stderr
        out = json.loads(dep.stdout)
        assert (out["currency"], out["amount"], out["available"]) == (
            currency.upper(),
            shown,
            available,
        ), out
    bad = run_env(tmp_path, env, "deposit", merchant, "USD", "0.001")
    assert bad.returncode == 2 and "invalid_amount" in bad.stderr, bad.stderr
    unknown = run_env(tmp_path, env, "deposit", merchant, "XYZ", "1")
    assert unknown.returncode == 2 and "currency_not_found" in unknown.stderr, unknown.stderr
    check = run_env(tmp_path, env, "ledger", "check", "--json")
    assert check.returncode == 0, check.stdout
    assert json.loads(check.stdout)["ok"]


async def test_review_resolve_checks_the_txid_by_the_networks_rule(
    h: Any, tmp_path: Path, database_url: str | None
) -> None:
    from payoutd.chains import sandbox

    env = (
        {"PAYOUTD_DATABASE_URL": database_url}
        if database_url
        else {"PAYOUTD_DATA_DIR": str(tmp_path)}
    )
    m = await h.merchant(BTC="1")
    address = "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"
    await sandbox.add_rule(h.rt.db, address=address, action="drop")
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.1", "currency": "BTC", "address": address},
    )
    payout_id = r.json()["id"]
    await h.settle()
    assert (await h.client.get(f"/v1/payouts/{payout_id}", headers=m.headers)).json()[
        "status"
    ] == "needs_review"
    for bad in ("0x" + "ab" * 32, "ab" * 31):
        done = run_env(tmp_path, env, "review", "resolve", payout_id, "--paid", "--txid", bad)
        assert done.returncode == 2 and "invalid_txid" in done.stderr, done.stderr
    done = run_env(
        tmp_path, env, "review", "resolve", payout_id, "--paid", "--txid", "cd" * 32, "--json"
    )
    assert done.returncode == 0, done.stderr
    assert (json.loads(done.stdout)["status"], json.loads(done.stdout)["txid"]) == (
        "paid",
        "cd" * 32,
    )
