"""/v1/quotes and /v1/limits: prices and what can be paid, without creating anything."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from payoutd.api import creation
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1.schemas import RATE_SOURCE_DOC, LimitsOut, QuoteCreate, QuoteOut
from payoutd.bootstrap import Runtime
from payoutd.domain.money import fmt
from payoutd.services import limits as limits_service
from payoutd.services import payouts
from payoutd.services.views import amount, ts

router = APIRouter(prefix="/v1", tags=["quotes"])

QUOTE_ERRORS = ("unauthorized", "forbidden_scope", *creation.PRICING_ERRORS)


@router.post(
    "/quotes",
    response_model=QuoteOut,
    responses=responses(*QUOTE_ERRORS),
    summary="Price a payout without creating it",
)
async def create_quote(
    body: QuoteCreate, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    """The same rules and rates as `POST /v1/payouts`; nothing is held or stored. To keep
    a price, create the payout with `approval: "manual"`: that offer is locked until its
    `expires_at`."""
    rt: Runtime = request.app.state.runtime
    q = await payouts.quote(rt.ctx, principal.fees, payouts.PayoutRequest(**body.model_dump()))
    return quote_view(q, rt.settings.quote_ttl_seconds)


def quote_view(q: payouts.Quote, ttl_seconds: int) -> dict[str, Any]:
    """A quote as `POST /v1/quotes` answers it (and the dashboard shows it before a
    payout is confirmed)."""
    p = q.pricing
    pc, net = q.asset.currency, q.asset.network
    expires = q.quoted_at + timedelta(seconds=ttl_seconds)
    return {
        "object": "quote",
        "amount": fmt(q.request.amount),
        "currency": q.request.currency.upper(),
        "payout_amount": amount(p.payout_amount, pc, net),
        "payout_currency": pc,
        "network": net,
        "address": q.address,
        "fee_mode": q.request.fee_mode,
        "priority": q.priority,
        "fees": {
            "network": amount(p.fee_network, pc, net),
            "service": amount(p.fee_service, pc, net),
            "total": amount(p.fee_total, pc, net),
            "currency": pc,
        },
        "final_amount": amount(p.final_amount, pc, net),
        "debit": {
            "amount": amount(q.plan.debit_amount, q.plan.debit_currency),
            "currency": q.plan.debit_currency,
        },
        "rate": {
            "value": fmt(q.rate_value.normalize()) if q.rate_value is not None else None,
            "base": pc if q.rate_value is not None else None,
            "quote": q.rate_quote,
            "source": q.rate_source,
            "expires_at": ts(expires) if q.rate_value is not None else None,
        },
        "quoted_at": ts(q.quoted_at),
        "expires_at": ts(expires),
    }


@router.get(
    "/limits",
    response_model=LimitsOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "currency_not_found",
        "rate_unavailable",
        "rate_source_not_available",
    ),
    summary="What can be paid out in a currency (Bitclear's payout-limits)",
)
async def get_limits(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    currency: Annotated[
        str, Query(description="The currency to pay out (crypto or fiat)", examples=["USDT"])
    ],
    rate_source: Annotated[
        str | None, Query(description=RATE_SOURCE_DOC, examples=["static"])
    ] = None,
) -> dict[str, Any]:
    """`available`: every balance, crypto or fiat, converted into `currency` (any balance
    can fund a payout in any currency, `balance_currency`). `min_payout_amount`: what
    20 EUR (the operator's setting) is worth in it. `assets`: per network, the minimum
    and maximum of one payout."""
    rt: Runtime = request.app.state.runtime
    async with rt.db.read() as uow:
        balances = await uow.ledger.balances(principal.merchant_id)
    return limits_view(await limits_service.limits(rt.ctx, currency, balances, rate_source))


def limits_view(lim: limits_service.Limits) -> dict[str, Any]:
    """What `GET /v1/limits` answers (and the dashboard's balances page shows)."""
    return {
        "currency": lim.currency,
        "available": fmt(lim.available),
        "min_payout_amount": fmt(lim.min_payout_amount),
        "rate_source": lim.rate_source,
        "assets": [
            {
                "network": a.network,
                "min_amount": fmt(a.min_amount.normalize()),
                "max_amount": fmt(a.max_amount.normalize()),
            }
            for a in lim.assets
        ],
    }
