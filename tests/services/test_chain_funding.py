"""Off-ramp funding seen on the sandbox chain (both databases): a transfer simulated into a
funding wallet through POST /v1/sandbox/deposits is handed on once it has the network's
confirmations, never before and never twice (rescans, two scanners at once, a handler
that fails half way), and the sandbox API refuses bad input without recording anything."""

from __future__ import annotations

import asyncio
import dataclasses
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, func, select

from payoutd.chains import sandbox
from payoutd.chains.evm.adapter import EvmChain
from payoutd.domain.banking import ChainDeposit
from payoutd.services import funding
from payoutd.services.context import Context
from payoutd.services.ports import Deposits, UnitOfWork
from payoutd.store.tables import audit_log, chain_cursors, chain_deposits
from payoutd.worker import jobs
from payoutd.worker.runner import Worker
from tests import live, support
from tests.support import Harness

# EIP-55 test vectors: valid checksummed Ethereum addresses
FUNDING = "0x52908400098527886E0F7030069857D2E4169EE7"
OTHER = "0x8617E340B3D01FA5F11F306F4090FD50E238070D"
SENDER = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"
WALLETS = {"ETH": [FUNDING]}


class Handler:
    """The ramp services' stand-in: what it was handed, and a row it writes in the job's
    transaction (so a rollback shows)."""

    def __init__(self, fail: int = 0, hold: float = 0.0) -> None:
        self.seen: list[ChainDeposit] = []
        self.fail = fail
        self.hold = hold
        self.called = asyncio.Event()

    async def __call__(self, uow: UnitOfWork, ctx: Context, deposit: ChainDeposit) -> None:
        await uow.audit.record(
            actor="test",
            action="deposit.received",
            now=ctx.clock.now(),
            details={"txid": deposit.txid, "index": deposit.index},
        )
        if self.hold:
            await asyncio.sleep(self.hold)  # the transaction stays open meanwhile
        if self.fail:
            self.fail -= 1
            raise RuntimeError("the ramp services failed")
        self.seen.append(deposit)
        self.called.set()


async def deposit(h: Harness, **body: Any) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/sandbox/deposits",
        headers=h.admin,
        json={
            "network": "ETH",
            "currency": "USDC",
            "address": FUNDING,
            "amount": "250.5",
            "sender": SENDER,
            **body,
        },
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


async def watch(h: Harness, handler: Handler) -> list[ChainDeposit]:
    return await jobs.watch_funding(h.rt.db, h.rt.ctx, WALLETS, handler)


async def recorded(h: Harness) -> list[dict[str, Any]]:
    async with h.rt.db.read() as uow:
        rows = await uow.conn.execute(select(chain_deposits))
        return [dict(r._mapping) for r in rows]


async def handed_rows(h: Harness) -> int:
    async with h.rt.db.read() as uow:
        count = await uow.conn.execute(
            select(func.count()).where(audit_log.c.action == "deposit.received")
        )
        return int(count.scalar() or 0)


async def cursor(h: Harness) -> int | None:
    async with h.rt.db.read() as uow:
        return await funding.cursor(uow, "ETH")


async def test_a_deposit_is_handed_on_once_after_its_confirmations(h: Harness) -> None:
    handler = Handler()
    sent = await deposit(h)
    assert sent["status"] == "mempool"
    assert sent["amount"] == "250.500000"
    await deposit(h, address=OTHER, amount="7")  # not a funding wallet
    await deposit(h, currency="ETH", amount="1")  # the native coin funds no off-ramp
    usdt = await deposit(h, currency="USDT", amount="0.000001", sender=None)

    assert await watch(h, handler) == []  # in the mempool
    await h.mine()
    assert await watch(h, handler) == []  # 1 confirmation of the 2 the sandbox asks
    assert await cursor(h) == 1  # block 1 is not confirmed yet: still to scan
    await h.mine()
    seen = await watch(h, handler)
    assert seen == handler.seen
    assert [(d.txid, d.currency, d.amount, d.address, d.sender) for d in seen] == [
        (sent["txid"], "USDC", Decimal("250.5"), FUNDING, SENDER),
        (usdt["txid"], "USDT", Decimal("0.000001"), FUNDING, None),
    ]
    assert all(d.network == "ETH" and d.block == 1 and d.confirmations == 2 for d in seen)
    assert await cursor(h) == 2

    await h.mine(3)
    assert await watch(h, handler) == []
    assert len(handler.seen) == 2
    rows = await recorded(h)
    assert sorted((r["txid"], r["amount"], r["confirmations"]) for r in rows) == sorted(
        [(sent["txid"], Decimal("250.5"), 2), (usdt["txid"], Decimal("0.000001"), 2)]
    )
    assert await handed_rows(h) == 2
    assert await cursor(h) == 5  # blocks up to 4 have 2 confirmations at height 5

    # the operator sees the simulated transfers among what the sandbox mined; a merchant,
    # none of whose payouts they carry, does not
    listed = await h.client.get("/v1/sandbox/transactions?network=ETH", headers=h.admin)
    shown = {t["txid"]: t for t in listed.json()["data"]}
    assert shown[sent["txid"]]["sender"] == SENDER
    assert shown[sent["txid"]]["outputs"] == [
        {"address": FUNDING, "amount": "250.500000", "memo": None}
    ]
    assert (shown[usdt["txid"]]["sender"], shown[usdt["txid"]]["confirmations"]) == (None, 5)
    m = await h.merchant()
    mine = await h.client.get("/v1/sandbox/transactions", headers=m.headers)
    assert mine.json()["data"] == []


