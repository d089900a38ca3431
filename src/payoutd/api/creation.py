"""Creating a payout at the edge: the one way every request takes (the route, its fast
lane, a provider dialect, the dashboard). It prices the request
(`services.payouts.quote`) and places it through the request side's transaction runner
(payoutd.api.intake), which runs the one service function,
`services.payouts.place_many`. An Idempotency-Key's answer is kept in the same
transaction as the payout it answers. A mass payout's rows, placed by the worker or the
CLI with no request behind them, take the same two service functions through
`services.imports`, a chunk of rows per `place_many`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from payoutd.api.auth import Principal
from payoutd.api.errors import error_json
from payoutd.api.intake import Intake, InTransaction
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError
from payoutd.domain.payout import DialectRecord
from payoutd.services import idempotency, payouts
from payoutd.services.ports import UnitOfWork
from payoutd.services.views import payout_view

# What pricing a payout may refuse with (services.payouts.quote): documented on every call
# that prices one (creating a payout, a quote).
PRICING_ERRORS = (
    "validation_error",
    "invalid_amount",
    "invalid_address",
    "invalid_memo",
    "currency_not_found",
    "service_not_found",
    "network_required",
    "priority_not_supported",
    "payout_currency_required",
    "rate_unavailable",
    "rate_source_not_available",
    "amount_too_small",
    "amount_too_large",
    "withdrawal_too_small",
    "network_unavailable",
)


@dataclass(slots=True)
class IdempotentRequest:
    """The request owns this Idempotency-Key (payoutd.api.idempotency.claim)."""

    merchant_id: str
    key: str
    # the answers kept under the key by transactions that ran (the last one committed,
    # when the placement was answered with it)
    kept: list[payouts.Placed | PayoutdError] = field(default_factory=list)


async def create(
    rt: Runtime, intake: Intake, principal: Principal, request: payouts.PayoutRequest
) -> tuple[int, dict[str, Any]]:
    """(201 and the new payout) or (200 and the one stored with its order_id); a refusal
    raises."""
    return await place(intake, principal, await price(rt, principal, request))


async def price(rt: Runtime, principal: Principal, request: payouts.PayoutRequest) -> payouts.Quote:
    return await payouts.quote(rt.ctx, principal.fees, request)


async def place(
    intake: Intake,
    principal: Principal,
    quote: payouts.Quote,
    *,
    idempotent: IdempotentRequest | None = None,
    in_transaction: InTransaction | None = None,
) -> tuple[int, dict[str, Any]]:
    """Place a priced payout. With `idempotent`, its answer (a refusal too) is kept under
    the key in the transaction that places the payout; any other failure leaves the key
    to the caller (`IdempotentRequest.kept` says whether the answer was kept).
    `in_transaction`: the caller's own writes in that transaction, given the answer (a
    dialect's record of how the payout's callback_url is spoken to)."""
    placement = payouts.Placement(principal.merchant_id, quote, principal.policy)
    if idempotent is None:
        return answer(await intake.place(placement, in_transaction=in_transaction))

    async def keep(uow: UnitOfWork, placed: payouts.Placed | PayoutdError) -> None:
        if in_transaction is not None:
            await in_transaction(uow, placed)
        if isinstance(placed, PayoutdError):
            status, body = placed.status, error_json(placed)
        else:
            status, body = answer(placed)
        await idempotency.complete(uow, idempotent.merchant_id, idempotent.key, status, body)
        idempotent.kept.append(placed)

    return answer(await intake.place(placement, in_transaction=keep))


async def record_dialect(
    uow: UnitOfWork,
    placed: payouts.Placed | PayoutdError,
    dialect: str,
    key_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """In the placing transaction: a payout this placement created was made through a
    provider dialect (its webhooks then speak that provider's format, signed with
    `key_id`); a refusal or a repeat records nothing."""
    if not isinstance(placed, PayoutdError) and placed.created:
        await payouts.record_dialect(
            uow, DialectRecord(placed.payout.id, dialect, key_id, details or {})
        )


def recording(dialect: str, key_id: str, details: dict[str, Any] | None = None) -> InTransaction:
    """`record_dialect` as a placement's `in_transaction`."""

    async def keep(uow: UnitOfWork, placed: payouts.Placed | PayoutdError) -> None:
        await record_dialect(uow, placed, dialect, key_id, details)

    return keep


def answer(placed: payouts.Placed) -> tuple[int, dict[str, Any]]:
    """201 and the new payout, or 200 and the one already stored with its order_id."""
    # a new payout's view is the one its payout.created event carries
    view = placed.view if placed.view is not None else payout_view(placed.payout)
    return (201 if placed.created else 200), view
