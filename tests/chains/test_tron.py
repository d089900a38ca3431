"""The TRON adapter: local transaction encoding and signing checked against TronGrid's own
transactions and an independent secp256k1 implementation, then end to end through
payoutd (API -> worker -> broadcast -> confirmation) against a local HTTP server that
answers in TronGrid's format and verifies every signature itself (tests/chains/trongrid.py).
"""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import base58
import pytest
import structlog
from eth_keyfile.keyfile import create_keyfile_json
from sqlalchemy import select

from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.tron import transaction as codec
from payoutd.chains.tron.adapter import TronChain
from payoutd.chains.tron.wallet import HotWallet
from payoutd.domain.assets import ASSETS
from payoutd.domain.batching import Output
from payoutd.services import execution
from payoutd.services.ports import ChainUnavailable, OutputRejected, Rejected, TxState
from payoutd.store.tables import metadata
from payoutd.worker import jobs
from tests import support
from tests.chains.trongrid import (
    TronGrid,
    address_of_private_key,
    b58_to_hex,
    decode_raw,
    recover_signer,
)

KEY = hashlib.sha256(b"payoutd tron test hot wallet").hexdigest()
KEY_ENV = "PAYOUTD_TEST_TRON_KEY"
API_KEY = "trongrid-api-key-for-tests"
API_KEY_ENV = "PAYOUTD_TEST_TRONGRID_KEY"
HOT = address_of_private_key(KEY)  # computed with python-ecdsa, not with payoutd
USDT = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
TRX_ASSET = ASSETS[("TRX", "TRON")]
USDT_ASSET = ASSETS[("USDT", "TRON")]
EXPIRATION = 60  # seconds of chain time: 20 blocks


def recipient(label: str) -> str:
    return base58.b58encode_check(b"\x41" + hashlib.sha256(label.encode()).digest()[:20]).decode()


R1, R2, R3 = recipient("alice"), recipient("bob"), recipient("carol")

# Transactions TronGrid (Nile) created itself, from TRON's HTTP API reference
# (tronprotocol/documentation-en: createtransaction.md, triggersmartcontract.md,
# triggerconstantcontract.md) and a mainnet TRX transfer with its signature from
# LedgerHQ/ledger-live (coin-tron types.fixture.ts). Their raw_data_hex hashes to their txID.
TRONGRID_SAMPLES: list[dict[str, Any]] = [
    {
        "txID": "6303c7639f591407ef9f34a7ac8c9c9a21151f5a6af21924502515734fc267ab",
        "raw_data": {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "amount": 1000000,
                            "owner_address": "41dd791d6b49e190062d650e6a23c575510d35f2f9",
                            "to_address": "4192ad11c1bf16b3b14b0bd6b5c7e2db73a0b5e83a",
                        },
                        "type_url": "type.googleapis.com/protocol.TransferContract",
                    },
                    "type": "TransferContract",
                }
            ],
            "ref_block_bytes": "2927",
            "ref_block_hash": "939ece39d08a7abe",
            "expiration": 1777447527000,
            "timestamp": 1777447470038,
        },
        "raw_data_hex": (
            "0a0229272208939ece39d08a7abe40d8c483c1dd335a67080112630a2d747970652e676f"
            "6f676c65617069732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261"
            "637412320a1541dd791d6b49e190062d650e6a23c575510d35f2f912154192ad11c1bf16"
            "b3b14b0bd6b5c7e2db73a0b5e83a18c0843d70d68780c1dd33"
        ),
    },
    # the page's JSON shows `data` with one hex digit too many (137); the 136 digits here
    # are those in its raw_data_hex, which hashes to the txID
    {
        "txID": "8c621a0dc9bd4d405b20d0a43143955b9f546f98bbfde1aec295a65b0f925629",
        "raw_data": {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "data": "a9059cbb000000000000000000000000"
                            "088a2bfcb1c7271029fd69a66859d55560895884"
                            "0000000000000000000000000000000000000000000000000000000000000064",
                            "owner_address": "41dd791d6b49e190062d650e6a23c575510d35f2f9",
                            "contract_address": "41eca9bc828a3005b9a3b909f2cc5c2a54794de05f",
                        },
                        "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                    },
                    "type": "TriggerSmartContract",
                }
            ],
            "ref_block_bytes": "28c3",
            "ref_block_hash": "ce6d340282788569",
            "fee_limit": 100000000,
            "expiration": 1777447227000,
            "timestamp": 1777447168009,
        },
        "raw_data_hex": (
            "0a0228c32208ce6d34028278856940f89cf1c0dd335aae01081f12a9010a31747970652e"
            "676f6f676c65617069732e636f6d2f70726f746f636f6c2e54726967676572536d617274"
            "436f6e747261637412740a1541dd791d6b49e190062d650e6a23c575510d35f2f9121541"
            "eca9bc828a3005b9a3b909f2cc5c2a54794de05f2244a9059cbb00000000000000000000"
            "0000088a2bfcb1c7271029fd69a66859d555608958840000000000000000000000000000"
            "0000000000000000000000000000000000647089d0edc0dd33900180c2d72f"
        ),
    },
    {
        "txID": "cff6488e738ce77f7325572fe0aa2470f87dbf1c95eeeb2c25feec59d5afa35c",
        "raw_data": {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "data": "70a08231000000000000000000000000"
                            "dd791d6b49e190062d650e6a23c575510d35f2f9",
                            "owner_address": "41dd791d6b49e190062d650e6a23c575510d35f2f9",
                            "contract_address": "41eca9bc828a3005b9a3b909f2cc5c2a54794de05f",
                        },
                        "type_url": "type.googleapis.com/protocol.TriggerSmartContract",
                    },
                    "type": "TriggerSmartContract",
                }
            ],
            "ref_block_bytes": "28c0",
            "ref_block_hash": "9eabbe133123b34c",
            "expiration": 1777447218000,
            "timestamp": 1777447160779,
        },
        "raw_data_hex": (
            "0a0228c022089eabbe133123b34c40d0d6f0c0dd335a8e01081f1289010a31747970652e"
            "676f6f676c65617069732e636f6d2f70726f746f636f6c2e54726967676572536d617274"
            "436f6e747261637412540a1541dd791d6b49e190062d650e6a23c575510d35f2f9121541"
            "eca9bc828a3005b9a3b909f2cc5c2a54794de05f222470a0823100000000000000000000"
            "0000dd791d6b49e190062d650e6a23c575510d35f2f970cb97edc0dd33"
        ),
    },
    {
        "txID": "47086db397eac45d2fe7dacedcb6f77267d6895dce645210e495e64f8a2a7910",
        "signature": [
            "c1c0b1ad18f56248ebc6820c611cd65683cef6b5deed8002246cc00df7e79f9f73d48c35"
            "b8c2e41694ef23c8020ab8c578c0aa57b7e079683f322e45c88b0e0700"
        ],
        "raw_data": {
            "contract": [
                {
                    "parameter": {
                        "value": {
                            "amount": 5,
                            "owner_address": "419b3281a60ab7a44f351ef2896c653f134972ad22",
                            "to_address": "4105cc125604448afeb6867eb688efb7e80411d57a",
                        },
                        "type_url": "type.googleapis.com/protocol.TransferContract",
                    },
                    "type": "TransferContract",
                }
            ],
            "ref_block_bytes": "fdf6",
            "ref_block_hash": "4cd898aed8ce5d14",
            "expiration": 1717419846000,
            "timestamp": 1717419788444,
        },
        "raw_data_hex": (
            "0a02fdf622084cd898aed8ce5d1440f0d2ccf1fd315a65080112610a2d747970652e676f"
            "6f676c65617069732e636f6d2f70726f746f636f6c2e5472616e73666572436f6e747261"
            "637412300a15419b3281a60ab7a44f351ef2896c653f134972ad2212154105cc12560444"
            "8afeb6867eb688efb7e80411d57a1805709c91c9f1fd31"
        ),
    },
]