async def test_a_rescan_from_the_first_block_hands_nothing_on_again(h: Harness) -> None:
    handler = Handler()
    await deposit(h)
    await h.mine(2)
    assert len(await watch(h, handler)) == 1
    async with h.rt.db.unit() as uow:  # the cursor lost: the watch starts over
        await uow.conn.execute(delete(chain_cursors))
    assert await watch(h, handler) == []
    assert len(await recorded(h)) == 1
    assert await handed_rows(h) == 1
    assert await cursor(h) == 2


async def test_two_scanners_at_once_hand_a_deposit_on_once(h: Harness) -> None:
    await deposit(h)
    await h.mine(2)
    chain = h.rt.ctx.chain("ETH")
    assert isinstance(chain, sandbox.SandboxChain)
    watchable: Deposits = chain  # mypy: the sandbox implements the port
    assert isinstance(watchable, Deposits)
    # Both scanners fetched the same blocks before either recorded anything; the
    # handler keeps each transaction open a while, so the two records overlap.
    found, next_block = await chain.deposits([FUNDING], ["USDC", "USDT"], None)
    assert len(found) == 1
    handler = Handler(hold=0.3)

    async def scanner() -> list[ChainDeposit]:
        async with h.rt.db.unit() as uow:
            return await funding.record(uow, h.rt.ctx, "ETH", found, next_block, handler)

    first, second = await asyncio.gather(scanner(), scanner())
    assert sorted([len(first), len(second)]) == [0, 1]
    assert len(handler.seen) == 1
    assert len(await recorded(h)) == 1
    assert await handed_rows(h) == 1

    # and two whole passes of the worker job at once
    await deposit(h, amount="3")
    await h.mine(2)
    both = await asyncio.gather(watch(h, handler), watch(h, handler))
    assert sum(len(b) for b in both) == 1
    assert len(await recorded(h)) == 2
    assert await handed_rows(h) == 2


async def test_a_failing_handler_keeps_nothing_and_the_next_pass_retries(h: Harness) -> None:
    handler = Handler(fail=1)
    sent = await deposit(h)
    await h.mine(2)
    with pytest.raises(RuntimeError, match="ramp services failed"):
        await watch(h, handler)
    assert await recorded(h) == []
    assert await handed_rows(h) == 0
    assert await cursor(h) is None
    seen = await watch(h, handler)
    assert [d.txid for d in seen] == [sent["txid"]]
    assert await handed_rows(h) == 1


async def test_a_deposit_a_drop_rule_loses_is_never_seen(h: Harness) -> None:
    handler = Handler()
    await sandbox.add_rule(h.rt.db, address=FUNDING, action="drop", network="ETH")
    lost = await deposit(h)
    assert lost["status"] == "dropped"
    await h.mine(2)  # an idle sandbox mines only when asked
    assert await watch(h, handler) == []
    assert await recorded(h) == []


