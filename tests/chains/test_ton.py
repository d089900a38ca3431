"""The TON adapter against the official emulator (@ton/sandbox behind a thin toncenter-v2
front, tests/chains/ton/server.js): the wallet's code checks every signature and seqno,
the jetton contracts move the jettons, and what arrived is read back from the
recipients' own transactions."""

from __future__ import annotations

import base64
import json
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pytoniq_core.boc.cell import Cell
from pytoniq_core.crypto.keys import mnemonic_new

from payoutd.chains import config as chains_config
from payoutd.chains.config import ChainsFileError, NetworkConfig
from payoutd.chains.ton import adapter
from payoutd.chains.ton import wallet as ton_wallet
from payoutd.chains.ton.adapter import TonChain
from payoutd.domain.assets import ASSETS
from payoutd.domain.batching import Output
from payoutd.services import execution
from payoutd.services.ports import Rejected
from payoutd.worker import jobs
from tests import support
from tests.chains import tonsandbox
from tests.chains.tonsandbox import TonSandbox, friendly, new_address_raw

TON = ASSETS[("TON", "TON")]
USDT = ASSETS[("USDT", "TON")]


@pytest.fixture
def sandbox() -> TonSandbox:
    sb = tonsandbox.node()
    sb.automine(0)
    return sb


def recipient() -> str:
    return friendly(new_address_raw())


def chain_on(sandbox: TonSandbox, tmp_path: Path, **options: Any) -> TonChain:
    path = tonsandbox.chains_file(tmp_path, sandbox, **options)
    return TonChain.from_config(chains_config.load(path)["TON"])


def wallet_transactions(sandbox: TonSandbox, wallet: str) -> list[Any]:
    """The hot wallet's transactions for its external messages, oldest first, parsed."""
    from pytoniq_core.tlb.transaction import Transaction

    found = []
    for item in reversed(sandbox.transactions(wallet)):
        tx = Transaction.deserialize(
            Cell.one_from_boc(base64.b64decode(item["data"])).begin_parse()
        )
        if tx.in_msg is not None and tx.in_msg.is_external:
            found.append(tx)
    return found


def seqno_of(tx: Any) -> int:
    body = tx.in_msg.body.begin_parse()
    body.skip_bits(512 + 32 + 32)
    return int(body.load_uint(32))


# --- pure parts ---------------------------------------------------------------------------


def test_the_wallet_runs_the_v4r2_code() -> None:
    assert ton_wallet.code_cell().hash.hex() == (
        "feb5ff6820e2ff0d9483e7e0d62c817d846789fb4ae580c878866d959dabd5c0"
    )


def test_what_a_wrong_configuration_says(monkeypatch: pytest.MonkeyPatch) -> None:
    def cfg(**options: Any) -> NetworkConfig:
        return NetworkConfig("TON", "ton", url="http://127.0.0.1:1", options=options)

    monkeypatch.setenv("K", "ab" * 32)
    monkeypatch.setenv("SHORT", "ab" * 31)
    chain = TonChain.from_config(cfg(secret_key_env="K"))
    assert "ab" * 32 not in repr(chain) and chain.confirmations == 2
    with pytest.raises(ChainsFileError, match="exactly one of"):
        TonChain.from_config(cfg())
    with pytest.raises(ChainsFileError, match="64 hex digits"):
        TonChain.from_config(cfg(secret_key_env="SHORT"))
    with pytest.raises(ChainsFileError, match="MISSING is not set"):
        TonChain.from_config(cfg(secret_key_env="MISSING"))
    with pytest.raises(ChainsFileError, match="not address"):
        TonChain.from_config(cfg(secret_key_env="K", address=recipient()))
    with pytest.raises(ChainsFileError, match="unknown keys"):
        TonChain.from_config(cfg(secret_key_env="K", seqno=3))
    with pytest.raises(ChainsFileError, match="ton_fee"):
        TonChain.from_config(cfg(secret_key_env="K", ton_fee="0.0000000001"))


