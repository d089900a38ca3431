"""Operator calls (scope `admin`): merchants, deposits, the ledger check, two-factor
enrolment and reset, lifting a payout cooldown."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request

from payoutd.api import reads
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1.params import MerchantId, PayoutId
from payoutd.api.v1.schemas import (
    CooldownLifted,
    DepositCreate,
    DepositOut,
    LedgerCheck,
    MerchantCreate,
    MerchantCreated,
    PayoutList,
    PayoutOut,
    ReviewResolve,
    ServiceFeeOut,
    ServiceFeeSet,
    TotpOut,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.fees import ServiceFee
from payoutd.domain.money import fmt
from payoutd.services import access, merchants, review
from payoutd.services.views import amount, payout_view, ts

router = APIRouter(
    prefix="/v1/admin",
    tags=["operator"],
    dependencies=[Depends(reads.forget_after_changes, scope="function")],
)


@router.get(
    "/ledger/check",
    response_model=LedgerCheck,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Verify the ledger: every transaction sums to zero, every balance to its entries",
)
async def ledger_check(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.snapshot() as uow:
        return (await uow.ledger.check()).as_dict()


@router.post(
    "/merchants",
    status_code=201,
    response_model=MerchantCreated,
    responses=responses("unauthorized", "forbidden_scope", "validation_error"),
    summary="Create a merchant and its first API key",
)
async def create_merchant(
    body: MerchantCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = request.app.state.runtime
    async with rt.db.unit() as uow:
        merchant, issued = await merchants.create_merchant(uow, rt.ctx, body.name)
    return {"merchant_id": merchant.id, "api_key": issued.plaintext}


@router.post(
    "/deposits",
    status_code=201,
    response_model=DepositOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "merchant_not_found",
        "currency_not_found",
        "invalid_amount",
    ),
    summary="Credit a merchant's balance through the ledger (crypto or fiat)",
)
async def deposit(
    body: DepositCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = request.app.state.runtime
    async with rt.db.unit() as uow:
        tx_id = await merchants.deposit(
            uow,
            rt.ctx,
            body.merchant_id,
            body.currency,
            body.amount,
            actor=_operator(principal),
            source=principal.source,
        )
    return {
        "transaction_id": tx_id,
        "merchant_id": body.merchant_id,
        "currency": body.currency.upper(),
        "amount": amount(body.amount, body.currency.upper()),
    }


@router.put(
    "/merchants/{merchant_id}/fees/{currency}",
    response_model=ServiceFeeOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "merchant_not_found",
        "currency_not_found",
    ),
    summary="Set a merchant's service fee for one currency (percent + fixed)",
)
async def set_service_fee(
    merchant_id: MerchantId,
    currency: Annotated[
        str, Path(description="The currency the fee applies to", examples=["USDT"])
    ],
    body: ServiceFeeSet,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.unit() as uow:
        code = await merchants.set_service_fee(
            uow, rt.ctx, merchant_id, currency, ServiceFee(body.percent, body.fixed)
        )
    return {
        "merchant_id": merchant_id,
        "currency": code,
        "percent": fmt(body.percent),
        "fixed": fmt(body.fixed),
    }


@router.get(
    "/reviews",
    response_model=PayoutList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Payouts in needs_review, waiting for an operator",
    response_description="Every payout in `needs_review`, in one page",
)
async def list_reviews(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.read() as uow:
        found = await review.pending(uow)
    return {"data": [payout_view(p) for p in found], "next_cursor": None}


@router.post(
    "/payouts/{payout_id}/resolve",
    response_model=PayoutOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "invalid_txid",
        "not_found",
        "invalid_transition",
    ),
    summary="Resolve a needs_review payout as paid (with its txid) or failed",
)
async def resolve_review(
    payout_id: PayoutId,
    body: ReviewResolve,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.unit() as uow:
        resolved = await review.resolve(
            uow,
            rt.ctx,
            payout_id,
            body.outcome,
            txid=body.txid,
            reason=body.reason,
            actor=f"{body.operator} (key {principal.key.prefix})",
            source=request.client.host if request.client else None,
        )
    return payout_view(resolved)


def _operator(principal: Principal) -> str:
    return f"operator:{principal.key.prefix}"


@router.post(
    "/merchants/{merchant_id}/totp",
    status_code=201,
    response_model=TotpOut,
    responses=responses(
        "unauthorized", "forbidden_scope", "merchant_not_found", "totp_already_enrolled"
    ),
    summary="Enrol a merchant's two-factor authentication; the secret is shown once",
)
async def enrol_totp(
    merchant_id: MerchantId,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    return await _new_totp(access.enrol_totp, merchant_id, request, principal)


@router.post(
    "/merchants/{merchant_id}/totp/reset",
    response_model=TotpOut,
    responses=responses("unauthorized", "forbidden_scope", "merchant_not_found"),
    summary="Replace a merchant's TOTP secret (ends a lockout); shown once",
)
async def reset_totp(
    merchant_id: MerchantId,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    return await _new_totp(access.reset_totp, merchant_id, request, principal)


async def _new_totp(
    change: Callable[..., Awaitable[tuple[str, str]]],
    merchant_id: MerchantId,
    request: Request,
    principal: Principal,
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.unit() as uow:
        secret, uri = await change(
            uow, rt.ctx, merchant_id, actor=_operator(principal), source=principal.source
        )
    return {"secret": secret, "otpauth_uri": uri}


@router.post(
    "/merchants/{merchant_id}/cooldown/lift",
    response_model=CooldownLifted,
    responses=responses("unauthorized", "forbidden_scope", "merchant_not_found"),
    summary="End a merchant's payout cooldown now",
)
async def lift_cooldown(
    merchant_id: MerchantId,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt: Runtime = request.app.state.runtime
    async with rt.db.unit() as uow:
        was = await access.lift_cooldown(
            uow, rt.ctx, merchant_id, actor=_operator(principal), source=principal.source
        )
    return {"merchant_id": merchant_id, "payouts_blocked_until": None, "lifted_until": ts(was)}