async def test_each_call_scans_a_bounded_range_of_blocks(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sandbox, "DEPOSIT_BLOCK_RANGE", 2)
    handler = Handler()
    await h.mine(5)
    await deposit(h)
    await h.mine(3)  # the deposit is in block 6, tip 8: blocks 1..7 are confirmed
    chain = h.rt.ctx.chain("ETH")
    assert isinstance(chain, sandbox.SandboxChain)
    assert await chain.deposits([FUNDING], ["USDC"], 1) == ([], 3)
    assert await chain.deposits([FUNDING], ["USDC"], 3) == ([], 5)
    found, next_block = await chain.deposits([FUNDING], ["USDC"], 5)
    assert ([d.block for d in found], next_block) == ([6], 7)
    assert await chain.deposits([FUNDING], ["USDC"], 7) == ([], 8)
    assert await chain.deposits([FUNDING], ["USDC"], 8) == ([], 8)
    # the worker job walks the ranges in one pass
    assert len(await watch(h, handler)) == 1
    assert await cursor(h) == 8


async def test_the_worker_loop_watches_the_funding_wallets_it_is_given(
    database_url: str | None, tmp_path: Path
) -> None:
    settings = support.test_settings(tmp_path, database_url, worker_interval_seconds=0.05)
    async with support.harness(settings, truncate=database_url is not None) as h:
        handler = Handler()
        idle = Worker(h.rt.db, h.rt.ctx, h.rt.sender, funding_wallets=WALLETS)
        idle.start()  # no handler given: no watch
        await idle.stop()
        worker = Worker(h.rt.db, h.rt.ctx, h.rt.sender, funding_wallets=WALLETS, on_deposit=handler)
        worker.start()
        try:
            sent = await deposit(h)
            await h.mine(2)
            async with asyncio.timeout(10):
                await handler.called.wait()
            await asyncio.sleep(0.3)  # more passes: still once
        finally:
            await worker.stop()
        assert [d.txid for d in handler.seen] == [sent["txid"]]
        assert await handed_rows(h) == 1


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        (
            {"address": "0x52908400098527886E0F7030069857D2E4169Ee7"},
            422,
            "invalid_address",
            "address",
        ),
        ({"sender": "0xnot-an-address"}, 422, "invalid_address", "sender"),
        ({"amount": "1.0000001"}, 422, "invalid_amount", "amount"),
        ({"amount": "0"}, 422, "invalid_amount", "amount"),
        ({"amount": "1e3"}, 422, "invalid_amount", "amount"),
        ({"currency": "BTC"}, 422, "service_not_found", "network"),
        ({"currency": "XYZ"}, 422, "currency_not_found", "currency"),
        ({"network": "NOPE"}, 422, "service_not_found", "network"),
        ({"fee": "1"}, 422, "validation_error", "fee"),
    ],
)
async def test_bad_sandbox_deposits_are_refused_and_record_nothing(
    h: Harness, body: dict[str, Any], status: int, code: str, field: str
) -> None:
    r = await h.client.post(
        "/v1/sandbox/deposits",
        headers=h.admin,
        json={"network": "ETH", "currency": "USDC", "address": FUNDING, "amount": "1", **body},
    )
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code, r.text
    assert field in error["fields"], r.text
    listed = await h.client.get("/v1/sandbox/transactions", headers=h.admin)
    assert listed.json()["data"] == []


async def test_only_an_admin_key_simulates_deposits(h: Harness) -> None:
    m = await h.merchant()
    r = await h.client.post(
        "/v1/sandbox/deposits",
        headers=m.headers,
        json={"network": "ETH", "currency": "USDC", "address": FUNDING, "amount": "1"},
    )
    assert (r.status_code, r.json()["error"]["code"]) == (403, "forbidden_scope"), r.text


async def test_a_node_that_does_not_answer_moves_nothing(h: Harness, tmp_path: Path) -> None:
    down = EvmChain(
        "ETH",
        url=f"http://127.0.0.1:{live.free_port()}",  # nothing listens there
        chain_id=1,
        keystore=tmp_path / "unused.json",
        passphrase=lambda: None,
        tokens={},
        confirmations=2,
        batch_window_seconds=None,
        timeout_seconds=2,
    )
    ctx = dataclasses.replace(h.rt.ctx, chains={**h.rt.ctx.chains, "ETH": down})
    handler = Handler()
    # the other networks' wallets are still watched in the same pass
    await deposit(h, network="BASE", address=OTHER)
    await h.mine(2)
    seen = await jobs.watch_funding(h.rt.db, ctx, {"ETH": [FUNDING], "BASE": [OTHER]}, handler)
    assert [(d.network, d.address) for d in seen] == [("BASE", OTHER)]
    assert await cursor(h) is None
    assert [(r["network"], r["address"]) for r in await recorded(h)] == [("BASE", OTHER)]
