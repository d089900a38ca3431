"""The chain Protocol's behaviours, tested identically on every adapter: the sandbox, the
UTXO adapter on a real litecoind, the EVM adapter on Hardhat and the Solana adapter on
Surfpool (registered in contract_support). What the executor relies on from any chain is
pinned here; where a chain differs by nature (Solana addresses carry no checksum, a
Solana leader includes a transaction on arrival) its ChainUnderTest says so."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from payoutd.domain.batching import Output
from payoutd.services.ports import PreparedTx
from tests.chains.contract_support import FACTORIES, ChainUnderTest

PRIORITIES = ("economy", "recommended", "high", "highest")


@pytest.fixture(params=sorted(FACTORIES))
async def live_chain(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> AsyncIterator[ChainUnderTest]:
    async with FACTORIES[request.param](tmp_path, sqlite_template) as cut:
        yield cut


def corrupt(address: str) -> str:
    """One character in the middle changed to another of the same alphabet."""
    i = len(address) // 2
    swap = {"q": "p", "p": "q", "0": "2", "x": "y"}.get(address[i], "q")
    if swap == address[i]:
        swap = "z"
    return address[:i] + swap + address[i + 1 :]


async def prepare(
    cut: ChainUnderTest, outputs: list[Output], priority: str | None = None
) -> PreparedTx:
    return await cut.chain.prepare(
        f"contract-{uuid.uuid4().hex[:8]}",
        cut.asset,
        outputs,
        priority,
        payout_count=len(outputs),
        next_sequence=None,
    )


async def test_validates_its_own_addresses_and_refuses_a_corrupted_one(
    live_chain: ChainUnderTest,
) -> None:
    address = await live_chain.new_address()
    assert live_chain.chain.validate_address(address)
    i = len(address) // 2
    # "0" is outside base58 and bech32 alike; hex has it, but checksummed hex does not
    # survive any one-character change
    wrong = corrupt(address) if live_chain.checksummed else address[:i] + "0" + address[i + 1 :]
    with pytest.raises(ValueError):
        live_chain.chain.validate_address(wrong)


async def test_fee_estimate_is_positive_and_grows_with_priority(live_chain: ChainUnderTest) -> None:
    fees = [await live_chain.chain.estimate_fee(live_chain.asset, p) for p in PRIORITIES]
    assert all(f > 0 for f in fees)
    assert fees == sorted(fees)
    if live_chain.prices_priority:
        assert fees[0] < fees[-1]
    assert await live_chain.chain.estimate_fee(live_chain.asset, None) == fees[1]


async def test_outputs_pay_what_was_asked_in_order(live_chain: ChainUnderTest) -> None:
    a, b = await live_chain.new_address(), await live_chain.new_address()
    outputs = [Output(a, live_chain.amount), Output(b, live_chain.amount / 2)]
    tx = await prepare(live_chain, outputs)
    try:
        assert tx.txid and tx.raw and tx.fee > 0
        paid = tx.output_amounts or tuple(o.amount for o in outputs)
        assert paid == (live_chain.amount, live_chain.amount / 2)
        # never more than the same payouts sent one by one
        assert tx.unbatched_fee is not None and tx.unbatched_fee >= tx.fee
    finally:
        await live_chain.chain.release(tx)


async def test_outputs_that_pay_the_fee_pay_exactly_the_fee(live_chain: ChainUnderTest) -> None:
    a, b = await live_chain.new_address(), await live_chain.new_address()
    asked = [live_chain.amount, live_chain.amount / 2]
    tx = await prepare(
        live_chain, [Output(a, asked[0], subtract_fee=True), Output(b, asked[1], subtract_fee=True)]
    )
    try:
        assert len(tx.output_amounts) == 2
        assert all(0 < paid < want for paid, want in zip(tx.output_amounts, asked, strict=True))
        assert sum(asked) - sum(tx.output_amounts) == tx.fee
    finally:
        await live_chain.chain.release(tx)


async def test_broadcast_twice_is_one_transaction(live_chain: ChainUnderTest) -> None:
    address = await live_chain.new_address()
    tx = await prepare(live_chain, [Output(address, live_chain.amount)])
    await live_chain.chain.broadcast(tx)
    await live_chain.chain.broadcast(tx)
    await live_chain.mine(1)
    await live_chain.chain.broadcast(tx)  # also once mined
    assert await live_chain.received(address) == live_chain.amount
    assert (await live_chain.chain.status(tx)).state == "mined"


async def test_status_follows_the_transaction_to_its_confirmations(
    live_chain: ChainUnderTest,
) -> None:
    tx = await prepare(live_chain, [Output(await live_chain.new_address(), live_chain.amount)])
    assert (await live_chain.chain.status(tx)).state == "unknown"
    await live_chain.chain.broadcast(tx)
    first = await live_chain.chain.status(tx)
    if live_chain.waits_for_mine:
        assert first.state == "mempool"
        start = 0
    else:  # included on arrival: one confirmation already
        assert (first.state, first.confirmations) == ("mined", 1)
        start = 1
    seen = []
    for _ in range(3):
        await live_chain.mine(1)
        state = await live_chain.chain.status(tx)
        assert state.state == "mined"
        seen.append(state.confirmations)
    assert seen == [start + 1, start + 2, start + 3]


async def test_release_frees_what_prepare_reserved(live_chain: ChainUnderTest) -> None:
    before = await live_chain.locked()
    tx = await prepare(live_chain, [Output(await live_chain.new_address(), live_chain.amount)])
    await live_chain.chain.release(tx)
    assert await live_chain.locked() == before
    await live_chain.chain.release(tx)  # twice is harmless


async def test_a_transaction_the_chain_never_saw_is_unknown(live_chain: ChainUnderTest) -> None:
    tx = await prepare(live_chain, [Output(await live_chain.new_address(), live_chain.amount)])
    await live_chain.chain.release(tx)
    await live_chain.mine(1)
    assert (await live_chain.chain.status(tx)).state == "unknown"
