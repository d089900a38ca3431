"""The UTXO adapter against a real `litecoind -regtest`, end to end through payoutd: the
API takes the payouts, the worker batches and broadcasts them, the node mines them.

The hot wallet of each test is a fresh node wallet funded by the miner, so balances and
coin locks are the test's own. Recipients are addresses of the node's "recipients"
wallet, so what they received is read back from the chain itself."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from payoutd.chains.utxo.adapter import UtxoChain
from payoutd.chains.utxo.rpc import RpcClient, RpcError
from payoutd.domain.assets import ASSETS
from payoutd.domain.batching import Output
from payoutd.services.ports import ChainUnavailable, OutputRejected
from payoutd.worker import jobs
from tests import support
from tests.chains.litecoind import PASSWORD, PASSWORD_ENV, USER, Litecoind, free_port
from tests.chains.litecoind import litecoind as litecoind  # the session's node (fixture)

LTC = ASSETS[("LTC", "LTC")]
PRIORITIES = ("economy", "recommended", "high", "highest")
ROOT = Path(__file__).resolve().parents[2]
PAYOUTD = ROOT / ".venv" / "bin" / "payoutd"


@pytest.fixture
def node(litecoind: Litecoind, monkeypatch: pytest.MonkeyPatch) -> Litecoind:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    return litecoind


@asynccontextmanager
async def payoutd(
    node: Litecoind, tmp_path: Path, database_url: str | None, wallet: str, *, truncate: bool = True
) -> AsyncIterator[support.Harness]:
    """payoutd with LTC on the node's `wallet`; every other network stays on the sandbox."""
    settings = support.test_settings(
        tmp_path, database_url, chains_file=node.chains_file(tmp_path, wallet)
    )
    async with support.harness(settings, truncate=truncate and database_url is not None) as h:
        assert isinstance(h.rt.ctx.chains["LTC"], UtxoChain)
        yield h


async def create(h: support.Harness, m: support.Merchant, **body: Any) -> dict[str, Any]:
    r = await h.client.post("/v1/payouts", headers=m.headers, json={"currency": "LTC", **body})
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout


async def decoded(node: Litecoind, wallet: str, txid: str) -> dict[str, Any]:
    wtx = await node.call("gettransaction", txid, wallet=wallet)
    tx: dict[str, Any] = await node.call("decoderawtransaction", wtx["hex"])
    tx["fee"] = -Decimal(wtx["fee"])
    return tx


async def paid_outputs(node: Litecoind, wallet: str, tx: dict[str, Any]) -> dict[str, Decimal]:
    """What the transaction pays to addresses that are not the hot wallet's own change."""
    found: dict[str, Decimal] = {}
    for out in tx["vout"]:
        address = out["scriptPubKey"]["addresses"][0]
        info = await node.call("getaddressinfo", address, wallet=wallet)
        if not info["ismine"]:
            assert address not in found
            found[address] = Decimal(out["value"])
    return found


