"""Off-ramp funding on a real local EVM node (Hardhat 2, tests/chains/hardhat.py): the
adapter's `deposits()` finds an ERC-20 Transfer of the configured token (USDT -> the
deployed TestToken) into a funding wallet, with its exact amount and sender, only once
it has the configured confirmations; transfers to other addresses and of other tokens
are ignored; block ranges are bounded; and the worker job on top records it once (both
databases)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account
from sqlalchemy import select
from web3 import Web3

from payoutd.chains import config as chains_config
from payoutd.chains.evm.adapter import EvmChain
from payoutd.domain.banking import ChainDeposit
from payoutd.services.context import Context
from payoutd.services.ports import Deposits, UnitOfWork
from payoutd.store.tables import chain_deposits
from payoutd.worker import jobs
from tests import support
from tests.chains.hardhat import ARTIFACT, FUNDER, TOKEN_DECIMALS, HardhatNode
from tests.chains.hardhat import hardhat as hardhat  # the session fixture
from tests.support import Harness

# Hardhat's second default account: unlocked on the node, 10000 ETH for gas
CUSTOMER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
CURRENCIES = ["USDC", "USDT"]  # USDC has no contract on this test net: not watched


def new_address() -> str:
    return str(Account.create().address)


@pytest.fixture
def node(hardhat: HardhatNode) -> Iterator[HardhatNode]:
    hardhat.set_automine(True)  # each transaction in a block of its own
    yield hardhat
    hardhat.set_automine(True)


def evm(node: HardhatNode, directory: Path, confirmations: int) -> EvmChain:
    cfg = chains_config.load(node.chains_file(directory, confirmations=confirmations))["ETH"]
    chain = EvmChain.from_config(cfg)
    watchable: Deposits = chain  # mypy: the adapter implements the port
    assert isinstance(watchable, Deposits)
    return chain


def transfer(
    node: HardhatNode, to: str, amount: Decimal, *, token: str | None = None
) -> tuple[str, int, int]:
    """CUSTOMER pays `amount` of the token (the configured TestToken by default) to `to`:
    (txid, block, log index)."""
    contract = node.w3.eth.contract(
        address=Web3.to_checksum_address(token or node.token), abi=node.token_abi
    )
    txhash = node.w3.eth.send_transaction(
        contract.functions.transfer(
            Web3.to_checksum_address(to), int(amount.scaleb(TOKEN_DECIMALS))
        ).build_transaction({"from": CUSTOMER})
    )
    receipt = node.w3.eth.wait_for_transaction_receipt(txhash, timeout=30)
    assert receipt["status"] == 1, receipt
    (log,) = receipt["logs"]
    return "0x" + bytes(receipt["transactionHash"]).hex(), receipt["blockNumber"], log["logIndex"]


def other_token(node: HardhatNode) -> str:
    """A second TestToken, no configured currency's contract; CUSTOMER holds some."""
    artifact = json.loads(ARTIFACT.read_text())
    deploy = node.w3.eth.send_transaction({"from": FUNDER, "data": artifact["bytecode"]})
    address = node.w3.eth.wait_for_transaction_receipt(deploy, timeout=30)["contractAddress"]
    assert address
    contract = node.w3.eth.contract(address=address, abi=node.token_abi)
    mint = contract.functions.mint(CUSTOMER, 10**12).build_transaction({"from": FUNDER})
    node.w3.eth.wait_for_transaction_receipt(node.w3.eth.send_transaction(mint), timeout=30)
    return str(address)