# --- the encoding and the signature, offline --------------------------------------------


@pytest.mark.parametrize("sample", TRONGRID_SAMPLES, ids=lambda s: s["txID"][:10])
def test_local_encoding_reproduces_transactions_trongrid_built(sample: dict[str, Any]) -> None:
    assert hashlib.sha256(bytes.fromhex(sample["raw_data_hex"])).hexdigest() == sample["txID"]
    assert codec.encode_raw(sample["raw_data"]).hex() == sample["raw_data_hex"]
    assert codec.txid_of(sample["raw_data_hex"]) == sample["txID"]
    # and the test node's own protobuf reader agrees with TronGrid's JSON
    assert decode_raw(sample["raw_data_hex"]) == sample["raw_data"]


def test_the_independent_verifier_recovers_a_real_mainnet_signer() -> None:
    """The check the test node applies, first proven on a signature made by a real wallet."""
    sample = TRONGRID_SAMPLES[-1]
    owner = sample["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"]
    assert recover_signer(sample["txID"], sample["signature"][0]) == owner


def test_signatures_made_by_payoutd_verify_with_python_ecdsa() -> None:
    wallet = HotWallet(bytes.fromhex(KEY))
    assert wallet.address == HOT  # the address python-ecdsa derives from the same key
    assert wallet.address_hex == b58_to_hex(HOT)
    for i in range(20):
        txid = hashlib.sha256(f"tx {i}".encode()).hexdigest()
        signature = wallet.sign(bytes.fromhex(txid))
        assert len(bytes.fromhex(signature)) == 65 and signature[-2:] in ("00", "01")
        assert recover_signer(txid, signature) == wallet.address_hex
    other = hashlib.sha256(b"another").hexdigest()
    assert recover_signer(other, wallet.sign(bytes.fromhex(txid))) != wallet.address_hex


def test_trc20_call_data() -> None:
    data = codec.trc20_transfer_data(R1, 12_345_678)
    assert data == ("a9059cbb" + b58_to_hex(R1)[2:].rjust(64, "0") + f"{12_345_678:064x}")