async def test_a_batch_is_one_transaction_paying_each_address_once(
    node: Litecoind, tmp_path: Path, database_url: str | None
) -> None:
    wallet = await node.hot_wallet("3", "3")
    a, b, c = [await node.new_address(kind=k) for k in ("bech32", "legacy", "p2sh-segwit")]
    async with payoutd(node, tmp_path, database_url, wallet) as h:
        m = await h.merchant(LTC="100")
        payouts = [
            await create(h, m, amount=amount, address=address)
            for amount, address in [("0.5", a), ("0.25", b), ("0.1", a), ("1", c)]
        ]
        await h.tick()
        sent = [await h.payout(m, p["id"]) for p in payouts]
        assert {p["status"] for p in sent} == {"confirming"}
        assert len({p["txid"] for p in sent}) == 1 and len({p["batch_id"] for p in sent}) == 1
        txid = sent[0]["txid"]
        assert txid in await node.mempool()

        tx = await decoded(node, wallet, txid)
        # one output per address, in the order of the first payout to each, change last
        assert await paid_outputs(node, wallet, tx) == {
            a: Decimal("0.6"),
            b: Decimal("0.25"),
            c: Decimal("1"),
        }
        assert [o["scriptPubKey"]["addresses"][0] for o in tx["vout"][:3]] == [a, b, c]
        async with h.rt.db.read() as uow:
            batch = await uow.batches.get(sent[0]["batch_id"])
        assert batch is not None and batch.fee == tx["fee"] and batch.raw_tx is not None
        assert batch.unbatched_fee is not None and batch.fee < batch.unbatched_fee

        await node.mine(1)
        await h.tick()
        assert {
            (p["status"], p["confirmations"]) for p in [await h.payout(m, p["id"]) for p in payouts]
        } == {("confirming", 1)}
        await node.mine(1)
        await h.tick()
        done = [await h.payout(m, p["id"]) for p in payouts]
        assert {(p["status"], p["confirmations"]) for p in done} == {("paid", 2)}
        assert await node.received(a, 1) == Decimal("0.6")
        assert await node.received(b, 1) == Decimal("0.25")
        # on_top: recipients get the amount, the balance paid amount + the fee estimate
        fee = await h.rt.ctx.chains["LTC"].estimate_fee(LTC, None)
        assert fee == Decimal("0.00000282")  # 2 sat/vB (the fallback) x 141 vB
        assert all(Decimal(p["final_amount"]) == Decimal(p["amount"]) for p in done)
        assert all(Decimal(p["debit"]["amount"]) == Decimal(p["amount"]) + fee for p in done)
        await h.assert_ledger_clean()


async def test_from_amount_recipients_bear_the_real_fee(
    node: Litecoind, tmp_path: Path, database_url: str | None
) -> None:
    wallet = await node.hot_wallet("5")
    a, b = await node.new_address(), await node.new_address()
    async with payoutd(node, tmp_path, database_url, wallet) as h:
        m = await h.merchant(LTC="100")
        asked = [("1", a), ("0.5", b), ("0.3", a)]
        payouts = [
            await create(h, m, amount=amount, address=address, fee_mode="from_amount")
            for amount, address in asked
        ]
        await h.tick()
        await node.mine(2)
        await h.tick()
        done = [await h.payout(m, p["id"]) for p in payouts]
        assert {p["status"] for p in done} == {"paid"}
        tx = await decoded(node, wallet, done[0]["txid"])
        outputs = await paid_outputs(node, wallet, tx)
        # the recipients together paid exactly the transaction's fee
        assert sum(Decimal(x) for x, _ in asked) - sum(outputs.values()) == tx["fee"]
        for address in (a, b):
            mine = [p for p in done if p["address"] == address]
            assert sum(Decimal(p["final_amount"]) for p in mine) == outputs[address]
            assert await node.received(address, 1) == outputs[address]
        for p in done:
            # what the recipient got + its share of the fee = the amount = the debit
            assert (
                Decimal(p["final_amount"]) + Decimal(p["fees"]["network"])
                == Decimal(p["amount"])
                == Decimal(p["debit"]["amount"])
            )
            assert Decimal(p["fees"]["network"]) > 0
        assert sum(Decimal(p["fees"]["network"]) for p in done) == tx["fee"]
        balances = await h.balances(m)
        assert Decimal(balances["LTC"]["available"]) == Decimal("100") - Decimal("1.8")
        await h.assert_ledger_clean()


async def test_a_worker_killed_after_recording_sends_the_same_transaction(
    node: Litecoind, tmp_path: Path, database_url: str | None
) -> None:
    """The state a SIGKILL right after the recording commit leaves: the batch and its
    signed transaction are in the database, the node never saw it. A restarted worker
    (a fresh runtime on the same database) broadcasts that very transaction."""
    wallet = await node.hot_wallet("2", "2")
    a, b = await node.new_address(), await node.new_address()
    await node.mine(1)  # an empty mempool: whatever is in it afterwards, this test sent
    async with payoutd(node, tmp_path, database_url, wallet) as h:
        m = await h.merchant(LTC="10")
        ids = [(await create(h, m, amount="0.4", address=x))["id"] for x in (a, b)]
        batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "LTC", "LTC")
        assert batch_id is not None
        recorded = (await h.payout(m, ids[0]))["txid"]
        assert (await h.payout(m, ids[0]))["status"] == "sending"
        # nothing went out, and the batch's coins stay locked for it
        assert await node.mempool() == []
        locked = await node.call("listlockunspent", wallet=wallet)
        assert locked
    # the worker "dies" here; a new one starts on the same database
    async with payoutd(node, tmp_path, database_url, wallet, truncate=False) as h2:
        await h2.tick()
        assert await node.mempool() == [recorded]
        for payout_id in ids:
            p = await h2.payout(m, payout_id)
            assert (p["status"], p["txid"], p["batch_id"]) == ("confirming", recorded, batch_id)
        spent = (await decoded(node, wallet, recorded))["vin"]
        assert {(i["txid"], i["vout"]) for i in spent} == {(c["txid"], c["vout"]) for c in locked}
        await node.mine(2)
        await h2.tick()
        assert {(await h2.payout(m, i))["status"] for i in ids} == {"paid"}
        assert await node.received(a, 1) == Decimal("0.4")
        await h2.assert_ledger_clean()


