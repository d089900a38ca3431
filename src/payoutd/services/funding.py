"""Off-ramp funding seen on chain: the watch over the operator's funding wallets.

An off-ramp customer pays USDC or USDT into one of the operator's funding wallets. Each
pass asks the network's adapter (services.ports.Deposits) for transfers into those
wallets with enough confirmations since the network's cursor, records each in
`chain_deposits` (keyed by network, txid and index) and hands every deposit seen for the
first time to `on_deposit` (the ramp services), then moves the cursor on: all in one
transaction, so a deposit is handed on exactly once even when a pass is repeated, fails
half way, or two workers scan the same blocks.

The adapter is asked between transactions (payoutd.worker.jobs.watch_funding), never
inside one: a node call must not hold the database's write lock. Two workers may then
fetch the same blocks; the unique key makes the second's record a no-op.

Which wallets are watched is the caller's: a mapping of network to addresses (the funding
wallets of the configuration, `[[funding.wallets]]`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

import structlog

from payoutd.domain.assets import ASSETS
from payoutd.domain.banking import ChainDeposit
from payoutd.services.context import Context
from payoutd.services.ports import Chain, UnitOfWork

log = structlog.get_logger("payoutd.funding")

# What an off-ramp is funded with (issue 21: Sphere's stablecoins)
FUNDING_CURRENCIES = ("USDC", "USDT")

# Called once per new deposit, inside the transaction that records it: what it writes
# commits with the record, and if it raises, neither is kept (the next pass retries).
OnDeposit = Callable[[UnitOfWork, Context, ChainDeposit], Awaitable[object]]


def currencies(network: str) -> list[str]:
    """The funding currencies `network` carries (payoutd.domain.assets)."""
    return [c for c in FUNDING_CURRENCIES if (c, network) in ASSETS]


def watched(chain: Chain, addresses: Sequence[str]) -> list[str]:
    """The funding wallets in their network's own form (EIP-55 on EVM), checked by the
    network's rules: a misspelt wallet is a configuration error, not an empty watch.
    Raises ValueError naming the address."""
    return [chain.validate_address(a) for a in addresses]


async def cursor(uow: UnitOfWork, network: str) -> int | None:
    """The first block of `network` the watch has not scanned (None: never scanned)."""
    return await uow.chain_deposits.cursor(network)


async def record(
    uow: UnitOfWork,
    ctx: Context,
    network: str,
    found: Sequence[ChainDeposit],
    next_block: int,
    on_deposit: OnDeposit,
) -> list[ChainDeposit]:
    """Record what a scan found, hand each deposit not recorded before to `on_deposit`,
    and move the network's cursor to `next_block`. Returns the deposits handed on."""
    now = ctx.clock.now()
    handed: list[ChainDeposit] = []
    for deposit in found:
        if deposit.network != network:
            raise ValueError(f"a {deposit.network} deposit in a scan of {network}")
        if not await uow.chain_deposits.add(deposit, now):
            continue  # seen by an earlier pass, or by another worker
        log.info(
            "funding.deposit",
            network=network,
            currency=deposit.currency,
            address=deposit.address,
            amount=str(deposit.amount),
            txid=deposit.txid,
            index=deposit.index,
        )
        await on_deposit(uow, ctx, deposit)
        handed.append(deposit)
    await uow.chain_deposits.advance(network, next_block, now)
    return handed