# --- the adapter against the test node --------------------------------------------------


@pytest.fixture
def grid() -> Iterator[TronGrid]:
    node = TronGrid().start()
    node.deploy_token(USDT)
    node.fund(HOT, "1000")
    node.fund_token(USDT, HOT, "1000")
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(API_KEY_ENV, API_KEY)


def chain_for(grid: TronGrid, **options: Any) -> TronChain:
    return TronChain.from_config(
        NetworkConfig(
            "TRON",
            "tron",
            url=grid.url,
            confirmations=2,
            batch_window_seconds=0,
            options={
                "private_key_env": KEY_ENV,
                "api_key_env": API_KEY_ENV,
                "ref_block_depth": 3,
                "expiration_seconds": EXPIRATION,
                **options,
            },
        )
    )


@pytest.mark.usefixtures("secrets")
async def test_prepare_signs_one_transaction_per_output_on_a_recent_block(grid: TronGrid) -> None:
    chain = chain_for(grid)
    head, ref = grid.blocks[-1], grid.blocks[-4]
    tx = await chain.prepare(
        "b1",
        TRX_ASSET,
        [Output(R1, Decimal("1.5")), Output(R2, Decimal("2.000001"))],
        None,
        payout_count=3,
        next_sequence=None,
    )
    signed = json.loads(tx.raw)
    assert [t["txID"] for t in signed] == list(tx.output_txids) and tx.txid == signed[0]["txID"]
    assert tx.fee == Decimal("2.2") and tx.unbatched_fee == Decimal("3.3")
    assert tx.fee_currency == "TRX" and tx.sequence_end is None and tx.output_amounts == ()
    for t, (to, sun) in zip(signed, [(R1, 1_500_000), (R2, 2_000_001)], strict=True):
        raw = t["raw_data"]
        assert set(t) == {"visible", "txID", "raw_data", "raw_data_hex", "signature"}
        assert hashlib.sha256(bytes.fromhex(t["raw_data_hex"])).hexdigest() == t["txID"]
        assert decode_raw(t["raw_data_hex"]) == raw
        assert recover_signer(t["txID"], t["signature"][0]) == b58_to_hex(HOT)
        assert raw["contract"][0]["parameter"]["value"] == {
            "amount": sun,
            "owner_address": b58_to_hex(HOT),
            "to_address": b58_to_hex(to),
        }
        assert (raw["ref_block_bytes"], raw["ref_block_hash"]) == (
            ref["blockID"][12:16],
            ref["blockID"][16:32],
        )
        assert raw["expiration"] == head["timestamp"] + EXPIRATION * 1000
        assert "fee_limit" not in raw
    # the same payment twice in a row is two different transactions
    again = await chain.prepare(
        "b2", TRX_ASSET, [Output(R1, Decimal("1.5"))], None, payout_count=1, next_sequence=None
    )
    assert again.txid != tx.txid

    token = await chain.prepare(
        "b3", USDT_ASSET, [Output(R3, Decimal("7.25"))], None, payout_count=2, next_sequence=None
    )
    (t,) = json.loads(token.raw)
    value = t["raw_data"]["contract"][0]["parameter"]["value"]
    assert t["raw_data"]["contract"][0]["type"] == "TriggerSmartContract"
    assert value["contract_address"] == b58_to_hex(USDT)
    assert value["data"] == codec.trc20_transfer_data(R3, 7_250_000)
    assert t["raw_data"]["fee_limit"] == 30_000_000
    assert recover_signer(t["txID"], t["signature"][0]) == b58_to_hex(HOT)
    assert token.fee == Decimal("30.35") and token.unbatched_fee == Decimal("60.70")


@pytest.mark.usefixtures("secrets")
async def test_outputs_that_cannot_be_sent_are_refused_before_signing(grid: TronGrid) -> None:
    chain = chain_for(grid)
    with pytest.raises(OutputRejected) as refused:
        await chain.prepare(
            "b",
            TRX_ASSET,
            [
                Output(R1, Decimal("1.1"), subtract_fee=True),
                Output(HOT, Decimal("3")),
                Output(R2, Decimal("5"), subtract_fee=True),
            ],
            None,
            payout_count=3,
            next_sequence=None,
        )
    assert refused.value.indices == frozenset({0, 1})
    tx = await chain.prepare(
        "b",
        TRX_ASSET,
        [Output(R2, Decimal("5"), subtract_fee=True)],
        None,
        payout_count=1,
        next_sequence=None,
    )
    assert tx.output_amounts == (Decimal("3.900000"),)
    value = json.loads(tx.raw)[0]["raw_data"]["contract"][0]["parameter"]["value"]
    assert value["amount"] == 3_900_000


@pytest.mark.usefixtures("secrets")
async def test_nothing_is_built_on_a_node_that_lags_behind() -> None:
    grid = TronGrid(lag_seconds=600).start()
    try:
        with pytest.raises(ChainUnavailable, match="s old"):
            await chain_for(grid).prepare(
                "b", TRX_ASSET, [Output(R1, Decimal("1"))], None, payout_count=1, next_sequence=None
            )
    finally:
        grid.stop()