async def test_a_short_wallet_keeps_payouts_queued_until_funded(
    node: Litecoind, tmp_path: Path, database_url: str | None
) -> None:
    wallet = await node.hot_wallet("0.5")
    address = await node.new_address()
    async with payoutd(node, tmp_path, database_url, wallet) as h:
        m = await h.merchant(LTC="10")
        payout = await create(h, m, amount="2", address=address)
        with structlog.testing.capture_logs() as logs:
            await h.tick()
        assert (await h.payout(m, payout["id"]))["status"] == "queued"
        short = [e for e in logs if e["event"] == "wallet.shortfall"]
        assert short and short[0]["network"] == "LTC"
        assert "can spend 0.50000000 LTC" in short[0]["reason"]
        metric = h.rt.metrics.registry.get_sample_value(
            "payoutd_wallet_shortfall_total", {"network": "LTC", "currency": "LTC"}
        )
        assert metric == 1
        r = await h.client.get("/metrics")
        assert 'payoutd_wallet_shortfall_total{currency="LTC",network="LTC"} 1.0' in r.text

        await node.call("sendtoaddress", await node.new_address(wallet), "3", wallet="miner")
        await node.mine(1)
        await h.tick()
        assert (await h.payout(m, payout["id"]))["status"] == "confirming"
        await node.mine(2)
        await h.tick()
        assert (await h.payout(m, payout["id"]))["status"] == "paid"
        assert await node.received(address, 1) == Decimal("2")
        await h.assert_ledger_clean()


async def test_a_node_that_is_down_leaves_payouts_queued(
    node: Litecoind, tmp_path: Path, database_url: str | None
) -> None:
    wallet = await node.hot_wallet("1")
    address = await node.new_address()
    async with payoutd(node, tmp_path, database_url, wallet) as h:
        m = await h.merchant(LTC="10")
        payout = await create(h, m, amount="0.3", address=address)
        chain = h.rt.ctx.chains["LTC"]
        assert isinstance(chain, UtxoChain)
        up = chain.node, chain.wallet
        chain.node = chain.wallet = RpcClient(
            f"http://127.0.0.1:{free_port()}", username=USER, password=PASSWORD, timeout=2
        )
        with structlog.testing.capture_logs() as logs:
            await h.tick()  # no exception out of the worker's pass
        assert (await h.payout(m, payout["id"]))["status"] == "queued"
        assert [e["network"] for e in logs if e["event"] == "batch.chain_unavailable"] == ["LTC"]
        chain.node, chain.wallet = up
        await h.tick()
        assert (await h.payout(m, payout["id"]))["status"] == "confirming"
        await node.mine(2)
        await h.tick()
        assert (await h.payout(m, payout["id"]))["status"] == "paid"
        await h.assert_ledger_clean()


# --- the adapter on its own -----------------------------------------------------------


async def test_release_unlocks_the_coins_of_a_batch_never_broadcast(node: Litecoind) -> None:
    wallet = await node.hot_wallet("1", "1")
    chain = node.chain(wallet)
    tx = await chain.prepare(
        "b1", LTC, [Output(await node.new_address(), Decimal("1.5"))], None, payout_count=1
    )
    locked = await node.call("listlockunspent", wallet=wallet)
    assert len(locked) == 2  # both coins: 1.5 needs them
    assert await chain.shortfall(LTC, [Output(await node.new_address(), Decimal("0.1"))])
    await chain.release(tx)
    assert await node.call("listlockunspent", wallet=wallet) == []
    assert await chain.shortfall(LTC, [Output(await node.new_address(), Decimal("1.5"))]) is None


