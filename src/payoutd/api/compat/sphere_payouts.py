"""Sphere's payouts at `/compat/sphere/v1/payout` (create, retrieve, cancel) and its
webhook subscriptions at `/compat/sphere/v1/webhook`, over services.ramps and
services.webhooks: translation only (payoutd.dialects.sphere_payouts), every answer in
Sphere's envelope (payoutd.api.compat.sphere.answer)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from payoutd.api.auth import Principal
from payoutd.api.compat.sphere import (
    _AUTH_ERRORS,
    _DOC,
    _WRITE_ERRORS,
    PREFIX,
    _body,
    _rt,
    answer,
    envelope_responses,
    parse,
)
from payoutd.api.v1.params import BANK_ACCOUNT_ID_EXAMPLE
from payoutd.api.v1.schemas import ID_EXAMPLE, AmountIn
from payoutd.bootstrap import Runtime
from payoutd.dialects import sphere as words
from payoutd.dialects import sphere_payouts as payout_words
from payoutd.domain.errors import PayoutdError
from payoutd.domain.payout import RampPayout, RampType
from payoutd.domain.ramps import End
from payoutd.services import parties, ramps, webhooks

router = APIRouter(prefix=PREFIX, tags=["Sphere dialect"])
PAYOUT_ID_EXAMPLE = payout_words.payout_id(ID_EXAMPLE)


class PayoutEnd(BaseModel):
    """One end of a Sphere payout: the customer's bankAccount (usd, eur) or wallet (usdc,
    usdt) and the network the money travels on; bank to wallet is an onRamp, wallet to
    bank an offRamp."""

    model_config = ConfigDict(extra="ignore")
    id: str = Field(
        min_length=1,
        max_length=64,
        description="The customer's bankAccount (`bankAccount_` and 32 hex digits) or "
        "wallet (`wallet_` and 32 hex digits) id; active and the customer's own",
        examples=[BANK_ACCOUNT_ID_EXAMPLE],
    )
    currency: str = Field(
        min_length=3,
        max_length=4,
        description="usd or eur for a bankAccount, usdc or usdt for a wallet",
        examples=["usd"],
    )
    network: str = Field(
        min_length=3,
        max_length=8,
        description="A bankAccount's: achPull, achPush or wire (usd) or sepa (eur) as the "
        "source, ach or wire (usd) or sepa (eur) as the destination; a wallet's: sol, "
        "ethereum or base",
        examples=["wire"],
    )


class PayoutCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    amount: AmountIn = Field(description="The amount for the payout", examples=["10.00"])
    customer: str = Field(
        min_length=1,
        max_length=64,
        description="The customer's id",
        examples=["customer_f5bd32a916584675b739b8e2301f1480"],
    )
    source: PayoutEnd = Field(description="What the customer sends from")
    destination: PayoutEnd = Field(description="What the customer receives on")
    thirdParty: bool = Field(
        default=False, description="Sent on behalf of someone else", examples=[False]
    )
    thirdPartyMessage: str | None = Field(
        default=None,
        description="The business case of a third-party transfer (at most 500 characters)",
        examples=[None],
    )
    wireMessage: str | None = Field(
        default=None,
        description="At most 3 lines, separated by \\n, of at most 35 characters",
        examples=[None],
    )
    lookupKey: str | None = Field(default=None, description="A key to list by", examples=[None])
    meta: dict[str, Any] = Field(
        default_factory=dict, description="Key-value pairs of your own", examples=[{}]
    )


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where payout events are posted",
        examples=["https://example.com/sphere-hooks"],
    )


SpherePayoutId = Annotated[
    str,
    Path(
        description="Sphere's payout id: `payout_` and the 32 hex digits of payoutd's ramp "
        "payout id; one of yours (else 404 `not_found`)",
        examples=[PAYOUT_ID_EXAMPLE],
    ),
]


def _resource(rt: Runtime, ramp: RampPayout) -> dict[str, Any] | None:
    """The funding bankAccount (on-ramp) or wallet (off-ramp), Sphere's `resource`."""
    if ramp.type is RampType.ON_RAMP:
        for account in parties.funding_accounts(rt.ctx):
            if account.id == ramp.funding_id:
                return words.bank_account(account)
    else:
        for wallet in parties.funding_wallets(rt.ctx):
            if wallet.id == ramp.funding_id:
                return words.wallet(wallet)
    return None  # a funding entry since removed from the configuration


def _show(rt: Runtime, ramp: RampPayout) -> tuple[str, dict[str, Any]]:
    return "payout", payout_words.payout(ramps.view(ramp), _resource(rt, ramp))


def _native_id(sphere_id: str) -> str:
    found = payout_words.native_payout_id(sphere_id)
    if found is None:
        raise PayoutdError("not_found", "Payout not found")
    return found


_PAYOUT_ERRORS = (
    *_WRITE_ERRORS,
    "invalid_amount",
    "customer_not_approved",
    "party_mismatch",
    "not_found",
    "service_not_found",
)


@router.post(
    "/payout",
    summary="Create a payout (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_PAYOUT_ERRORS),
    openapi_extra=_body(PayoutCreate),
)
async def create_payout(request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        body = await parse(request, PayoutCreate)
        req = ramps.RampRequest(
            customer=body.customer,
            amount=body.amount,
            source=End(body.source.id, body.source.currency, body.source.network),
            destination=End(
                body.destination.id, body.destination.currency, body.destination.network
            ),
            third_party=body.thirdParty,
            third_party_message=body.thirdPartyMessage,
            wire_message=body.wireMessage,
            lookup_key=body.lookupKey,
            meta=body.meta,
        )
        async with rt.db.unit() as uow:
            made = await ramps.create(uow, rt.ctx, principal.merchant_id, req)
        return _show(rt, made)

    return await answer(request, "payouts", work)


@router.get(
    "/payout/{payout_id}",
    summary="Retrieve a payout (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_AUTH_ERRORS, "not_found"),
)
async def get_payout(payout_id: SpherePayoutId, request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        async with rt.db.read() as uow:
            found = await ramps.get(uow, principal.merchant_id, _native_id(payout_id))
        return _show(rt, found)

    return await answer(request, "read", work)


@router.post(
    "/payout/cancel/{payout_id}",
    summary="Cancel a payout before it is funded (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_AUTH_ERRORS, "not_found", "payout_not_cancellable"),
)
async def cancel_payout(payout_id: SpherePayoutId, request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        async with rt.db.unit() as uow:
            cancelled = await ramps.cancel(
                uow, rt.ctx, principal.merchant_id, _native_id(payout_id)
            )
        return _show(rt, cancelled)

    return await answer(request, "payouts", work)


@router.post(
    "/webhook",
    summary="Subscribe an endpoint to payout events in Sphere's format (signature header)",
    description=_DOC,
    responses=envelope_responses(*_WRITE_ERRORS),
    openapi_extra=_body(WebhookCreate),
)
async def create_webhook(request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        body = await parse(request, WebhookCreate)
        async with rt.db.unit() as uow:
            endpoint = await webhooks.create_endpoint(
                uow,
                rt.ctx,
                principal.merchant_id,
                body.url,
                event_types=None,
                services=["RAMP"],
                description="Sphere webhook",
                format=payout_words.FORMAT,
            )
        return "webhook", {
            "id": endpoint.id,
            "url": endpoint.url,
            "secret": rt.ctx.secrets.open(endpoint.secret),
            "created": words.timestamp(endpoint.created_at),
        }

    return await answer(request, "payouts", work)
