"""What the shared chain-adapter suite (test_contract.py) needs from each chain.

Each chain family contributes one factory to `FACTORIES`: an async context manager that
yields a `ChainUnderTest` (a ready, funded adapter and the knobs to drive its chain)
and cleans up after. The suite runs every behaviour once per entry. To add a family,
write its factory (next to its own tests) and register it here, e.g.

    from tests.chains.evm.support import evm_chain
    FACTORIES["evm"] = evm_chain
"""

from __future__ import annotations

import functools
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from embit import bech32

from payoutd.bootstrap import build
from payoutd.chains import sandbox
from payoutd.chains.sandbox import SandboxChain
from payoutd.domain.assets import ASSETS, Asset
from payoutd.services.ports import Chain
from tests import support
from tests.chains import hardhat, litecoind, surfpool, tonsandbox


@dataclass
class ChainUnderTest:
    chain: Chain
    asset: Asset  # the asset the suite pays out
    new_address: Callable[[], Awaitable[str]]  # a fresh valid recipient address
    mine: Callable[[int], Awaitable[None]]  # advance the chain by n blocks
    received: Callable[[str], Awaitable[Decimal]]  # all an address got, mempool included
    # what the hot wallet holds reserved for prepared transactions (coins, nonces)
    locked: Callable[[], Awaitable[frozenset[object]]]
    prices_priority: bool  # whether a higher priority must cost strictly more
    amount: Decimal  # a comfortable amount for one output
    # whether a broadcast transaction waits (in a mempool) for `mine`; a Solana leader
    # executes it on arrival, in a block of its own that `mine` then builds on
    waits_for_mine: bool = True
    # whether addresses carry a checksum; a Solana address (a bare public key) does not,
    # so only a character outside its alphabet can be caught
    checksummed: bool = True


# (a directory of the test's own, a migrated SQLite database file to copy if needed)
Factory = Callable[[Path, Path], AbstractAsyncContextManager[ChainUnderTest]]


@asynccontextmanager
async def sandbox_chain(tmp_path: Path, sqlite_template: Path) -> AsyncIterator[ChainUnderTest]:
    support.copy_template(sqlite_template, tmp_path)
    clock = support.FakeClock()
    rt = build(support.test_settings(tmp_path, None), clock=clock)
    chain = rt.ctx.chains["LTC"]
    assert isinstance(chain, SandboxChain)

    async def new_address() -> str:
        # a mainnet P2WPKH address: the sandbox checks each network's real rules
        return str(bech32.encode("ltc", 0, os.urandom(20)))

    async def mine(blocks: int) -> None:
        for _ in range(blocks):
            clock.advance(1)
            await chain.mine(clock.now())

    async def received(address: str) -> Decimal:
        txs = await sandbox.transactions(rt.db, network="LTC", limit=1000)
        return sum(
            (Decimal(o["amount"]) for tx in txs for o in tx["outputs"] if o["address"] == address),
            Decimal(0),
        )

    async def locked() -> frozenset[object]:
        return frozenset()  # the sandbox reserves nothing

    try:
        yield ChainUnderTest(
            chain,
            ASSETS[("LTC", "LTC")],
            new_address,
            mine,
            received,
            locked,
            prices_priority=True,
            amount=Decimal("0.5"),
        )
    finally:
        await rt.close()


@asynccontextmanager
async def utxo_chain(
    tmp_path: Path, sqlite_template: Path, *, funding: str = "psbt"
) -> AsyncIterator[ChainUnderTest]:
    node = litecoind.node()
    wallet = await node.hot_wallet("2", "2", "2")
    chain = node.chain(wallet, funding=funding)

    async def mine(blocks: int) -> None:
        await node.mine(blocks)

    async def locked() -> frozenset[object]:
        coins = await node.call("listlockunspent", wallet=wallet)
        return frozenset((c["txid"], c["vout"]) for c in coins)

    yield ChainUnderTest(
        chain,
        ASSETS[("LTC", "LTC")],
        node.new_address,
        mine,
        node.received,
        locked,
        prices_priority=True,
        amount=Decimal("0.5"),
    )


FACTORIES: dict[str, Factory] = {
    "sandbox": sandbox_chain,
    "utxo": utxo_chain,
    # the path for nodes without PSBT (Dogecoin Core 1.14), on the same litecoind
    "utxo-raw": functools.partial(utxo_chain, funding="raw"),
    "evm": hardhat.evm_chain,
    "solana": surfpool.solana_chain,
    "ton": tonsandbox.ton_chain,
}