async def test_unlock_unrecorded_keeps_the_coins_of_recorded_batches(node: Litecoind) -> None:
    wallet = await node.hot_wallet("1", "1")
    chain = node.chain(wallet)
    recorded = await chain.prepare(
        "b1", LTC, [Output(await node.new_address(), Decimal("0.5"))], None, payout_count=1
    )
    orphan = await chain.prepare(
        "b2", LTC, [Output(await node.new_address(), Decimal("0.5"))], None, payout_count=1
    )
    freed = await chain.unlock_unrecorded([recorded])
    assert len(freed) == 1
    left = await node.call("listlockunspent", wallet=wallet)
    assert [(c["txid"], c["vout"]) for c in left] == [
        (i["txid"], i["vout"])
        for i in (await node.call("decoderawtransaction", recorded.raw))["vin"]
    ]
    await chain.release(recorded)
    await chain.release(orphan)


async def test_outputs_the_node_refuses_are_named(node: Litecoind) -> None:
    wallet = await node.hot_wallet("1")
    chain = node.chain(wallet)
    good = await node.new_address()
    # under Litecoin's dust limit (30 sat/vB: 2,940 litoshi for P2WPKH)
    with pytest.raises(OutputRejected) as dust:
        await chain.prepare(
            "b",
            LTC,
            [Output(good, Decimal("0.1")), Output(await node.new_address(), Decimal("0.00002"))],
            None,
            payout_count=2,
        )
    assert dust.value.indices == {1} and "dust" in dust.value.reason
    # what is left after its share of the fee would be dust
    with pytest.raises(OutputRejected) as after_fee:
        await chain.prepare(
            "b",
            LTC,
            [
                Output(good, Decimal("0.1"), subtract_fee=True),
                Output(await node.new_address(), Decimal("0.00003"), subtract_fee=True),
            ],
            None,
            payout_count=2,
        )
    assert after_fee.value.indices == {1}
    # a mainnet address: valid Litecoin, but not on this chain
    mainnet = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
    with pytest.raises(OutputRejected) as address:
        await chain.prepare(
            "b",
            LTC,
            [Output(good, Decimal("0.1")), Output(mainnet, Decimal("0.1"))],
            None,
            payout_count=2,
        )
    assert address.value.indices == {1} and mainnet in address.value.reason
    assert await node.call("listlockunspent", wallet=wallet) == []
    with pytest.raises(ChainUnavailable, match="insufficient funds"):
        await chain.prepare("b", LTC, [Output(good, Decimal("5"))], None, payout_count=1)


async def test_a_batch_whose_coins_another_transaction_spent_is_conflicted(node: Litecoind) -> None:
    """Not a definitive rejection (it may be this very batch, fee-bumped): the broadcast
    is taken, and status says conflicted, which sends the batch to needs_review."""
    wallet = await node.hot_wallet("1")
    chain = node.chain(wallet)
    tx = await chain.prepare(
        "b", LTC, [Output(await node.new_address(), Decimal("0.5"))], None, payout_count=1
    )
    await chain.release(tx)
    await node.call(
        "sendtoaddress", await node.new_address(), "1", "", "", True, wallet=wallet
    )  # the only coin, spent elsewhere
    assert (await chain.status(tx)).state == "conflicted"
    await chain.broadcast(tx)
    await node.mine(1)
    assert (await chain.status(tx)).state == "conflicted"


class Answering(RpcClient):
    """The node, except for the calls given canned answers (what a node in another state
    would say: a fresh regtest node has no fee estimate, a busy mainnet one has)."""

    def __init__(self, node: Litecoind, **answers: Any) -> None:
        super().__init__(node.url, username=USER, password=PASSWORD)
        self.answers = answers

    async def call(self, method: str, *params: Any) -> Any:
        if method in self.answers:
            return self.answers[method]
        return await super().call(method, *params)