async def test_a_transfer_into_a_funding_wallet_is_found_after_its_confirmations(
    node: HardhatNode, tmp_path: Path
) -> None:
    chain = evm(node, tmp_path, confirmations=3)
    funding, elsewhere = new_address(), new_address()
    node.mint(CUSTOMER, Decimal(200_000_000))
    unconfigured = other_token(node)

    found, cursor = await chain.deposits([funding], CURRENCIES, None)
    tip = node.w3.eth.block_number
    assert (found, cursor) == ([], tip - 3 + 2)  # from the first block not confirmed yet

    amount = Decimal("123456789.123456")  # every one of the token's 6 decimals
    txid, block, index = transfer(node, funding, amount)
    transfer(node, funding, Decimal(9), token=unconfigured)  # another token: ignored
    transfer(node, elsewhere, Decimal(5))  # another address: ignored
    assert node.w3.eth.block_number == block + 2  # 3 confirmations now, for the first

    found, cursor = await chain.deposits([funding], CURRENCIES, cursor)
    assert found == [
        ChainDeposit(
            network="ETH",
            currency="USDT",
            address=funding,
            amount=amount,
            txid=txid,
            index=index,
            block=block,
            confirmations=3,
            sender=CUSTOMER,
        )
    ]
    assert str(found[0].amount) == "123456789.123456"  # a Decimal, exact
    assert cursor == block + 1

    node.mine(3)  # the other two transfers confirmed, still nothing for the wallet
    found, cursor = await chain.deposits([funding], CURRENCIES, cursor)
    assert found == []
    assert cursor == node.w3.eth.block_number - 3 + 2
    assert await chain.deposits([funding], CURRENCIES, cursor) == ([], cursor)


async def test_a_deposit_is_not_reported_before_its_confirmations(
    node: HardhatNode, tmp_path: Path
) -> None:
    chain = evm(node, tmp_path, confirmations=3)
    funding = new_address()
    node.mint(CUSTOMER, Decimal(10))
    _, cursor = await chain.deposits([funding], CURRENCIES, None)
    txid, block, _ = transfer(node, funding, Decimal("0.000001"))
    for confirmations in (1, 2):
        assert node.w3.eth.block_number - block + 1 == confirmations
        found, cursor = await chain.deposits([funding], CURRENCIES, cursor)
        assert found == []
        assert cursor <= block  # the deposit's block is still to scan
        node.mine(1)
    found, cursor = await chain.deposits([funding], CURRENCIES, cursor)
    assert [(d.txid, d.amount, d.confirmations) for d in found] == [(txid, Decimal("0.000001"), 3)]
    assert cursor == block + 1


async def test_each_call_covers_a_bounded_range_of_blocks(
    node: HardhatNode, tmp_path: Path
) -> None:
    chain = evm(node, tmp_path, confirmations=1)
    chain.deposit_block_range = 2
    funding = new_address()
    node.mint(CUSTOMER, Decimal(10))
    txid, block, _ = transfer(node, funding, Decimal(1))
    node.mine(3)
    cursor = block - 3
    seen: list[ChainDeposit] = []
    calls = 0
    while cursor <= node.w3.eth.block_number:
        found, after = await chain.deposits([funding], CURRENCIES, cursor)
        assert after - cursor <= 2
        seen += found
        cursor, calls = after, calls + 1
    assert [d.txid for d in seen] == [txid]
    assert calls == 4  # 7 blocks, 2 per call


@pytest.fixture
async def h(node: HardhatNode, tmp_path: Path, database_url: str | None) -> AsyncIterator[Harness]:
    settings = support.test_settings(tmp_path, database_url, chains_file=node.chains_file(tmp_path))
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


async def test_the_worker_job_records_an_evm_deposit_once(h: Harness, node: HardhatNode) -> None:
    funding = new_address()
    handed: list[ChainDeposit] = []

    async def on_deposit(uow: UnitOfWork, ctx: Context, deposit: ChainDeposit) -> None:
        handed.append(deposit)

    async def watch() -> list[ChainDeposit]:
        return await jobs.watch_funding(h.rt.db, h.rt.ctx, {"ETH": [funding]}, on_deposit)

    node.mint(CUSTOMER, Decimal(100))
    assert await watch() == []  # the watch starts at the node's tip
    txid, block, _ = transfer(node, funding, Decimal("42.000001"))
    assert await watch() == []  # 1 of the 2 confirmations the chains file asks
    node.mine(1)
    seen = await watch()
    assert [(d.txid, d.amount, d.sender, d.block) for d in seen] == [
        (txid, Decimal("42.000001"), CUSTOMER, block)
    ]
    node.mine(2)
    assert await watch() == []
    assert handed == seen
    async with h.rt.db.read() as uow:
        rows = (await uow.conn.execute(select(chain_deposits))).all()
        cursor = await uow.chain_deposits.cursor("ETH")
    assert [(r.txid, r.amount, r.address) for r in rows] == [(txid, Decimal("42.000001"), funding)]
    assert cursor == node.w3.eth.block_number - 2 + 2
