"""The Solana adapter's transactions, built and signed offline and run in-process by
LiteSVM (solders.litesvm: the real System, SPL Token and Associated Token Account
programs): every transfer lands, the compute-unit limits the adapter sets are enough,
and the fee it records is the fee the runtime charges."""

from __future__ import annotations

import json
import pickle
import struct

import base58
import pytest
from solders.account import Account
from solders.keypair import Keypair
from solders.litesvm import LiteSVM
from solders.pubkey import Pubkey
from solders.transaction_metadata import FailedTransactionMetadata, TransactionMetadata

from payoutd.chains.solana.adapter import (
    PACKET_DATA_SIZE,
    TOKEN_PROGRAM,
    SolanaChain,
    associated_token_account,
)
from payoutd.chains.solana.wallet import HotWallet
from payoutd.domain.assets import ASSETS

USDC = ASSETS[("USDC", "SOL")]
MINT = Pubkey.from_string(str(USDC.contract))


def mint_account(svm: LiteSVM) -> Account:
    data = struct.pack("<I32sQBBI32s", 0, bytes(32), 10**15, 6, 1, 0, bytes(32))
    return Account(svm.minimum_balance_for_rent_exemption(82), data, TOKEN_PROGRAM)


def token_account(svm: LiteSVM, owner: Pubkey, amount: int) -> Account:
    # mint, owner, amount, delegate (none), state initialized, not native, no delegated
    # amount, no close authority: SPL Token's 165-byte Account
    data = (
        bytes(MINT)
        + bytes(owner)
        + struct.pack("<Q", amount)
        + struct.pack("<I32s", 0, bytes(32))
        + bytes([1])
        + struct.pack("<IQ", 0, 0)
        + struct.pack("<Q", 0)
        + struct.pack("<I32s", 0, bytes(32))
    )
    return Account(svm.minimum_balance_for_rent_exemption(165), data, TOKEN_PROGRAM)


@pytest.fixture
def svm_and_chain() -> tuple[LiteSVM, SolanaChain, Keypair]:
    svm = LiteSVM()
    hot = Keypair()
    svm.airdrop(hot.pubkey(), 100 * 10**9)
    svm.set_account(MINT, mint_account(svm))
    svm.set_account(
        associated_token_account(hot.pubkey(), MINT), token_account(svm, hot.pubkey(), 10**12)
    )
    chain = SolanaChain(
        "SOL",
        "http://127.0.0.1:9",  # never called: these tests build, LiteSVM runs
        HotWallet(hot),
        confirmations=2,
        batch_window_seconds=None,
    )
    return svm, chain, hot


@pytest.mark.parametrize("priority", ["economy", "recommended", "highest"])
def test_sol_transfers_land_within_their_compute_limit_and_cost_what_was_recorded(
    svm_and_chain: tuple[LiteSVM, SolanaChain, Keypair], priority: str
) -> None:
    svm, chain, hot = svm_and_chain
    owners = [Keypair().pubkey() for _ in range(45)]
    units = [10**7 + i for i in range(45)]  # above the rent-exempt minimum of a new account
    blockhash = svm.latest_blockhash()
    groups = chain._group(owners, units, None, [True] * 45, 9, priority, blockhash)
    assert len(groups) == 3 and [i for g in groups for i in g] == list(range(45))
    before = svm.get_balance(hot.pubkey()) or 0
    for g in groups:
        message = chain._message(
            [owners[i] for i in g],
            [units[i] for i in g],
            [True] * len(g),
            None,
            9,
            priority,
            blockhash,
        )
        tx = chain.wallet.sign(message, blockhash)
        assert len(bytes(tx)) <= PACKET_DATA_SIZE
        result = svm.send_transaction(tx)
        assert isinstance(result, TransactionMetadata)
        assert result.compute_units_consumed() <= chain._units(len(g), 0, False)
        assert result.fee() == chain._tx_fee(len(g), 0, priority, token=False)
    assert [svm.get_balance(o) for o in owners] == units
    fees = sum(chain._tx_fee(len(g), 0, priority, token=False) for g in groups)
    assert before - (svm.get_balance(hot.pubkey()) or 0) == sum(units) + fees


def test_token_transfers_create_missing_accounts_within_their_compute_limit(
    svm_and_chain: tuple[LiteSVM, SolanaChain, Keypair],
) -> None:
    svm, chain, hot = svm_and_chain
    owners = [Keypair().pubkey() for _ in range(20)]
    # every other recipient already holds a USDC account
    missing = [i % 2 == 0 for i in range(20)]
    for owner, absent in zip(owners, missing, strict=True):
        if not absent:
            svm.set_account(associated_token_account(owner, MINT), token_account(svm, owner, 0))
    units = [1_000_000 * (i + 1) for i in range(20)]
    blockhash = svm.latest_blockhash()
    groups = chain._group(owners, units, MINT, missing, 6, "high", blockhash)
    assert 1 < len(groups) < 20
    rent = svm.minimum_balance_for_rent_exemption(165)
    before = svm.get_balance(hot.pubkey()) or 0
    expected_fees = 0
    for g in groups:
        created = sum(missing[i] for i in g)
        message = chain._message(
            [owners[i] for i in g],
            [units[i] for i in g],
            [missing[i] for i in g],
            MINT,
            6,
            "high",
            blockhash,
        )
        tx = chain.wallet.sign(message, blockhash)
        assert len(bytes(tx)) <= PACKET_DATA_SIZE
        result = svm.send_transaction(tx)
        assert isinstance(result, TransactionMetadata), (
            result.meta().pretty_logs() if isinstance(result, FailedTransactionMetadata) else ""
        )
        assert result.compute_units_consumed() <= chain._units(len(g), created, True)
        assert result.fee() == chain._tx_fee(len(g), created, "high", token=True)
        expected_fees += result.fee() + rent * created
    for owner, amount in zip(owners, units, strict=True):
        account = svm.get_account(associated_token_account(owner, MINT))
        assert account is not None
        assert int.from_bytes(bytes(account.data)[64:72], "little") == amount
    # what the hot wallet paid in SOL: the fees and the new accounts' rent, as recorded
    assert before - (svm.get_balance(hot.pubkey()) or 0) == expected_fees


def test_a_transfer_below_a_new_accounts_rent_fails_the_whole_transaction(
    svm_and_chain: tuple[LiteSVM, SolanaChain, Keypair],
) -> None:
    """Why prepare() refuses such an output up front: one would sink its batch."""
    svm, chain, _ = svm_and_chain
    owners = [Keypair().pubkey(), Keypair().pubkey()]
    blockhash = svm.latest_blockhash()
    message = chain._message(owners, [10**7, 1000], [True, True], None, 9, None, blockhash)
    result = svm.send_transaction(chain.wallet.sign(message, blockhash))
    assert isinstance(result, FailedTransactionMetadata)
    assert svm.get_balance(owners[0]) in (None, 0)


def test_the_wallet_reads_both_keypair_forms_and_never_shows_the_secret() -> None:
    keypair = Keypair()
    secret = bytes(keypair)
    for text in (base58.b58encode(secret).decode(), json.dumps(list(secret))):
        wallet = HotWallet.from_secret(text)
        assert wallet.address == str(keypair.pubkey())
        assert text not in repr(wallet) and base58.b58encode(secret).decode() not in str(wallet)
    with pytest.raises(ValueError):
        HotWallet.from_secret(base58.b58encode(secret[:32]).decode())
    with pytest.raises(TypeError):
        pickle.dumps(HotWallet(keypair))