async def test_fees_use_the_configured_rates_when_the_node_has_no_estimate(node: Litecoind) -> None:
    fresh = Answering(
        node, estimatesmartfee={"errors": ["Insufficient data or no feerate found"], "blocks": 0}
    )
    chain = node.chain("miner", estimate_fees=True)
    chain.node = fresh
    fees = {p: await chain.estimate_fee(LTC, p) for p in PRIORITIES}
    # FEE_RATES (1, 2, 5, 10 sat/vB) x 141 vB
    assert fees == {
        "economy": Decimal("0.00000141"),
        "recommended": Decimal("0.00000282"),
        "high": Decimal("0.00000705"),
        "highest": Decimal("0.0000141"),
    }


async def test_fees_follow_the_node_estimate_when_it_has_one(node: Litecoind) -> None:
    chain = node.chain("miner", estimate_fees=True)
    answer = await node.call("estimatesmartfee", chain.conf_target["recommended"])
    expected = (
        Decimal(answer["feerate"]) * 100_000 * 141 / 100_000_000
        if "feerate" in answer
        else Decimal("0.00000282")
    )
    # the adapter rounds a fee up to whole litoshi, never down
    assert await chain.estimate_fee(LTC, None) == expected.quantize(
        Decimal("0.00000001"), rounding=ROUND_UP
    )
    # 12.345 sat/vB as a busy node would say (LTC/kvB), rounded up to whole litoshi
    chain.node = Answering(node, estimatesmartfee={"feerate": Decimal("0.00012345"), "blocks": 6})
    assert await chain.estimate_fee(LTC, "high") == Decimal("0.00001741")
    # never under what the node's mempool accepts (50 sat/vB here)
    chain.node = Answering(node, getmempoolinfo={"mempoolminfee": Decimal("0.0005")})
    assert await chain.estimate_fee(LTC, "economy") == Decimal("0.00007050")


async def test_replaceable_is_set_explicitly(node: Litecoind) -> None:
    wallet = await node.hot_wallet("1", "1")
    for replaceable, sequence in ((False, 0xFFFFFFFE), (True, 0xFFFFFFFD)):
        chain = node.chain(wallet, replaceable=replaceable)
        tx = await chain.prepare(
            "b", LTC, [Output(await node.new_address(), Decimal("0.1"))], None, payout_count=1
        )
        vin = (await node.call("decoderawtransaction", tx.raw))["vin"]
        assert {i["sequence"] for i in vin} == {sequence}
        assert (await node.call("decoderawtransaction", tx.raw))["locktime"] == 0
        await chain.release(tx)


def test_the_chains_file_configures_the_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from payoutd.chains import config

    def load(body: str) -> UtxoChain:
        path = tmp_path / "chains.toml"
        path.write_text(
            '[networks.LTC]\nadapter = "utxo"\nurl = "http://127.0.0.1:1"\n'
            'username = "u"\npassword_env = "LTC_PW"\n' + body
        )
        return UtxoChain.from_config(config.load(path)["LTC"])

    monkeypatch.setenv("LTC_PW", "secret")
    chain = load(
        'wallet = "hot"\nnet = "regtest"\nconfirmations = 3\n'
        "fee_rates = { economy = 1.5 }\nreplaceable = true\n"
    )
    assert (chain.mode, chain.net, chain.confirmations) == ("live", "regtest", 3)
    assert chain.wallet.url == "http://127.0.0.1:1/wallet/hot"
    assert chain.node.url == "http://127.0.0.1:1"
    assert chain.fee_rates["economy"] == Decimal("1.5") and chain.fee_rates["high"] == 5
    assert chain.replaceable and chain.funding == "psbt"
    assert chain.validate_address("rltc1q7gt30qhm8r400qdtdmks6cz7ceanerzguymuaz")
    for body, error in [
        ('walet = "hot"\n', "unknown keys walet"),
        ('replaceable = "no"\n', "true or false"),
        ("fee_rates = { fast = 3 }\n", "maps priorities"),
        ('funding = "magic"\n', "psbt or raw"),
    ]:
        with pytest.raises(config.ChainsFileError, match=error):
            load(body)
    monkeypatch.delenv("LTC_PW")
    with pytest.raises(config.ChainsFileError, match="LTC_PW is not set"):
        load("")