def test_a_mnemonic_gives_the_wallet_tons_own_sdk_derives(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 24 words -> key -> v4R2 address, checked against @ton/crypto and @ton/ton (a
    second implementation, in the emulator's node_modules)."""
    tonsandbox.node()  # its node_modules
    words = " ".join(mnemonic_new())
    monkeypatch.setenv("WORDS", words)
    chain = TonChain.from_config(
        NetworkConfig("TON", "ton", url="http://127.0.0.1:1", options={"mnemonic_env": "WORDS"})
    )
    script = (
        "const {mnemonicToPrivateKey} = require('@ton/crypto');"
        "const {WalletContractV4} = require('@ton/ton');"
        "mnemonicToPrivateKey(process.argv[1].split(' ')).then((k) => console.log("
        "WalletContractV4.create({workchain: 0, publicKey: k.publicKey}).address.toRawString()))"
    )
    done = subprocess.run(
        ["node", "-e", script, words],
        cwd=tonsandbox.TON_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert chain.wallet.address == done.stdout.strip()
    monkeypatch.setenv("WORDS", words.replace(words.split()[0], "zzz", 1))
    with pytest.raises(ChainsFileError, match="not a TON mnemonic"):
        TonChain.from_config(
            NetworkConfig("TON", "ton", url="http://127.0.0.1:1", options={"mnemonic_env": "WORDS"})
        )


def test_the_chains_file_refuses_a_secret_written_in_it(tmp_path: Path) -> None:
    path = tmp_path / "chains.toml"
    path.write_text('[networks.TON]\nadapter = "ton"\nmnemonic = "word word"\n')
    with pytest.raises(ChainsFileError, match="environment"):
        chains_config.load(path)
    path.write_text('[networks.ETH]\nadapter = "ton"\n')
    with pytest.raises(ChainsFileError, match="not a ton network"):
        chains_config.load(path)


# --- the adapter on the emulator --------------------------------------------------------------


async def test_a_batch_goes_four_transfers_to_an_external_message_with_consecutive_seqnos(
    sandbox: TonSandbox, tmp_path: Path
) -> None:
    with tonsandbox.hot_wallet_env(sandbox) as wallet:
        chain = chain_on(sandbox, tmp_path)
        to = [recipient() for _ in range(6)]
        outputs = [Output(a, Decimal("0.2") + i, memo=f"m{i}") for i, a in enumerate(to)]
        tx = await chain.prepare("b", TON, outputs, None, payout_count=6, next_sequence=None)
        raw = json.loads(tx.raw)
        assert [len(m["outputs"]) for m in raw["messages"]] == [4, 2]
        assert [m["seqno"] for m in raw["messages"]] == [0, 1] and tx.sequence_end == 1
        assert (
            tx.output_txids == (raw["messages"][0]["hash"],) * 4 + (raw["messages"][1]["hash"],) * 2
        )
        await chain.broadcast(tx)
        sandbox.mine(2)
        state = await chain.status(tx)
        assert state.state == "mined" and state.failed_outputs == frozenset()
        sent = wallet_transactions(sandbox, wallet)
        assert [seqno_of(t) for t in sent] == [0, 1]
        assert [len(t.out_msgs) for t in sent] == [4, 2]
        for i, address in enumerate(to):
            got = sandbox.received(address)
            assert [(r.value, r.comment) for r in got] == [(Decimal("0.2") + i, f"m{i}")]
        assert sandbox.seqno(wallet) == 2


async def test_an_overspend_is_refused_before_sending_and_the_wallet_would_not_pay_it(
    sandbox: TonSandbox, tmp_path: Path
) -> None:
    with tonsandbox.hot_wallet_env(sandbox, ton=Decimal(3), usdt=Decimal(5)) as wallet:
        chain = chain_on(sandbox, tmp_path)
        a, b = recipient(), recipient()
        too_much = [Output(a, Decimal(2)), Output(b, Decimal("0.995"))]
        reason = await chain.shortfall(TON, too_much)
        held = sandbox.balance(wallet)  # 3 and what the mint's excess brought
        assert Decimal(3) < held < Decimal("3.015")
        assert (
            reason == f"hot wallet {wallet} holds {held.normalize()} TON, "
            "the batch needs up to 3.015 TON"
        )
        assert await chain.shortfall(TON, too_much[:1]) is None
        jettons = await chain.shortfall(USDT, [Output(a, Decimal(6))])
        assert jettons is not None and "holds 5 USDT, the batch pays 6" in jettons
        assert await chain.shortfall(USDT, [Output(a, Decimal(5))]) is None
        # Had it been signed anyway, TVM would not have paid it: the action phase cannot
        # send what the wallet does not hold, and the adapter reports that output failed.
        tx = await chain.prepare(
            "b", TON, [Output(a, Decimal(1)), Output(b, Decimal(50))], None, payout_count=2
        )
        await chain.broadcast(tx)
        sandbox.mine(2)
        state = await chain.status(tx)
        assert state.state == "mined" and state.failed_outputs == frozenset({1})
        assert [r.value for r in sandbox.received(a)] == [Decimal(1)]
        assert sandbox.received(b) == []
        # only the 1 TON and the fees left the wallet
        assert held - 1 - Decimal("0.01") < sandbox.balance(wallet) < held - 1


async def test_a_jetton_transfer_the_jetton_wallet_refuses_fails_its_output(
    sandbox: TonSandbox, tmp_path: Path
) -> None:
    with tonsandbox.hot_wallet_env(sandbox, usdt=Decimal(5)) as wallet:
        chain = chain_on(sandbox, tmp_path)
        a, b = recipient(), recipient()
        # signed past shortfall(): the hot wallet's jetton wallet holds 5, not 3 + 4
        tx = await chain.prepare(
            "b",
            USDT,
            [Output(a, Decimal(3), memo="ok"), Output(b, Decimal(4), memo="too much")],
            None,
            payout_count=2,
        )
        await chain.broadcast(tx)
        sandbox.mine(2)
        state = await chain.status(tx)
        assert state.state == "mined" and state.failed_outputs == frozenset({1})
        assert sandbox.jetton_balance(sandbox.jetton_master, a) == 3
        assert sandbox.jetton_balance(sandbox.jetton_master, b) == 0
        assert sandbox.jetton_balance(sandbox.jetton_master, wallet) == 2
        assert [(r.value, r.comment, r.jetton) for r in sandbox.received(a)] == [
            (Decimal(3), "ok", True)
        ]


async def test_a_bounced_transfer_fails_its_output(sandbox: TonSandbox, tmp_path: Path) -> None:
    with tonsandbox.hot_wallet_env(sandbox) as wallet:
        chain = chain_on(sandbox, tmp_path)
        # EQ..: its owner asked for bounces, and no contract lives there to take the money
        bouncing = friendly(new_address_raw(), bounceable=True)
        ok = recipient()
        tx = await chain.prepare(
            "b",
            TON,
            [Output(bouncing, Decimal(2)), Output(ok, Decimal(1))],
            None,
            payout_count=2,
        )
        await chain.broadcast(tx)
        sandbox.mine(2)
        state = await chain.status(tx)
        assert state.state == "mined" and state.failed_outputs == frozenset({0})
        assert sandbox.balance(bouncing) == 0  # the value came back
        returned = [r for r in sandbox.received(wallet) if r.source == bouncing]
        assert len(returned) == 1 and Decimal(0) < returned[0].value < 2


async def test_a_seqno_another_message_took_is_conflicted_and_never_sent_again(
    sandbox: TonSandbox, tmp_path: Path
) -> None:
    with tonsandbox.hot_wallet_env(sandbox):
        chain = chain_on(sandbox, tmp_path)
        a, b = recipient(), recipient()
        first = await chain.prepare("b1", TON, [Output(a, Decimal(1))], None, payout_count=1)
        # someone else signs with the same key and seqno (payoutd's record lost, say)
        other = await chain.prepare("b2", TON, [Output(b, Decimal(1))], None, payout_count=1)
        assert json.loads(first.raw)["messages"][0]["seqno"] == 0
        assert json.loads(other.raw)["messages"][0]["seqno"] == 0
        await chain.broadcast(other)
        sandbox.mine(1)
        assert (await chain.status(first)).state == "conflicted"
        with pytest.raises(Rejected, match="seqno 0 was taken"):
            await chain.broadcast(first)
        sandbox.mine(1)
        assert sandbox.received(a) == []


async def test_a_message_no_block_took_is_sent_again_unchanged(
    sandbox: TonSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tonsandbox.hot_wallet_env(sandbox) as wallet:
        chain = chain_on(sandbox, tmp_path)
        a = recipient()
        tx = await chain.prepare("b", TON, [Output(a, Decimal(1))], None, payout_count=1)
        await chain.broadcast(tx)
        assert sandbox.call("sandbox/forget", {}) == {"forgotten": 1}
        sandbox.mine(1)
        assert (await chain.status(tx)).state == "mempool"  # sent just now: it may come
        monkeypatch.setattr(adapter, "RESEND_SECONDS", 0.0)
        assert (await chain.status(tx)).state == "unknown"  # the executor sends it again
        await chain.broadcast(tx)
        sandbox.mine(2)
        assert (await chain.status(tx)).state == "mined"
        sent = wallet_transactions(sandbox, wallet)
        assert (
            len(sent) == 1
            and sent[0].in_msg.body.hash.hex() == json.loads(tx.raw)["messages"][0]["body_hash"]
        )
        assert [r.value for r in sandbox.received(a)] == [Decimal(1)]


async def test_an_expired_message_is_dropped_never_sent(
    sandbox: TonSandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with tonsandbox.hot_wallet_env(sandbox):
        chain = chain_on(sandbox, tmp_path, message_ttl_seconds=30)
        a = recipient()
        import time as time_module

        real = time_module.time
        monkeypatch.setattr(time_module, "time", lambda: real() - 3600)
        old = await chain.prepare("b", TON, [Output(a, Decimal(1))], None, payout_count=1)
        monkeypatch.setattr(time_module, "time", real)
        # sent as it is (the adapter would not): the wallet's code refuses it in TVM
        sandbox.call("sendBoc", {"boc": json.loads(old.raw)["messages"][0]["boc"]})
        sandbox.mine(1)
        assert (await chain.status(old)).state == "dropped"
        with pytest.raises(Rejected, match="passed unapplied"):
            await chain.broadcast(old)
        assert sandbox.received(a) == []


# --- end to end through payoutd ---------------------------------------------------------


@asynccontextmanager
async def payoutd(
    sandbox: TonSandbox, tmp_path: Path, database_url: str | None, *, truncate: bool = True
) -> AsyncIterator[support.Harness]:
    settings = support.test_settings(
        tmp_path, database_url, chains_file=tonsandbox.chains_file(tmp_path, sandbox)
    )
    async with support.harness(settings, truncate=truncate and database_url is not None) as h:
        assert isinstance(h.rt.ctx.chains["TON"], TonChain)
        yield h


async def create(h: support.Harness, m: support.Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json={"network": "TON", **body})
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def test_ton_and_jetton_payouts_with_a_memo_are_paid_and_the_comment_arrives(
    sandbox: TonSandbox, tmp_path: Path, database_url: str | None
) -> None:
    a, b = recipient(), recipient()
    with tonsandbox.hot_wallet_env(sandbox, ton=Decimal(50), usdt=Decimal(1000)) as wallet:
        async with payoutd(sandbox, tmp_path, database_url) as h:
            m = await h.merchant(TON="100", USDT="100")
            r = await h.client.get("/v1/assets", headers=m.headers)
            assert r.status_code == 200, r.text
            modes = {(x["currency"], x["network"]): x["mode"] for x in r.json()["data"]}
            assert modes[("TON", "TON")] == modes[("USDT", "TON")] == "live"
            ton = [
                await create(h, m, currency="TON", amount="1.5", address=a, memo="order-17"),
                await create(h, m, currency="TON", amount="2", address=b),
            ]
            usdt = await create(h, m, currency="USDT", amount="12.5", address=a, memo="inv 9")
            assert ton[0]["fees"]["network"] == "0.010000000"
            assert usdt["fees"]["network"] == "0.100000"
            await h.tick()
            sent = {p["id"]: await h.payout(m, p["id"]) for p in [*ton, usdt]}
            assert {p["status"] for p in sent.values()} == {"confirming"}
            sandbox.mine(1)
            await h.tick()
            assert {(await h.payout(m, p))["status"] for p in sent} == {"confirming"}
            sandbox.mine(1)
            await h.tick()
            done = {p: await h.payout(m, p) for p in sent}
            assert {p["status"] for p in done.values()} == {"paid"}
            assert {p["confirmations"] for p in done.values()} == {2}
            async with h.rt.db.read() as uow:
                batch = await uow.batches.get(done[ton[0]["id"]]["batch_id"])
                jetton_batch = await uow.batches.get(done[usdt["id"]]["batch_id"])
            assert batch is not None and jetton_batch is not None
            # the TON payouts went out together, in one external message, with seqno 0
            assert done[ton[0]["id"]]["txid"] == done[ton[1]["id"]]["txid"] == batch.txid
            assert batch.sequence_end == 0 and jetton_batch.sequence_end == 1
            assert batch.fee == Decimal("0.02") and batch.fee_currency == "TON"
            assert jetton_batch.fee == Decimal("0.06") and jetton_batch.fee_currency == "TON"
            await h.assert_ledger_clean()
        # read back at the recipients: the value and the comment each payout carried
        got_a = sandbox.received(a)
        assert [(r.value, r.comment, r.jetton) for r in got_a] == [
            (Decimal("1.5"), "order-17", False),
            (Decimal("12.5"), "inv 9", True),
        ]
        assert [(r.value, r.comment) for r in sandbox.received(b)] == [(Decimal(2), None)]
        assert sandbox.jetton_balance(sandbox.jetton_master, a) == Decimal("12.5")
        assert sandbox.jetton_balance(sandbox.jetton_master, wallet) == Decimal("987.5")
        assert [seqno_of(t) for t in wallet_transactions(sandbox, wallet)] == [0, 1]


@pytest.mark.parametrize("sent_before_crash", [False, True], ids=["unsent", "sent"])
async def test_after_a_crash_the_recorded_message_goes_out_unchanged_and_pays_once(
    sandbox: TonSandbox, tmp_path: Path, database_url: str | None, sent_before_crash: bool
) -> None:
    a = recipient()
    with tonsandbox.hot_wallet_env(sandbox) as wallet:
        async with payoutd(sandbox, tmp_path, database_url) as h:
            m = await h.merchant(TON="100")
            p = await create(h, m, currency="TON", amount="3", address=a, memo="once")
            # recorded and committed, then the process dies
            batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "TON", "TON")
            assert batch_id is not None
            async with h.rt.db.read() as uow:
                batch = await uow.batches.get(batch_id)
            assert batch is not None and batch.status == "prepared"
            recorded = json.loads(batch.raw_tx or "")["messages"]
            assert [m_["seqno"] for m_ in recorded] == [0]
            if sent_before_crash:  # ... after the send, before it was marked
                await h.rt.ctx.chain("TON").broadcast(execution.recorded_tx(batch))
                sandbox.mine(1)
        async with payoutd(sandbox, tmp_path, database_url, truncate=False) as h:
            await h.tick()  # the recorded message goes out again, as it was
            sandbox.mine(1)
            await h.tick()
            sandbox.mine(1)
            await h.tick()
            got = await h.payout(m, p["id"])
            assert got["status"] == "paid" and got["txid"] == batch.txid
            await h.assert_ledger_clean()
        sent = wallet_transactions(sandbox, wallet)
        assert len(sent) == 1 and seqno_of(sent[0]) == 0
        assert sent[0].in_msg.body.hash.hex() == recorded[0]["body_hash"]
        assert sandbox.seqno(wallet) == 1
        assert [(r.value, r.comment) for r in sandbox.received(a)] == [(Decimal(3), "once")]