@pytest.mark.usefixtures("secrets")
async def test_shortfall_reads_the_hot_wallets_balances(grid: TronGrid) -> None:
    chain = chain_for(grid)
    assert await chain.shortfall(TRX_ASSET, [Output(R1, Decimal("998.9"))]) is None
    short = await chain.shortfall(TRX_ASSET, [Output(R1, Decimal("999"))])
    assert short == f"hot wallet {HOT} holds 1000 TRX, the batch needs up to 1000.1 TRX"
    assert (
        await chain.shortfall(TRX_ASSET, [Output(R1, Decimal("1000"), subtract_fee=True)]) is None
    )
    assert await chain.shortfall(USDT_ASSET, [Output(R1, Decimal("1000"))]) is None
    short = await chain.shortfall(
        USDT_ASSET, [Output(R1, Decimal("600")), Output(R2, Decimal("400.000001"))]
    )
    assert short == f"hot wallet {HOT} holds 1000 USDT, the batch pays 1000.000001"
    outputs = [Output(recipient(str(i)), Decimal("1")) for i in range(33)]
    short = await chain.shortfall(USDT_ASSET, outputs)
    assert short is not None and "may burn up to 1001.55 TRX" in short
    grid.down = True
    with pytest.raises(ChainUnavailable):
        await chain.shortfall(TRX_ASSET, [Output(R1, Decimal("1"))])
    assert grid.api_keys and set(grid.api_keys) == {API_KEY}


@pytest.mark.usefixtures("secrets")
async def test_broadcast_answers(grid: TronGrid) -> None:
    chain = chain_for(grid)
    tx = await chain.prepare(
        "b", TRX_ASSET, [Output(R1, Decimal("2"))], None, payout_count=1, next_sequence=None
    )
    await chain.broadcast(tx)
    await chain.broadcast(tx)  # DUP_TRANSACTION_ERROR: already known
    assert [r["txID"] for r in grid.received] == [tx.txid, tx.txid]
    assert grid.received[0] == json.loads(tx.raw)[0]
    assert (await chain.status(tx)).state == "mempool"  # pooled, not in a block yet
    grid.restart()
    assert (await chain.status(tx)).state == "unknown"  # lost: to be offered again
    await chain.broadcast(tx)
    grid.mine()
    assert await chain.status(tx) == TxState("mined", 1)
    grid.mine()
    assert (await chain.status(tx)).confirmations == 2

    grid.refuse_transactions_to(R2, "CONTRACT_VALIDATE_ERROR")
    refused = await chain.prepare(
        "b", TRX_ASSET, [Output(R2, Decimal("2"))], None, payout_count=1, next_sequence=None
    )
    with pytest.raises(Rejected, match="CONTRACT_VALIDATE_ERROR: refused by the test"):
        await chain.broadcast(refused)
    grid.refuse_transactions_to(R3, "SERVER_BUSY")
    busy = await chain.prepare(
        "b", TRX_ASSET, [Output(R3, Decimal("2"))], None, payout_count=1, next_sequence=None
    )
    with pytest.raises(ChainUnavailable, match="SERVER_BUSY"):
        await chain.broadcast(busy)
    grid.down = True
    with pytest.raises(ChainUnavailable, match="HTTP 503"):
        await chain.broadcast(tx)
    assert grid.verification_failures == []


@pytest.mark.usefixtures("secrets")
async def test_the_test_node_refuses_what_a_real_node_would(grid: TronGrid) -> None:
    """Its checks are not for show: a changed amount, or another key, is SIGERROR."""
    chain = chain_for(grid)
    tx = await chain.prepare(
        "b", TRX_ASSET, [Output(R1, Decimal("2"))], None, payout_count=1, next_sequence=None
    )
    (good,) = json.loads(tx.raw)
    tampered = json.loads(tx.raw)
    tampered[0]["raw_data"]["contract"][0]["parameter"]["value"]["amount"] = 2_000_001
    other = HotWallet(hashlib.sha256(b"not the hot wallet").digest())
    forged = json.loads(tx.raw)
    forged[0]["signature"] = [other.sign(bytes.fromhex(good["txID"]))]
    for bad in (tampered, forged):
        with pytest.raises(Rejected, match="SIGERROR"):
            await chain.broadcast(replace(tx, raw=json.dumps(bad)))
        grid.restart()  # forget the id, so the next one is judged on its merits
    assert len(grid.verification_failures) == 2 and not grid.accepted
    await chain.broadcast(tx)
    assert list(grid.accepted) == [tx.txid]


# --- the hot wallet's key ----------------------------------------------------------------