async def test_rpc_errors_are_typed(node: Litecoind) -> None:
    with pytest.raises(RpcError) as exc:
        await node.call("nosuchmethod")
    assert exc.value.code == -32601
    with pytest.raises(ChainUnavailable, match="credentials"):
        await RpcClient(node.url, username=USER, password="wrong").call("getblockcount")
    with pytest.raises(ChainUnavailable, match="unreachable"):
        await RpcClient(
            f"http://127.0.0.1:{free_port()}", username=USER, password=PASSWORD, timeout=2
        ).call("getblockcount")


# --- a real worker process, killed between recording and broadcasting ------------------


class HoldingProxy:
    """Stands between payoutd and the node. While `hold` is set it swallows every
    sendrawtransaction (never answers it, never forwards it), so a worker can be caught
    right after it recorded a batch and before the node saw it."""

    def __init__(self, node: Litecoind) -> None:
        self.node = node
        self.hold = True
        self.held = asyncio.Event()
        self.server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> HoldingProxy:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            found = re.search(rb"content-length:\s*(\d+)", head, re.IGNORECASE)
            body = await reader.readexactly(int(found.group(1)) if found else 0)
            if self.hold and b'"sendrawtransaction"' in body:
                self.held.set()
                await reader.read()  # until the caller goes away
                return
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    self.node.url + path, content=body, auth=(USER, PASSWORD)
                )
            writer.write(
                b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n"
                % (answer.status_code, len(answer.content))
                + answer.content
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


def spawn_worker(data_dir: Path, chains_file: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYOUTD_")}
    env.update(
        {
            "PAYOUTD_DATA_DIR": str(data_dir),
            "PAYOUTD_CHAINS_FILE": str(chains_file),
            "PAYOUTD_WORKER_INTERVAL_SECONDS": "0.1",
            PASSWORD_ENV: PASSWORD,
            "PYTHONUNBUFFERED": "1",
        }
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(PAYOUTD), "serve", "--role", "worker"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:]


async def until(
    predicate: Any, what: str, proc: subprocess.Popen[bytes], log: Path, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        if proc.poll() is not None:
            pytest.fail(f"worker exited ({proc.returncode}) waiting for {what}:\n{tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}:\n{tail(log)}")
        await asyncio.sleep(0.1)


@pytest.mark.slow
@pytest.mark.e2e
async def test_a_real_worker_killed_before_the_node_saw_its_batch(
    node: Litecoind, tmp_path: Path, sqlite_template: Path
) -> None:
    if not PAYOUTD.exists():
        pytest.skip(f"{PAYOUTD} is not installed")
    data_dir = tmp_path / "data"
    support.copy_template(sqlite_template, data_dir)
    wallet = await node.hot_wallet("2")
    address = await node.new_address()
    await node.mine(1)
    log = tmp_path / "worker.log"
    async with HoldingProxy(node) as proxy:
        chains_file = node.chains_file(tmp_path, wallet, url=proxy.url)
        settings = support.test_settings(data_dir, None, chains_file=chains_file)
        async with support.harness(settings) as h:
            m = await h.merchant(LTC="10")
            payout = await create(h, m, amount="0.7", address=address)

            async def status() -> dict[str, Any]:
                return await h.payout(m, payout["id"])

            worker = spawn_worker(data_dir, chains_file, log)
            try:

                async def held() -> bool:
                    return proxy.held.is_set()

                await until(held, "the worker to broadcast", worker, log)
                recorded = await status()
                assert recorded["status"] == "sending" and recorded["txid"]
                worker.send_signal(signal.SIGKILL)
                worker.wait(timeout=10)
            finally:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            assert recorded["txid"] not in await node.mempool()

            proxy.hold = False
            worker = spawn_worker(data_dir, chains_file, log)
            try:

                async def broadcast() -> bool:
                    return bool((await status())["status"] == "confirming")

                await until(broadcast, "the batch to be broadcast again", worker, log)
                assert await node.mempool() == [recorded["txid"]]
                await node.mine(2)

                async def paid() -> bool:
                    return bool((await status())["status"] == "paid")

                await until(paid, "the payout to be paid", worker, log)
                assert (await status())["txid"] == recorded["txid"]
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait()
            assert await node.received(address, 1) == Decimal("0.7")
            await h.assert_ledger_clean()
