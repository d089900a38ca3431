"""`payoutd customers|bank-accounts|wallets` against a real SQLite file, as separate
processes: create, list with --json, the operator's KYC decision, refusals exit 2 with
their code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli import run

pytestmark = pytest.mark.e2e


def test_customers_bank_accounts_and_wallets(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    merchant = json.loads(run(tmp_path, "merchant", "create", "Acme", "--json").stdout)
    m = merchant["merchant_id"]

    made = run(tmp_path, "customers", "create", m, "--name", "Ada", "--lookup-key", "u1", "--json")
    assert made.returncode == 0, made.stderr
    customer = json.loads(made.stdout)
    assert customer["id"].startswith("customer_") and customer["kyc_status"] == "pending"

    kyc = run(tmp_path, "customers", "kyc", customer["id"], "approved", "--json")
    assert kyc.returncode == 0, kyc.stderr
    assert json.loads(kyc.stdout)["kyc_status"] == "approved"

    listed = run(tmp_path, "customers", "list", m, "--lookup-key", "u1", "--json")
    assert [c["id"] for c in json.loads(listed.stdout)["data"]] == [customer["id"]]
    assert (
        json.loads(run(tmp_path, "customers", "list", m, "--lookup-key", "x", "--json").stdout)[
            "data"
        ]
        == []
    )

    acct = run(
        tmp_path, "bank-accounts", "create", m, "--customer", customer["id"], "--currency", "eur",
        "--holder-name", "Ada", "--iban", "DE89370400440532013000", "--bic", "COBADEFFXXX",
        "--json",
    )  # fmt: skip
    assert acct.returncode == 0, acct.stderr
    account = json.loads(acct.stdout)
    assert account["iban"] == "********3000"
    listed = run(tmp_path, "bank-accounts", "list", m, "--json")
    assert [a["id"] for a in json.loads(listed.stdout)["data"]] == [account["id"]]

    bad = run(
        tmp_path, "bank-accounts", "create", m, "--customer", customer["id"], "--currency", "usd",
        "--holder-name", "Ada", "--routing-number", "101206102", "--account-number", "12345",
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid_routing_number" in bad.stderr

    wallet = run(
        tmp_path, "wallets", "create", m, "--customer", customer["id"], "--network", "sol",
        "--currency", "usdc", "--address", "DuUf1ThgCQcwrrW6X6dw5MTwsHcTrxSg1rMhSSbvL1Zr",
        "--json",
    )  # fmt: skip
    assert wallet.returncode == 0, wallet.stderr
    listed = run(tmp_path, "wallets", "list", m, "--json")
    assert [w["id"] for w in json.loads(listed.stdout)["data"]] == [json.loads(wallet.stdout)["id"]]
    text = run(tmp_path, "wallets", "list", m)
    assert "usdc on sol" in text.stdout

    nobody = run(tmp_path, "customers", "create", "no-such-merchant", "--name", "X")
    assert nobody.returncode == 2 and "merchant_not_found" in nobody.stderr
