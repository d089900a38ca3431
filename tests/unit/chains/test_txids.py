"""validate_txid: a transaction id in its network's own form (real mainnet txids), and
the sandbox's txids in that form too."""

from __future__ import annotations

import hashlib
from typing import Final

import base58
import pytest

from payoutd.chains.addressing import TxidError, validate_txid
from payoutd.chains.sandbox import sandbox_txid
from payoutd.domain.assets import NETWORKS

BTC_GENESIS_COINBASE: Final = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
ETH_TX: Final = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
TRON_TX: Final = "c5b7a0b7e4d58d1b6b3c2d0c3f5e5a2b8c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f"
SOL_SIG: Final = (
    "5VERv8NMvzbJMEkV8xnrLkEaWRtSz9CosKDYjCJjBRnbJLgp8uirBgmQpjKhoR4tjF3ZpRzrFmBV6UjKdiSZkQUW"
)
TON_HASH_HEX: Final = "b113a994b5024a16719f69139328eb759596c38a25f59028b146fecdc3621dfe"
TON_HASH_B64URL: Final = "sROplLUCShZxn2kTkyjrdZWWw4ol9ZAosUb-zcNiHf4="

VALID: Final = [
    ("BTC", BTC_GENESIS_COINBASE, BTC_GENESIS_COINBASE),
    ("LTC", BTC_GENESIS_COINBASE.upper(), BTC_GENESIS_COINBASE),
    ("DOGE", BTC_GENESIS_COINBASE, BTC_GENESIS_COINBASE),
    ("ETH", ETH_TX, ETH_TX),
    ("BASE", ETH_TX.upper().replace("0X", "0x"), ETH_TX),
    ("TRON", TRON_TX, TRON_TX),
    ("SOL", SOL_SIG, SOL_SIG),
    ("TON", TON_HASH_HEX, TON_HASH_HEX),
    ("TON", TON_HASH_B64URL, TON_HASH_B64URL),
]
INVALID: Final = [
    ("BTC", "ab" * 31),  # too short
    ("BTC", "0x" + BTC_GENESIS_COINBASE),  # an EVM hash on a UTXO chain
    ("BTC", "zz" * 32),
    ("BTC", BTC_GENESIS_COINBASE + " "),
    ("ETH", BTC_GENESIS_COINBASE),  # no 0x
    ("ETH", "0x" + "ab" * 31),
    ("ETH", "0x" + "g" * 64),
    ("TRON", ETH_TX),
    ("SOL", BTC_GENESIS_COINBASE),  # hex is not a base58 signature of 64 bytes
    ("SOL", SOL_SIG[:40]),
    ("SOL", SOL_SIG.replace("5", "0", 1)),  # 0 is not in base58
    ("TON", "ab" * 31),
    ("TON", ETH_TX),
    ("BTC", ""),
    ("BTC", "a" * 500),
]


@pytest.mark.parametrize(("network", "txid", "normalized"), VALID)
def test_valid_txids(network: str, txid: str, normalized: str) -> None:
    assert validate_txid(network, txid) == normalized


@pytest.mark.parametrize(("network", "txid"), INVALID)
def test_invalid_txids(network: str, txid: str) -> None:
    with pytest.raises(TxidError, match=f"Invalid {network} txid"):
        validate_txid(network, txid)


@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_the_sandbox_names_transactions_as_its_network_does(network: str) -> None:
    txid = sandbox_txid(network, '{"outputs": []}')
    assert validate_txid(network, txid) == txid
    assert sandbox_txid(network, '{"outputs": [1]}') != txid


def test_a_solana_signature_is_64_bytes() -> None:
    assert len(base58.b58decode(SOL_SIG)) == 64
    assert validate_txid("SOL", base58.b58encode(hashlib.sha512(b"x").digest()).decode())
