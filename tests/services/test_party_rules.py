"""Wallet addresses of ramp payouts are checked by the chains' own address rules, the one
place payout addresses are checked (sol -> SOL, ethereum -> ETH, base -> BASE); and the
operator's funding accounts and wallets come from the configuration, checked at start."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from payoutd.bootstrap import Runtime, build
from payoutd.chains.addressing import validate_address
from payoutd.config import Funding, FundingBankAccount, FundingWallet, load_settings
from payoutd.domain.errors import PayoutdError
from payoutd.services import parties
from tests import support

SOL = "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"
EVM = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
TRON = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
BTC = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = build(support.test_settings(tmp_path, None))
    yield runtime
    runtime.db.engine.sync_engine.dispose()


@pytest.mark.parametrize(
    ("network", "address", "normalized"),
    [
        ("sol", SOL, SOL),
        ("ethereum", EVM, EVM),
        ("ethereum", EVM.lower(), EVM),  # EIP-55 checksummed on the way in
        ("base", EVM.lower(), EVM),
        ("SOL", SOL, SOL),
    ],
)
def test_valid_wallet_addresses(rt: Runtime, network: str, address: str, normalized: str) -> None:
    assert parties.check_wallet(rt.ctx, network, "usdc", address)[2] == normalized


@pytest.mark.parametrize(
    ("network", "address"),
    [
        ("sol", EVM),  # another family's address
        ("sol", SOL[:-3]),  # not 32 bytes any more
        ("sol", SOL.replace("h", "0")),  # 0 is not base58
        ("ethereum", SOL),
        ("ethereum", EVM[:-1] + "c"),  # mixed case with a broken EIP-55 checksum
        ("base", EVM[:-2]),  # too short
        ("base", TRON),
        ("ethereum", BTC),
    ],
)
def test_invalid_wallet_addresses(rt: Runtime, network: str, address: str) -> None:
    with pytest.raises(PayoutdError) as err:
        parties.check_wallet(rt.ctx, network, "usdt", address)
    assert (err.value.code, list(err.value.fields)) == ("invalid_address", ["address"])


@pytest.mark.parametrize(
    ("network", "currency", "field"),
    [("tron", "usdt", "network"), ("sol", "usd", "currency"), ("bitcoin", "usdc", "network")],
)
def test_only_sphere_networks_and_stablecoins(
    rt: Runtime, network: str, currency: str, field: str
) -> None:
    with pytest.raises(PayoutdError) as err:
        parties.check_wallet(rt.ctx, network, currency, SOL)
    assert (err.value.code, list(err.value.fields)) == ("validation_error", [field])


def test_sandbox_defaults_fund_every_ramp(rt: Runtime) -> None:
    """A fresh payoutd can run ramps: a USD account for ACH and wire, a EUR one for SEPA,
    a USDC and a USDT wallet on each network, every one valid and named by a stable id."""
    for network in ("wire", "ach", "achPush", "achPull"):
        usd = parties.funding_account(rt.ctx, "usd", network)
        assert usd.funding and usd.merchant_id is None and usd.routing_number
    eur = parties.funding_account(rt.ctx, "eur", "sepa")
    assert eur.iban and eur.bic
    wallets = {(w.network.value, w.currency.value) for w in parties.funding_wallets(rt.ctx)}
    assert wallets == {(n, c) for n in ("sol", "ethereum", "base") for c in ("usdc", "usdt")}
    for network, currency in wallets:
        wallet = parties.funding_wallet(rt.ctx, currency, network)
        assert wallet.funding and wallet.id.startswith("wallet_") and len(wallet.id) == 39
    assert [a.id for a in parties.check_funding(rt.ctx)] == [
        a.id for a in parties.check_funding(rt.ctx)
    ]
    with pytest.raises(PayoutdError) as err:
        parties.funding_account(rt.ctx, "eur", "wire")
    assert err.value.code == "service_not_found"


def test_funding_from_the_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "payoutd.toml"
    config.write_text(
        """
[[funding.bank_accounts]]
id = "bankAccount_c8ec5bdca412485ea50b7f5d1494e4a1"
currency = "usd"
holder_name = "Bridge Ventures Inc"
bank_name = "Lead Bank"
routing_number = "101206101"
account_number = "1000682035"
networks = ["wire"]

[[funding.wallets]]
network = "sol"
currency = "usdc"
address = "7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"
"""
    )
    monkeypatch.setenv("PAYOUTD_CONFIG_FILE", str(config))
    settings = load_settings(data_dir=tmp_path, sandbox_batch_window_seconds=0)
    runtime = build(settings)
    try:
        wire = parties.funding_account(runtime.ctx, "usd", "wire")
        assert wire.id == "bankAccount_c8ec5bdca412485ea50b7f5d1494e4a1"
        assert wire.account_number == "1000682035"
        with pytest.raises(PayoutdError):  # configured for wire only
            parties.funding_account(runtime.ctx, "usd", "ach")
        with pytest.raises(PayoutdError):  # no EUR account configured: none at all
            parties.funding_account(runtime.ctx, "eur", "sepa")
        assert parties.funding_wallet(runtime.ctx, "usdc", "sol").address == SOL
    finally:
        runtime.db.engine.sync_engine.dispose()


@pytest.mark.parametrize(
    ("funding", "named"),
    [
        (
            Funding(
                bank_accounts=[
                    FundingBankAccount(
                        currency="usd",
                        holder_name="x",
                        routing_number="101206102",
                        account_number="1234",
                    )
                ]
            ),
            "funding.bank_accounts[0]",
        ),
        (
            Funding(
                bank_accounts=[
                    FundingBankAccount(
                        currency="eur",
                        holder_name="x",
                        iban="DE89370400440532013000",
                        bic="COBADEFFXXX",
                        networks=["wire"],
                    )
                ]
            ),
            "funding.bank_accounts[0]",
        ),
        (
            Funding(wallets=[FundingWallet(network="base", currency="usdc", address=SOL)]),
            "funding.wallets[0]",
        ),
    ],
)
def test_a_bad_funding_entry_stops_the_start(tmp_path: Path, funding: Funding, named: str) -> None:
    settings = support.test_settings(tmp_path, None, funding=funding)
    with pytest.raises(parties.FundingConfigError, match=named.replace("[", r"\[")):
        build(settings)


class _OnARealNode:
    """A network moved onto a real node (a chains file): the same address rules, mode
    `live`. Only what funding_wallet asks of a chain."""

    mode = "live"

    def __init__(self, network: str) -> None:
        self.network = network

    def validate_address(self, address: str) -> str:
        return validate_address(self.network, address)


def test_a_sandbox_wallet_never_funds_a_network_on_a_real_node(rt: Runtime) -> None:
    chains: dict[str, Any] = {**rt.ctx.chains, "SOL": _OnARealNode("SOL")}
    live = dataclasses.replace(rt.ctx, chains=chains)
    with pytest.raises(PayoutdError) as err:
        parties.funding_wallet(live, "usdc", "sol")
    assert err.value.code == "service_not_found"
    # the networks still on the sandbox keep their sandbox wallets
    assert parties.funding_wallet(live, "usdc", "base").sandbox
    # a wallet of the operator's own serves the real network
    own = Funding(wallets=[FundingWallet(network="sol", currency="usdc", address=SOL)])
    settings = rt.settings.model_copy(update={"funding": own})
    mine = dataclasses.replace(live, settings=settings)
    assert parties.funding_wallet(mine, "usdc", "sol").address == SOL