def test_keystore_key_and_what_a_wrong_configuration_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    passphrase = "correct horse battery staple"
    keystore = tmp_path / "tron.json"
    keystore.write_text(
        json.dumps(
            create_keyfile_json(
                bytes.fromhex(KEY), passphrase.encode(), kdf="pbkdf2", iterations=1000
            )
        )
    )
    monkeypatch.setenv("PASS", passphrase)
    options: dict[str, Any] = {"keystore": str(keystore), "passphrase_env": "PASS"}
    wallet = HotWallet.from_config(NetworkConfig("TRON", "tron", options=options))
    assert wallet.address == HOT
    assert KEY not in repr(wallet) and KEY not in str(wallet)
    with pytest.raises(TypeError):
        pickle.dumps(wallet)
    assert (
        HotWallet.from_config(
            NetworkConfig("TRON", "tron", options={**options, "address": HOT})
        ).address
        == HOT
    )

    def error(opts: dict[str, Any]) -> str:
        with pytest.raises(ChainsFileError) as exc:
            TronChain.from_config(NetworkConfig("TRON", "tron", url="http://x", options=opts))
        return str(exc.value)

    monkeypatch.setenv("WRONG", "not it")
    message = error({**options, "passphrase_env": "WRONG"})
    assert "cannot open keystore" in message and "not it" not in message
    assert "keystore needs passphrase_env" in error({"keystore": str(keystore)})
    assert "private_key_env" in error({})
    monkeypatch.setenv("BAD", "zz" + KEY[2:])
    message = error({"private_key_env": "BAD"})
    assert "does not hold a hex key" in message and KEY[2:] not in message
    monkeypatch.setenv(KEY_ENV, KEY)
    assert "is for" in error({"private_key_env": KEY_ENV, "address": R1})
    assert "unknown keys fee" in error({"private_key_env": KEY_ENV, "fee": "1"})
    assert "fee_limit" in error({"private_key_env": KEY_ENV, "fee_limit": "20000"})
    assert "6 decimals" in error({"private_key_env": KEY_ENV, "trx_fee": "0.0000001"})
    assert "timeout_seconds" in error({"private_key_env": KEY_ENV, "timeout_seconds": "x"})
    assert "not set" in error({"private_key_env": "PAYOUTD_TEST_UNSET_VARIABLE"})
    chain = TronChain.from_config(
        NetworkConfig("TRON", "tron", url="http://x", options={"private_key_env": KEY_ENV})
    )
    assert KEY not in repr(chain) and chain.confirmations == 2


# --- end to end through payoutd ---------------------------------------------------------


def chains_file(tmp_path: Path, grid: TronGrid, **options: Any) -> Path:
    options = {"private_key_env": KEY_ENV, "api_key_env": API_KEY_ENV, **options}
    lines = [
        "[networks.TRON]",
        'adapter = "tron"',
        f'url = "{grid.url}"',
        "confirmations = 2",
        "batch_window_seconds = 0",
        "ref_block_depth = 3",
        f"expiration_seconds = {EXPIRATION}",
        *(f"{k} = {json.dumps(v)}" for k, v in options.items() if v is not None),
    ]
    path = tmp_path / "chains.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@asynccontextmanager
async def payoutd(
    grid: TronGrid,
    tmp_path: Path,
    database_url: str | None,
    *,
    truncate: bool = True,
    **options: Any,
) -> AsyncIterator[support.Harness]:
    settings = support.test_settings(
        tmp_path, database_url, chains_file=chains_file(tmp_path, grid, **options)
    )
    async with support.harness(settings, truncate=truncate and database_url is not None) as h:
        assert isinstance(h.rt.ctx.chains["TRON"], TronChain)
        yield h


async def create(h: support.Harness, m: support.Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json={"network": "TRON", **body})
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


