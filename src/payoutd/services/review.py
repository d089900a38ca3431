"""Operator resolution of payouts in `needs_review`: the chain's answer was ambiguous
(dropped, replaced, conflicting), so a human says what happened. Every resolution is
kept in the audit trail."""

from __future__ import annotations

from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.ledger import network_fee_paid
from payoutd.domain.payout import Payout, Status, transition
from payoutd.services.context import Context
from payoutd.services.payouts import apply
from payoutd.services.ports import UnitOfWork

OUTCOMES = ("paid", "failed")


async def pending(uow: UnitOfWork, limit: int = 500) -> list[Payout]:
    return await uow.payouts.in_status(Status.NEEDS_REVIEW, limit=limit)


async def resolve(
    uow: UnitOfWork,
    ctx: Context,
    payout_id: str,
    outcome: str,
    *,
    actor: str,
    txid: str | None = None,
    reason: str | None = None,
    source: str | None = None,
) -> Payout:
    """`paid` needs the txid that paid it (the recorded one, or a replacement the operator
    found on chain); `failed` returns the funds and needs the operator's word that
    nothing reached the recipient."""
    if outcome not in OUTCOMES:
        raise field_error("validation_error", "outcome", "outcome must be paid or failed")
    payout = await uow.payouts.get(None, payout_id, for_update=True)
    if payout is None:
        raise PayoutdError("not_found", "Payout not found")
    if payout.status is not Status.NEEDS_REVIEW:
        raise PayoutdError(
            "invalid_transition", f"The payout is {payout.status.value}, not needs_review"
        )
    now = ctx.clock.now()
    if outcome == "paid":
        if not txid:
            raise field_error("validation_error", "txid", "a paid resolution needs the txid")
        try:
            txid = ctx.chain(payout.network).validate_txid(txid)
        except ValueError as exc:
            raise field_error("invalid_txid", "txid", str(exc)) from exc
        after = await apply(
            uow, ctx, transition(payout, Status.PAID, now=now, txid=txid, failure_reason=None)
        )
        await _settle_batch_fee(uow, ctx, payout)
    else:
        after = await apply(
            uow,
            ctx,
            transition(
                payout,
                Status.FAILED,
                now=now,
                failure_reason=reason or "resolved as failed by an operator",
            ),
        )
    await uow.audit.record(
        actor=actor,
        action=f"payout.review.{outcome}",
        now=now,
        merchant_id=payout.merchant_id,
        subject_id=payout.id,
        source=source,
        details={
            "txid": txid,
            "reason": reason,
            "recorded_txid": payout.txid,
            "batch_id": payout.batch_id,
            "previous_reason": payout.failure_reason,
        },
    )
    return after


async def _settle_batch_fee(uow: UnitOfWork, ctx: Context, payout: Payout) -> None:
    """A batch some payout of which was paid did spend its fee: post it once."""
    if payout.batch_id is None:
        return
    batch = await uow.batches.get(payout.batch_id, for_update=True)
    if batch is None or batch.status != "needs_review":
        return
    now = ctx.clock.now()
    if (
        await uow.batches.set_status(batch.id, "needs_review", "resolved", now)
        and batch.fee
        and batch.fee_currency
    ):
        await uow.ledger.post(
            "network_fee", batch.id, network_fee_paid(batch.fee_currency, batch.fee), now
        )
