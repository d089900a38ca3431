"""The EVM adapter end to end against a real local node (Hardhat 2, tests/chains/hardhat.py):
payouts in ETH and in an ERC-20 (USDT -> the deployed TestToken) through the API and the
worker, a crash between signing and broadcast, a reverting transfer, nonces, the wallet
balance guard, and the hot wallet's secrets kept out of every log."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import structlog
from eth_account import Account
from sqlalchemy import select
from web3.types import RPCEndpoint

from payoutd.chains import config as chains_config
from payoutd.chains.evm.adapter import EvmChain
from payoutd.domain.assets import ASSETS
from payoutd.domain.batches import Batch
from payoutd.domain.batching import Output
from payoutd.services.ports import ChainUnavailable
from payoutd.store.tables import holds
from payoutd.worker import jobs
from tests import support
from tests.chains.hardhat import HardhatNode
from tests.chains.hardhat import hardhat as hardhat  # the session fixture
from tests.support import Harness, Merchant


def recipient() -> str:
    return str(Account.create().address)


@pytest.fixture
def node(hardhat: HardhatNode) -> Iterator[HardhatNode]:
    """The session's node, with automining back on whatever a test did."""
    yield hardhat
    hardhat.set_automine(True)


@asynccontextmanager
async def evm_harness(
    node: HardhatNode,
    tmp_path: Path,
    database_url: str | None,
    *,
    fresh: bool = True,
    sqlite_template: Path | None = None,
) -> AsyncIterator[Harness]:
    if sqlite_template is not None:
        support.copy_template(sqlite_template, tmp_path)
    settings = support.test_settings(tmp_path, database_url, chains_file=node.chains_file(tmp_path))
    async with support.harness(settings, truncate=fresh and database_url is not None) as h:
        yield h