@pytest.mark.usefixtures("secrets")
async def test_trx_and_usdt_payouts_are_signed_sent_and_confirmed(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(TRX="100", USDT="100")
        trx = [
            await create(h, m, currency="TRX", amount="5", address=R1),
            await create(h, m, currency="TRX", amount="7.5", address=R2),
            await create(h, m, currency="TRX", amount="10", address=R3, fee_mode="from_amount"),
        ]
        usdt = [
            await create(h, m, currency="USDT", amount="10", address=R1),
            await create(h, m, currency="USDT", amount="20.5", address=R3),
        ]
        assert trx[0]["fees"]["network"] == "1.100000" and usdt[0]["fees"]["network"] == "1.000000"
        await h.tick()
        sent = {p["id"]: await h.payout(m, p["id"]) for p in trx + usdt}
        assert {p["status"] for p in sent.values()} == {"confirming"}
        # each payout is its own transaction, correctly signed by the hot wallet
        assert grid.verification_failures == []
        assert len(grid.accepted) == 5 and grid.pool.keys() == grid.accepted.keys()
        paid = {
            (t.get("contract", "TRX"), t["to"], t["amount"]): t["txid"] for t in grid.transfers()
        }
        assert paid == {
            ("TRX", R1, Decimal("5")): sent[trx[0]["id"]]["txid"],
            ("TRX", R2, Decimal("7.5")): sent[trx[1]["id"]]["txid"],
            ("TRX", R3, Decimal("8.9")): sent[trx[2]["id"]]["txid"],  # 10 less its 1.1 fee
            (USDT, R1, Decimal("10")): sent[usdt[0]["id"]]["txid"],
            (USDT, R3, Decimal("20.5")): sent[usdt[1]["id"]]["txid"],
        }
        assert sent[trx[2]["id"]]["final_amount"] == "8.900000"
        assert sent[trx[2]["id"]]["fees"]["network"] == "1.100000"
        for tx in grid.accepted.values():  # what went out is what payoutd recorded
            owner = tx["raw_data"]["contract"][0]["parameter"]["value"]["owner_address"]
            assert recover_signer(tx["txID"], tx["signature"][0]) == owner == b58_to_hex(HOT)
        async with h.rt.db.read() as uow:
            batch = await uow.batches.get(sent[trx[0]["id"]]["batch_id"])
        # the from_amount payout went in a batch of its own (its output pays its fee)
        assert batch is not None and batch.fee == Decimal("2.2") and batch.fee_currency == "TRX"
        assert batch.unbatched_fee == Decimal("2.2") and batch.sequence_end is None
        assert batch.output_txids == [sent[p["id"]]["txid"] for p in trx[:2]]
        assert json.loads(batch.raw_tx or "") == [grid.accepted[t] for t in batch.output_txids]
        assert set(grid.api_keys) == {API_KEY}

        grid.mine()
        await h.tick()
        assert {(await h.payout(m, p["id"]))["status"] for p in trx + usdt} == {"confirming"}
        grid.mine()
        await h.tick()
        done = [await h.payout(m, p["id"]) for p in trx + usdt]
        assert {p["status"] for p in done} == {"paid"}
        assert {p["confirmations"] for p in done} == {2}
    assert grid.trx_balance(R1) == Decimal("5") and grid.trx_balance(R3) == Decimal("8.9")
    assert grid.token_balance(USDT, R3) == Decimal("20.5")
    assert grid.token_balance(USDT, HOT) == Decimal("969.5")
    async with payoutd(grid, tmp_path, database_url, truncate=False) as h:
        balances = await h.balances(m)
        assert balances["USDT"]["held"] == "0.000000" and balances["TRX"]["held"] == "0.000000"
        await h.assert_ledger_clean()


@pytest.mark.usefixtures("secrets")
async def test_a_reverted_trc20_transfer_fails_only_its_payout(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    grid.revert_transfers_to(R2)
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(USDT="100")
        made = [
            await create(h, m, currency="USDT", amount=a, address=r)
            for a, r in (("10", R1), ("15", R2), ("20", R3))
        ]
        await h.tick()
        sent = [await h.payout(m, p["id"]) for p in made]
        assert len({p["batch_id"] for p in sent}) == 1 and len({p["txid"] for p in sent}) == 3
        grid.mine(2)
        await h.tick()
        ok1, reverted, ok3 = [await h.payout(m, p["id"]) for p in made]
        assert ok1["status"] == ok3["status"] == "paid"
        assert reverted["status"] == "failed"
        assert reverted["failure_reason"] == "transaction reverted"
        assert grid.infos[reverted["txid"]]["receipt"]["result"] == "REVERT"
        balance = (await h.balances(m))["USDT"]
        assert balance["held"] == "0.000000"  # the reverted payout's funds came back
        assert Decimal(balance["balance"]) == Decimal(100) - sum(
            Decimal(p["debit"]["amount"]) for p in (made[0], made[2])
        )
        await h.assert_ledger_clean()
    assert grid.token_balance(USDT, R2) == 0 and grid.token_balance(USDT, R1) == 10


@pytest.mark.usefixtures("secrets")
async def test_a_dropped_transaction_expires_into_review_and_is_never_rebuilt(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    grid.drop_transactions_to(R1)  # accepted by the node, then lost from its pool
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(TRX="100")
        lost = await create(h, m, currency="TRX", amount="4", address=R1)
        sibling = await create(h, m, currency="TRX", amount="6", address=R2)
        await h.tick()
        txid = (await h.payout(m, lost["id"]))["txid"]
        sibling_txid = (await h.payout(m, sibling["id"]))["txid"]
        for _ in range(3):  # not in a block, not expired: offered again, unchanged
            grid.mine()
            await h.tick()
            assert (await h.payout(m, lost["id"]))["status"] == "confirming"
        # the sibling is mined, but its batch waits for the lost one
        assert sibling_txid in grid.infos
        assert (await h.payout(m, sibling["id"]))["status"] == "confirming"
        grid.mine(EXPIRATION * 1000 // 3000)  # the head passes the expiration
        await h.tick()
        got = await h.payout(m, lost["id"])
        assert got["status"] == "needs_review" and got["txid"] == txid
        assert "dropped" in got["failure_reason"]
        # A batch is judged as a whole: its mined sibling goes to review with it, and the
        # operator settles it with the txid the batch recorded for it.
        assert (await h.payout(m, sibling["id"]))["status"] == "needs_review"
        # nothing is ever rebuilt: every broadcast of that payout was the same signed bytes
        for _ in range(2):
            grid.mine()
            await h.tick()
        mine = [r for r in grid.received if r["txID"] != sibling_txid]
        assert len(mine) >= 4 and {json.dumps(r, sort_keys=True) for r in mine} == {
            json.dumps(grid.accepted[txid], sort_keys=True)
        }
        assert set(grid.accepted) == {txid, sibling_txid}
        assert (await h.payout(m, lost["id"]))["status"] == "needs_review"
        assert (await h.balances(m))["TRX"]["held"] == fmt_sum(lost, sibling)

        for payout, outcome in (
            (sibling, {"outcome": "paid", "txid": sibling_txid}),
            (lost, {"outcome": "failed", "reason": "expired unmined"}),
        ):
            r = await h.client.post(
                f"/v1/admin/payouts/{payout['id']}/resolve",
                headers=h.admin,
                json={**outcome, "operator": "ops"},
            )
            assert r.status_code == 200, r.text
        balance = (await h.balances(m))["TRX"]
        assert balance["held"] == "0.000000"
        assert Decimal(balance["balance"]) == 100 - Decimal(sibling["debit"]["amount"])
        await h.assert_ledger_clean()
    assert grid.trx_balance(R1) == 0 and grid.trx_balance(R2) == 6


def fmt_sum(*payouts: dict[str, Any]) -> str:
    return str(sum(Decimal(p["debit"]["amount"]) for p in payouts))


@pytest.mark.usefixtures("secrets")
@pytest.mark.parametrize("sent_before_crash", [False, True], ids=["unsent", "sent"])
async def test_after_a_crash_the_recorded_transaction_goes_out_unchanged(
    grid: TronGrid, tmp_path: Path, database_url: str | None, sent_before_crash: bool
) -> None:
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(TRX="100")
        p = await create(h, m, currency="TRX", amount="3", address=R1)
        # recorded and committed, then the process dies
        batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "TRON", "TRX")
        assert batch_id is not None
        async with h.rt.db.read() as uow:
            batch = await uow.batches.get(batch_id)
        assert batch is not None and batch.status == "prepared"
        recorded = json.loads(batch.raw_tx or "")
        if sent_before_crash:  # ... after the broadcast, before it was marked
            await h.rt.ctx.chain("TRON").broadcast(execution.recorded_tx(batch))
        assert len(grid.received) == int(sent_before_crash)
    async with payoutd(grid, tmp_path, database_url, truncate=False) as h:
        await h.tick()
        assert all(r == recorded[0] for r in grid.received)
        assert list(grid.accepted) == [batch.txid]
        assert (await h.payout(m, p["id"]))["status"] == "confirming"
        assert grid.mine(2) == [batch.txid]
        await h.tick()
        got = await h.payout(m, p["id"])
        assert got["status"] == "paid" and got["txid"] == batch.txid
        await h.assert_ledger_clean()
    assert grid.trx_balance(R1) == 3 and grid.verification_failures == []


@pytest.mark.usefixtures("secrets")
async def test_a_recorded_transaction_that_expired_unsent_fails_but_a_mined_one_is_paid(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(TRX="100")
        unsent = await create(h, m, currency="TRX", amount="3", address=R1)
        assert await jobs.open_batch(h.rt.db, h.rt.ctx, "TRON", "TRX")
        mined = await create(h, m, currency="TRX", amount="4", address=R2)
        second = await jobs.open_batch(h.rt.db, h.rt.ctx, "TRON", "TRX")
        async with h.rt.db.read() as uow:
            batch = await uow.batches.get(second or "")
        assert batch is not None
        await h.rt.ctx.chain("TRON").broadcast(execution.recorded_tx(batch))
        grid.mine()  # the second went out and was mined, then payoutd died
    grid.mine(EXPIRATION * 1000 // 3000 + 1)  # down until both expired
    grid.restart()  # and the node forgot what it had seen
    async with payoutd(grid, tmp_path, database_url, truncate=False) as h:
        await h.tick()
        failed = await h.payout(m, unsent["id"])
        assert failed["status"] == "failed"  # never on chain, can never be: funds return
        assert "TRANSACTION_EXPIRATION_ERROR" in failed["failure_reason"]
        await h.tick()
        got = await h.payout(m, mined["id"])  # expired too, but it is in a block: it was sent
        assert got["status"] == "paid" and got["txid"] == batch.txid
        balance = (await h.balances(m))["TRX"]
        assert balance["held"] == "0.000000"
        assert Decimal(balance["balance"]) == 100 - Decimal(mined["debit"]["amount"])
        await h.assert_ledger_clean()


@pytest.mark.usefixtures("secrets")
async def test_a_refused_broadcast_fails_the_batch_and_an_outage_waits(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    grid.refuse_transactions_to(R2, "BANDWITH_ERROR")
    async with payoutd(grid, tmp_path, database_url) as h:
        m = await h.merchant(TRX="100")
        refused = await create(h, m, currency="TRX", amount="2", address=R2)
        await h.tick()
        got = await h.payout(m, refused["id"])
        assert got["status"] == "failed" and "BANDWITH_ERROR" in got["failure_reason"]
        assert (await h.balances(m))["TRX"]["balance"] == "100.000000"

        later = await create(h, m, currency="TRX", amount="2", address=R1)
        grid.down = True
        with structlog.testing.capture_logs() as events:
            await h.tick()  # nothing recorded, the payout waits
        assert (await h.payout(m, later["id"]))["status"] == "queued"
        assert [e["event"] for e in events if e["log_level"] == "warning"] == [
            "batch.chain_unavailable"
        ]
        grid.down = False
        await h.tick()
        grid.down = True  # broadcast; then the node is unreachable while following
        grid.mine(2)
        await h.tick()
        assert (await h.payout(m, later["id"]))["status"] == "confirming"
        grid.down = False
        await h.tick()
        assert (await h.payout(m, later["id"]))["status"] == "paid"
        await h.assert_ledger_clean()


def files_under(directory: Path) -> list[str]:
    """Every file payoutd wrote there (the SQLite database and its journal among them)."""
    return [f.read_bytes().decode("latin-1") for f in directory.rglob("*") if f.is_file()]


async def test_the_hot_wallet_key_is_never_logged_nor_stored(
    grid: TronGrid,
    tmp_path: Path,
    database_url: str | None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    passphrase = "tron hot wallet passphrase 7"
    keystore = tmp_path / "keystore.json"
    keystore.write_text(
        json.dumps(
            create_keyfile_json(
                bytes.fromhex(KEY), passphrase.encode(), kdf="pbkdf2", iterations=1000
            )
        )
    )
    monkeypatch.setenv("PAYOUTD_TEST_TRON_PASSPHRASE", passphrase)
    monkeypatch.setenv(API_KEY_ENV, API_KEY)
    grid.revert_transfers_to(R3)
    grid.refuse_transactions_to(R2, "SIGERROR")
    caplog.set_level(logging.DEBUG)
    with structlog.testing.capture_logs() as events:
        async with payoutd(
            grid,
            tmp_path,
            database_url,
            private_key_env=None,
            keystore=str(keystore),
            passphrase_env="PAYOUTD_TEST_TRON_PASSPHRASE",
        ) as h:
            m = await h.merchant(TRX="100", USDT="100")
            for currency, address in (("TRX", R1), ("TRX", R2), ("USDT", R3)):
                await create(h, m, currency=currency, amount="2", address=address)
            await h.tick()
            grid.mine(2)
            await h.tick()
            dumped = []
            async with h.rt.db.read() as uow:
                for table in metadata.sorted_tables:
                    rows = (await uow.conn.execute(select(table))).all()
                    dumped += [repr(tuple(r)) for r in rows]
    out, err = capfd.readouterr()
    logged = "\n".join([json.dumps(events, default=repr), caplog.text, out, err])
    assert "tron.prepared" in logged and "tron.broadcast_refused" in logged  # captured
    stored = "\n".join([*dumped, *files_under(tmp_path)])
    assert b58_to_hex(HOT) in stored  # the recorded transactions are there ...
    assert KEY not in repr(h.rt.ctx.chains["TRON"])
    for secret in (KEY, KEY.upper(), passphrase, API_KEY):  # ... but no secret, anywhere
        assert secret not in logged
        assert secret not in stored


@pytest.mark.usefixtures("secrets")
async def test_a_shared_batch_shows_each_merchant_only_its_own_transactions(
    grid: TronGrid, tmp_path: Path, database_url: str | None
) -> None:
    """On an account chain a batch is a run of transactions, one per output: a merchant
    reading the batch sees its own transaction's id, never another merchant's (which
    would show that merchant's recipient and amount on any explorer)."""
    async with payoutd(grid, tmp_path, database_url) as h:
        a = await h.merchant("Alpha", USDT="100")
        b = await h.merchant("Beta", USDT="100")
        first = await create(h, a, currency="USDT", amount="10", address=R1)
        second = await create(h, a, currency="USDT", amount="11", address=R2)
        mine = await create(h, b, currency="USDT", amount="12", address=R3)
        await h.tick()
        a_sent = [await h.payout(a, p["id"]) for p in (first, second)]
        b_sent = await h.payout(b, mine["id"])
        assert len({p["batch_id"] for p in [*a_sent, b_sent]}) == 1
        r = await h.client.get(f"/v1/batches/{b_sent['batch_id']}", headers=b.headers)
        assert r.status_code == 200, r.text
        batch = r.json()
        assert batch["txid"] == b_sent["txid"]
        for p in a_sent:
            assert p["txid"] not in r.text
        listed = (await h.client.get("/v1/batches", headers=b.headers)).json()["data"]
        assert [x["txid"] for x in listed] == [b_sent["txid"]]
        # the operator sees the run's first transaction, as recorded
        whole = (await h.client.get(f"/v1/batches/{b_sent['batch_id']}", headers=h.admin)).json()
        assert whole["txid"] == a_sent[0]["txid"] and whole["payout_count"] == 3
