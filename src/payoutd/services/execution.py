"""Sending payouts: release scheduled ones, gather queued ones into batches, record each
batch's transaction before it is broadcast, and follow it to its confirmations.

Exactly once (DESIGN §1.3): a batch's transaction is fully determined and recorded in
the same database transaction that moves its payouts to `sending`; only after that
commit is it broadcast, and every later broadcast of the batch sends the very same
recorded transaction. Nothing that reached `sending` is ever rebuilt or requeued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from payoutd.domain import events
from payoutd.domain.assets import ASSETS, NETWORKS
from payoutd.domain.batches import Batch
from payoutd.domain.batching import (
    Output,
    batch_priority,
    build_outputs,
    fee_shares,
    output_index,
    subtracts_fee,
)
from payoutd.domain.ledger import network_fee_paid
from payoutd.domain.payout import Payout, Status, reserve, transition
from payoutd.ids import new_id
from payoutd.services.context import Context
from payoutd.services.payouts import apply, apply_many
from payoutd.services.ports import OutputRejected, PreparedTx, TxState, UnitOfWork
from payoutd.services.views import payout_view


class WalletShortfall(Exception):
    """The hot wallet cannot pay the batch now; its payouts wait in the queue."""

    def __init__(self, network: str, currency: str, reason: str) -> None:
        super().__init__(reason)
        self.network = network
        self.currency = currency
        self.reason = reason


async def release_scheduled(uow: UnitOfWork, ctx: Context, limit: int = 500) -> int:
    now = ctx.clock.now()
    due = await uow.payouts.claim(Status.SCHEDULED, due_before=now, limit=limit)
    await apply_many(uow, ctx, [transition(p, Status.QUEUED, now=now) for p in due])
    return len(due)


async def due_queues(uow: UnitOfWork, ctx: Context) -> list[tuple[str, str]]:
    """The (network, currency) queues whose oldest payout has waited a batch window."""
    now = ctx.clock.now()
    due = []
    for network, currency, oldest in await uow.payouts.queues(Status.QUEUED):
        if network in ctx.chains and oldest + timedelta(seconds=ctx.batch_window(network)) <= now:
            due.append((network, currency))
    return due


@dataclass
class PricedBatch:
    """A batch being determined: the payouts it took (`reserve`), then, once the chain
    has priced and prepared its transaction outside any database transaction, the
    payouts it carries, the outputs, the transaction, and the payouts whose outputs the
    chain would not take."""

    id: str
    network: str
    currency: str
    payouts: list[Payout]
    subtract: bool
    next_sequence: int | None
    outputs: list[Output] = field(default_factory=list)
    tx: PreparedTx | None = None
    refused: list[tuple[Payout, str]] = field(default_factory=list)


async def reserve_batch(
    uow: UnitOfWork, ctx: Context, network: str, currency: str
) -> PricedBatch | None:
    """Take the oldest queued payouts into a new batch (`reserve`: from now on they
    cannot be cancelled), in a short transaction of their own: the chain is asked for
    the transaction only after it commits."""
    queued = await uow.payouts.claim(
        Status.QUEUED,
        network=network,
        currency=currency,
        limit=ctx.settings.batch_max_outputs,
        unbatched=True,
    )
    if not queued:
        return None
    asset = ASSETS[(currency, network)]
    native = NETWORKS[network].native
    # One batch either subtracts fees from all its outputs or from none (a node takes one
    # output per address); the other kind goes in the next batch, right after.
    subtract = subtracts_fee(queued[0], asset, native)
    batch_id = new_id()
    taken = [reserve(p, batch_id) for p in queued if subtracts_fee(p, asset, native) == subtract]
    await uow.payouts.save_many(taken)
    return PricedBatch(
        batch_id,
        network,
        currency,
        [c.after for c in taken],
        subtract,
        await uow.batches.next_sequence(network),
    )


async def price_batch(ctx: Context, batch: PricedBatch) -> PricedBatch:
    """Ask the chain for the batch's transaction. Only chain calls, no database
    transaction: a node may take seconds to answer, and on SQLite a write transaction
    held meanwhile would hold the process's one write lock, which intake waits for."""
    chain = ctx.chain(batch.network)
    asset = ASSETS[(batch.currency, batch.network)]
    reason = await chain.shortfall(asset, build_outputs(batch.payouts, batch.subtract))
    if reason is not None:
        raise WalletShortfall(batch.network, batch.currency, reason)
    max_fee = ctx.settings.batch_max_fee.get(batch.network)
    while batch.payouts:
        batch.outputs = build_outputs(batch.payouts, batch.subtract)
        try:
            tx = await chain.prepare(
                batch.id,
                asset,
                batch.outputs,
                batch_priority(batch.payouts),
                payout_count=len(batch.payouts),
                next_sequence=batch.next_sequence,
            )
        except OutputRejected as exc:
            index = output_index(batch.payouts)
            batch.refused += [(p, exc.reason) for p in batch.payouts if index[p.id] in exc.indices]
            batch.payouts = [p for p in batch.payouts if index[p.id] not in exc.indices]
            continue
        if max_fee is None or tx.fee <= max_fee or len(batch.payouts) == 1:
            batch.tx = tx
            break
        # Over the fee cap: send the older half now; the rest goes back to the queue for
        # the next batch when this one is recorded.
        await chain.release(tx)
        batch.payouts = batch.payouts[: len(batch.payouts) // 2]
    return batch


async def record_batch(uow: UnitOfWork, ctx: Context, batch: PricedBatch) -> str | None:
    """Record a priced batch: its transaction, and its payouts moved to `sending` (each
    a compare-and-set on the version it was reserved at); the refused payouts fail, and
    those the fee cap left out go back to the queue, in the same transaction. The
    caller commits; only then may the batch be broadcast."""
    await _refuse(uow, ctx, batch.refused)
    tx = batch.tx
    if tx is not None and batch.payouts:
        now = ctx.clock.now()
        queued, outputs = batch.payouts, batch.outputs
        await uow.batches.add(
            Batch(
                id=batch.id,
                network=batch.network,
                currency=batch.currency,
                status="prepared",
                txid=tx.txid,
                raw_tx=tx.raw,
                fee=tx.fee,
                fee_currency=tx.fee_currency,
                unbatched_fee=tx.unbatched_fee,
                output_count=len(outputs),
                output_txids=list(tx.output_txids) or None,
                sequence_end=tx.sequence_end,
                payout_count=len(queued),
                confirmations=0,
                created_at=now,
                broadcast_at=None,
                updated_at=now,
            )
        )
        index = output_index(queued)
        decimals = ASSETS[(batch.currency, batch.network)].decimals
        settled = fee_shares(queued, outputs, tx.output_amounts, index, batch.subtract, decimals)
        await apply_many(
            uow,
            ctx,
            [
                transition(
                    p,
                    Status.SENDING,
                    now=now,
                    txid=tx.txid_of(index[p.id]),
                    **settled.get(p.id, {}),
                )
                for p in queued
            ],
        )
    await release_batch(uow, batch.network, batch.id)
    return batch.id if tx is not None and batch.payouts else None


async def release_batch(uow: UnitOfWork, network: str, batch_id: str | None = None) -> int:
    """Give the payouts a batch took and did not record back to their queue (with no
    `batch_id`: every such payout of the network, which only a crash between reserving
    and recording leaves; the caller holds the hot wallet's lock)."""
    return await uow.payouts.release_reserved(network, batch_id)


async def _refuse(uow: UnitOfWork, ctx: Context, refused: list[tuple[Payout, str]]) -> None:
    """Fail the payouts of the outputs the chain would not take (nothing was signed, so
    their funds return)."""
    now = ctx.clock.now()
    for p, reason in refused:
        after = await apply(
            uow, ctx, transition(p, Status.FAILED, now=now, batch_id=None, failure_reason=reason)
        )
        await uow.outbox.add(
            events.PAYOUT_VALIDATION_ERROR,
            p.merchant_id,
            p.id,
            {"payout": payout_view(after), "reason": reason},
            now,
        )


def recorded_tx(batch: Batch) -> PreparedTx:
    assert batch.txid and batch.raw_tx and batch.fee is not None and batch.fee_currency
    return PreparedTx(
        batch.txid,
        batch.raw_tx,
        batch.fee,
        batch.fee_currency,
        unbatched_fee=batch.unbatched_fee,
        output_txids=tuple(batch.output_txids or ()),
        sequence_end=batch.sequence_end,
    )


async def mark_broadcast(uow: UnitOfWork, ctx: Context, batch_id: str) -> None:
    now = ctx.clock.now()
    if not await uow.batches.set_status(batch_id, "prepared", "broadcast", now, broadcast_at=now):
        return  # another worker got there first
    batch = await uow.batches.get(batch_id)
    assert batch is not None
    await apply_many(
        uow,
        ctx,
        [
            transition(p, Status.CONFIRMING, now=now)
            for p in await uow.payouts.in_batch(batch_id)
            if p.status is Status.SENDING
        ],
    )
    await uow.outbox.add(
        events.BATCH_BROADCAST,
        None,
        batch_id,
        {
            "batch_id": batch_id,
            "txid": batch.txid,
            "network": batch.network,
            "currency": batch.currency,
        },
        now,
    )


async def fail_batch(
    uow: UnitOfWork, ctx: Context, batch_id: str, expected: str, reason: str
) -> None:
    """The chain definitively refused the batch: nothing was sent, the funds return."""
    now = ctx.clock.now()
    if not await uow.batches.set_status(batch_id, expected, "failed", now):
        return
    await apply_many(
        uow,
        ctx,
        [
            transition(p, Status.FAILED, now=now, failure_reason=reason)
            for p in await uow.payouts.in_batch(batch_id)
            if p.status in (Status.SENDING, Status.CONFIRMING)
        ],
    )


async def review_batch(uow: UnitOfWork, ctx: Context, batch_id: str, reason: str) -> None:
    """The chain's answer is ambiguous: a human decides, nothing is retried by itself."""
    now = ctx.clock.now()
    if not await uow.batches.set_status(batch_id, "broadcast", "needs_review", now):
        return
    await apply_many(
        uow,
        ctx,
        [
            transition(p, Status.NEEDS_REVIEW, now=now, failure_reason=reason)
            for p in await uow.payouts.in_batch(batch_id)
            if p.status in (Status.SENDING, Status.CONFIRMING)
        ],
    )


def follow_changes(batch: Batch, state: TxState, required: int) -> bool:
    """Whether what the chain says of a broadcast batch changes anything `follow` records
    (most passes find a batch as they left it: in the mempool, or at the same depth)."""
    if state.state in ("dropped", "conflicted", "reverted", "expired"):
        return True
    if state.state != "mined":
        return False
    return state.confirmations >= required or state.confirmations != batch.confirmations


async def follow(uow: UnitOfWork, ctx: Context, batch_id: str, state: TxState) -> str:
    """Record what the chain says of a broadcast batch. Returns the batch's new status."""
    batch = await uow.batches.get(batch_id, for_update=True)
    if batch is None or batch.status != "broadcast":
        return batch.status if batch else "missing"
    required = ctx.chain(batch.network).confirmations
    if not follow_changes(batch, state, required):
        return "broadcast"
    now = ctx.clock.now()
    if state.state in ("dropped", "conflicted"):
        await review_batch(uow, ctx, batch_id, f"transaction {state.state}")
        return "needs_review"
    if state.state == "reverted":
        await fail_batch(uow, ctx, batch_id, "broadcast", "transaction reverted")
        return "failed"
    if state.state == "expired":
        # proven never included: nothing was sent and nothing was charged
        await fail_batch(uow, ctx, batch_id, "broadcast", "transaction expired unsent")
        return "failed"
    if state.confirmations < required:
        await uow.batches.set_status(
            batch_id, "broadcast", "broadcast", now, confirmations=state.confirmations
        )
        await uow.payouts.set_confirmations(batch_id, state.confirmations, now)
        return "broadcast"
    await uow.batches.set_status(
        batch_id, "broadcast", "confirmed", now, confirmations=state.confirmations
    )
    members = await uow.payouts.in_batch(batch_id)
    index = output_index(members)
    await apply_many(
        uow,
        ctx,
        [
            # an output whose own transaction reverted on chain: no money moved, funds return
            transition(p, Status.FAILED, now=now, failure_reason="transaction reverted")
            if index[p.id] in state.failed_outputs
            else transition(p, Status.PAID, now=now, confirmations=state.confirmations)
            for p in members
            if p.status is Status.CONFIRMING
        ],
    )
    if batch.fee and batch.fee_currency:
        await uow.ledger.post(
            "network_fee", batch_id, network_fee_paid(batch.fee_currency, batch.fee), now
        )
    return "confirmed"