@pytest.fixture
async def h(node: HardhatNode, tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    async with evm_harness(node, tmp_path, database_url) as harness:
        yield harness


async def pay(
    h: Harness, m: Merchant, amount: str, currency: str, address: str, **extra: object
) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={
            "amount": amount,
            "currency": currency,
            "network": "ETH",
            "address": address,
            **extra,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def batch(h: Harness, batch_id: str) -> Batch:
    async with h.rt.db.read() as uow:
        found = await uow.batches.get(batch_id)
    assert found is not None
    return found


def run_of(b: Batch) -> list[dict[str, Any]]:
    assert b.raw_tx is not None
    return list(json.loads(b.raw_tx))


async def confirm(h: Harness, node: HardhatNode) -> None:
    """Past the 2 confirmations the chains file asks for, then let the worker see it."""
    node.mine(2)
    await h.tick()


async def test_eth_and_token_payouts_reach_the_recipients(h: Harness, node: HardhatNode) -> None:
    m = await h.merchant(ETH="10", USDT="1000")
    r1, r2, r3 = recipient(), recipient(), recipient()
    p1 = await pay(h, m, "0.5", "ETH", r1)
    p2 = await pay(h, m, "0.25", "ETH", r2, priority="high")
    p3 = await pay(h, m, "12.5", "USDT", r3)
    assert Decimal(p1["fees"]["network"]) > 0
    assert Decimal(p2["fees"]["network"]) > Decimal(p1["fees"]["network"])
    assert p3["fees"]["network"] == "1.000000"  # the configured flat token fee
    wallet_eth, wallet_usdt = node.balance(node.wallet), node.token_balance(node.wallet)

    # Recorded, broadcast, each transaction mined as it arrives (automine): the ETH
    # batch's two blocks and the USDT batch's one give the ETH batch its 2 confirmations
    # already; the USDT transfer, in the last block, has 1 of 2.
    await h.tick()
    assert (await h.payout(m, p3["id"]))["status"] == "confirming"
    await h.tick()
    assert (await h.payout(m, p3["id"]))["status"] == "confirming"
    await confirm(h, node)

    done = [await h.payout(m, p["id"]) for p in (p1, p2, p3)]
    assert [p["status"] for p in done] == ["paid"] * 3
    assert node.balance(r1) == Decimal(done[0]["final_amount"]) == Decimal("0.5")
    assert node.balance(r2) == Decimal(done[1]["final_amount"]) == Decimal("0.25")
    assert node.token_balance(r3) == Decimal(done[2]["final_amount"]) == Decimal("12.5")
    assert node.token_balance(node.wallet) == wallet_usdt - Decimal("12.5")
    # the chain took at most the recorded upper bound of the fee
    eth_batch = await batch(h, done[0]["batch_id"])
    assert eth_batch.fee is not None
    spent = wallet_eth - node.balance(node.wallet)
    assert Decimal("0.75") < spent
    # one transaction per output, each payout pointing at its own
    assert done[0]["batch_id"] == done[1]["batch_id"] != done[2]["batch_id"]
    assert done[0]["txid"] != done[1]["txid"]
    assert [t["hash"] for t in run_of(eth_batch)] == [done[0]["txid"], done[1]["txid"]]
    balances = await h.balances(m)
    assert Decimal(balances["ETH"]["held"]) == 0 and Decimal(balances["USDT"]["held"]) == 0
    assert (await h.ledger_check())["ok"]


async def test_from_amount_eth_pays_its_fee_out_of_the_output(
    h: Harness, node: HardhatNode
) -> None:
    m = await h.merchant(ETH="1")
    r = recipient()
    p = await pay(h, m, "0.1", "ETH", r, fee_mode="from_amount")
    await h.tick()
    await confirm(h, node)
    done = await h.payout(m, p["id"])
    assert done["status"] == "paid"
    final = Decimal(done["final_amount"])
    # the recipient got exactly what payoutd recorded: 0.1 less this transaction's max fee
    assert node.balance(r) == final
    assert final + Decimal(done["fees"]["network"]) == Decimal("0.1")
    assert Decimal((await h.balances(m))["ETH"]["available"]) == Decimal("0.9")
    assert (await h.ledger_check())["ok"]


async def test_a_crash_after_signing_sends_the_recorded_nonce_and_hash(
    node: HardhatNode, tmp_path: Path, database_url: str | None
) -> None:
    r = recipient()
    async with evm_harness(node, tmp_path, database_url) as h:
        m = await h.merchant(ETH="1", USDT="100")
        p = await pay(h, m, "0.01", "ETH", r)
        # The worker records the batch (signed run and nonces) and dies before it
        # broadcasts: nothing leaves payoutd.
        batch_id = await jobs.open_batch(h.rt.db, h.rt.ctx, "ETH", "ETH")
        assert batch_id is not None
        recorded = await batch(h, batch_id)
    [signed] = run_of(recorded)
    assert recorded.sequence_end == signed["nonce"] == node.nonce()  # not sent yet
    start = node.w3.eth.block_number

    async with evm_harness(node, tmp_path, database_url, fresh=False) as h:
        await h.tick()  # the restarted worker: recorded batches go out first
        for _ in range(3):
            await confirm(h, node)
        assert (await h.payout(m, p["id"]))["status"] == "paid"
        assert (await batch(h, batch_id)).txid == recorded.txid
    # the node saw the recorded transaction, and nothing else from the wallet
    sent = node.sent_by_wallet(start)
    assert [(t["hash"], t["nonce"]) for t in sent] == [(signed["hash"], signed["nonce"])]
    assert signed["hash"] == recorded.txid
    assert node.balance(r) == Decimal("0.01")


async def test_a_reverting_transfer_fails_its_payout_and_returns_the_funds(
    h: Harness, node: HardhatNode
) -> None:
    m = await h.merchant(USDT="100")
    good, bad, after = recipient(), recipient(), recipient()
    node.block_recipient(bad)
    p_good = await pay(h, m, "5", "USDT", good)
    p_bad = await pay(h, m, "7", "USDT", bad)
    p_after = await pay(h, m, "3", "USDT", after)
    await h.tick()
    await h.tick()
    await confirm(h, node)

    a, b, c = [await h.payout(m, p["id"]) for p in (p_good, p_bad, p_after)]
    assert a["batch_id"] == b["batch_id"] == c["batch_id"]
    assert (a["status"], b["status"], c["status"]) == ("paid", "failed", "paid")
    assert b["failure_reason"] == "transaction reverted"
    assert node.token_balance(good) == Decimal(5) and node.token_balance(after) == Decimal(3)
    assert node.token_balance(bad) == 0
    # the reverted transaction still used its nonce: the one after it went through
    receipt = node.w3.eth.get_transaction_receipt(b["txid"])
    assert receipt["status"] == 0
    # only the paid payouts (and their flat fees) left the balance; the hold was voided
    balances = await h.balances(m)
    assert Decimal(balances["USDT"]["available"]) == Decimal(100) - Decimal(5 + 1) - Decimal(3 + 1)
    assert Decimal(balances["USDT"]["held"]) == 0
    async with h.rt.db.read() as uow:
        status = (
            await uow.conn.execute(select(holds.c.status).where(holds.c.payout_id == p_bad["id"]))
        ).scalar_one()
    assert status == "voided"
    assert (await h.ledger_check())["ok"]


async def test_batches_in_a_row_use_consecutive_nonces(h: Harness, node: HardhatNode) -> None:
    m = await h.merchant(ETH="1", USDT="100")
    start_nonce = node.nonce()
    first = await pay(h, m, "0.01", "ETH", recipient())
    await h.tick()
    second = await pay(h, m, "2", "USDT", recipient())
    third = await pay(h, m, "3", "USDT", recipient())
    await h.tick()
    b1 = await batch(h, (await h.payout(m, first["id"]))["batch_id"])
    b2 = await batch(h, (await h.payout(m, second["id"]))["batch_id"])
    assert (await h.payout(m, third["id"]))["batch_id"] == b2.id
    nonces = [t["nonce"] for b in (b1, b2) for t in run_of(b)]
    assert nonces == list(range(start_nonce, start_nonce + 3))
    assert b1.sequence_end == start_nonce and b2.sequence_end == start_nonce + 2
    assert node.nonce() == start_nonce + 3  # the node agrees: no gap, nothing else sent
    for b in (b1, b2):
        for t in run_of(b):
            assert int(node.w3.eth.get_transaction(t["hash"])["nonce"]) == t["nonce"]
    await confirm(h, node)
    assert {(await h.payout(m, p["id"]))["status"] for p in (first, second, third)} == {"paid"}


async def test_a_batch_waits_while_the_hot_wallet_cannot_pay_it(
    h: Harness, node: HardhatNode
) -> None:
    held = node.token_balance(node.wallet)
    m = await h.merchant(USDT=str(held + 1000))
    p = await pay(h, m, str(held + 500), "USDT", recipient())
    nonce = node.nonce()
    await h.tick()
    await h.tick()
    assert (await h.payout(m, p["id"]))["status"] == "queued"
    assert node.nonce() == nonce  # nothing was signed or sent
    node.mint(node.wallet, Decimal(1000))
    await h.tick()
    await confirm(h, node)
    assert (await h.payout(m, p["id"]))["status"] == "paid"


async def test_a_lost_transaction_is_sent_again_and_a_replaced_one_needs_review(
    h: Harness, node: HardhatNode
) -> None:
    m = await h.merchant(ETH="1")
    node.set_automine(False)
    lost = await pay(h, m, "0.01", "ETH", recipient())
    await h.tick()
    payout = await h.payout(m, lost["id"])
    assert payout["status"] == "confirming"
    # the node forgets it (mempool eviction, node restart): the identical transaction
    # goes out again, same hash
    node.w3.provider.make_request(RPCEndpoint("hardhat_dropTransaction"), [payout["txid"]])
    await h.tick()
    assert node.w3.eth.get_transaction(payout["txid"])["hash"].hex().removeprefix("0x") == payout[
        "txid"
    ].removeprefix("0x")
    node.mine(3)
    await h.tick()
    assert (await h.payout(m, lost["id"]))["status"] == "paid"

    # someone else spends the wallet's next nonce: ours can never be mined
    replaced = await pay(h, m, "0.02", "ETH", recipient())
    await h.tick()
    payout = await h.payout(m, replaced["id"])
    mine = node.w3.eth.get_transaction(payout["txid"])
    other = Account.sign_transaction(
        {
            "type": 2,
            "chainId": 31337,
            "nonce": mine["nonce"],
            "to": node.wallet,
            "value": 0,
            "gas": 21000,
            "maxFeePerGas": 3 * int(mine["maxFeePerGas"]),
            "maxPriorityFeePerGas": 3 * int(mine["maxPriorityFeePerGas"]),
        },
        node.wallet_key,
    )
    node.w3.eth.send_raw_transaction(other.raw_transaction)
    node.mine(3)
    await h.tick()
    reviewed = await h.payout(m, replaced["id"])
    assert reviewed["status"] == "needs_review"
    assert Decimal((await h.balances(m))["ETH"]["held"]) > 0  # still held, for a human


async def test_the_hot_wallet_secrets_never_reach_a_log(
    node: HardhatNode,
    tmp_path: Path,
    sqlite_template: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)  # web3's own request logging included
    secrets = [node.passphrase, node.wallet_key, "0x" + node.wallet_key]
    with structlog.testing.capture_logs() as events:
        async with evm_harness(node, tmp_path / "a", None, sqlite_template=sqlite_template) as h:
            chain = h.rt.ctx.chain("ETH")
            assert isinstance(chain, EvmChain)
            m = await h.merchant(ETH="1")
            p = await pay(h, m, "0.01", "ETH", recipient())
            await h.tick()
            await confirm(h, node)
            assert (await h.payout(m, p["id"]))["status"] == "paid"
            shown = repr(chain) + str(chain)
        # a wrong passphrase: the batch waits, the log says why, and shows no passphrase
        wrong = "not-the-passphrase-" + node.passphrase[:6]
        monkeypatch.setenv("PAYOUTD_TEST_EVM_KEYSTORE_PASSPHRASE", wrong)
        async with evm_harness(node, tmp_path / "b", None, sqlite_template=sqlite_template) as h:
            m = await h.merchant(ETH="1")
            p = await pay(h, m, "0.01", "ETH", recipient())
            await h.tick()
            assert (await h.payout(m, p["id"]))["status"] == "queued"
    captured = capsys.readouterr()
    logs = "\n".join([caplog.text, captured.out, captured.err, *map(repr, events)])
    assert "cannot decrypt keystore" in logs
    assert "batch.broadcast" in logs and "eth_sendRawTransaction" in logs  # all captured
    for secret in [*secrets, wrong]:
        assert secret not in logs
        assert secret not in shown


async def test_estimates_follow_priority_and_the_flat_token_fee(h: Harness) -> None:
    chain = h.rt.ctx.chain("ETH")
    eth, usdt = ASSETS[("ETH", "ETH")], ASSETS[("USDT", "ETH")]
    fees = [await chain.estimate_fee(eth, p) for p in ("economy", "recommended", "high", "highest")]
    assert fees == sorted(fees) and fees[0] > 0 and fees[3] > fees[0]
    assert await chain.estimate_fee(usdt, "highest") == Decimal(1)
    assert chain.mode == "live" and chain.confirmations == 2


async def test_a_batch_the_node_refuses_fails_and_leaves_no_nonce_gap(
    h: Harness, node: HardhatNode, monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = h.rt.ctx.chain("ETH")
    m = await h.merchant(ETH="5000")
    nonce = node.nonce()
    # the balance guard would hold this batch back; without it the node refuses it
    monkeypatch.setattr(chain, "shortfall", _no_shortfall)
    too_big = await pay(h, m, str(node.balance(node.wallet) + 1000), "ETH", recipient())
    await h.tick()
    refused = await h.payout(m, too_big["id"])
    assert refused["status"] == "failed"
    assert "enough funds" in refused["failure_reason"]
    assert Decimal((await h.balances(m))["ETH"]["available"]) == Decimal(5000)
    assert node.nonce() == nonce  # nothing went out
    # the refused batch holds no nonce: the next one takes it, and gets mined
    fine = await pay(h, m, "0.01", "ETH", recipient())
    await h.tick()
    sent = await h.payout(m, fine["id"])
    assert int(node.w3.eth.get_transaction(sent["txid"])["nonce"]) == nonce
    await confirm(h, node)
    assert (await h.payout(m, fine["id"]))["status"] == "paid"
    assert (await h.ledger_check())["ok"]


async def _no_shortfall(asset: object, outputs: object) -> None:
    return None


def test_an_unreachable_node_is_unavailable_and_its_url_stays_secret(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens
    keystore = tmp_path / "key.json"
    keystore.write_text(
        json.dumps(Account.encrypt(Account.create().key, "pw", kdf="pbkdf2", iterations=2))
    )
    path = tmp_path / "chains.toml"
    path.write_text(
        '[networks.ETH]\nadapter = "evm"\n'
        f'url = "http://127.0.0.1:{port}/v3/SECRET-API-KEY"\n'
        f'chain_id = 1\nkeystore = "{keystore}"\npassphrase_env = "PAYOUTD_TEST_EVM_PW"\n'
    )
    cfg = chains_config.load(path)["ETH"]
    chain = EvmChain.from_config(cfg)
    assert "SECRET-API-KEY" not in repr(chain)

    async def run() -> str | None:
        with pytest.raises(ChainUnavailable) as caught:
            await chain.estimate_fee(ASSETS[("ETH", "ETH")], None)
        assert "SECRET-API-KEY" not in str(caught.value)
        assert f"127.0.0.1:{port}" in str(caught.value)
        return await chain.shortfall(ASSETS[("ETH", "ETH")], [Output(recipient(), Decimal(1))])

    # the passphrase variable is not set: the batch waits, saying so
    reason = asyncio.run(run())
    assert reason is not None and "PAYOUTD_TEST_EVM_PW" in reason

    bad = tmp_path / "bad.toml"
    bad.write_text(path.read_text() + 'gas_price = "5"\n')
    with pytest.raises(chains_config.ChainsFileError, match="unknown evm options gas_price"):
        EvmChain.from_config(chains_config.load(bad)["ETH"])


async def test_a_run_the_node_takes_only_in_part_is_completed_with_the_same_transactions(
    node: HardhatNode, tmp_path: Path
) -> None:
    keystore, wallet, _ = node.hot_wallet(tmp_path, eth=Decimal("0.6"), tokens=Decimal(0))
    chain = EvmChain.from_config(
        chains_config.load(node.chains_file(tmp_path, keystore=keystore))["ETH"]
    )
    eth = ASSETS[("ETH", "ETH")]
    a, b = recipient(), recipient()
    tx = await chain.prepare(
        "partial",
        eth,
        [Output(a, Decimal("0.5")), Output(b, Decimal("0.5"))],
        None,
        payout_count=2,
        next_sequence=None,
    )
    await chain.broadcast(tx)  # the first goes (and is mined), the second is refused
    assert node.balance(a) == Decimal("0.5") and node.balance(b) == 0
    # the run is out in part: the missing transaction is "unknown", its nonce still free,
    # and the executor sends the identical run again
    assert (await chain.status(tx)).state == "unknown"
    node.send_eth(wallet, Decimal(1))
    await chain.broadcast(tx)
    node.mine(1)
    state = await chain.status(tx)
    assert state.state == "mined" and state.failed_outputs == frozenset()
    assert node.balance(b) == Decimal("0.5")
    assert node.nonce(wallet) == 2
    sent = node.sent_by_wallet(0, wallet)
    assert [(t["hash"], t["nonce"]) for t in sent] == list(
        zip(tx.output_txids, [0, 1], strict=True)
    )
