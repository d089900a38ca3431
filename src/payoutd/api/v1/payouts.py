"""/v1/payouts: create, read, list, approve, cancel."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BeforeValidator

from payoutd.api import creation, idempotency
from payoutd.api.auth import Principal, require
from payoutd.api.errors import error_json, responses
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import Cursor, IdempotencyKey, Limit, NetworkFilter, PayoutId
from payoutd.api.v1.schemas import ID_EXAMPLE, PayoutCreate, PayoutList, PayoutOut
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError
from payoutd.domain.payout import Status
from payoutd.services import payouts
from payoutd.services.ports import UnitOfWork
from payoutd.services.views import payout_view, ts

router = APIRouter(prefix="/v1/payouts", tags=["payouts"])

# an RFC 3339 date-time, its offset optional (read as UTC); seconds and fraction optional
_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})?"
)


def _instant_text(value: object) -> object:
    """The text of a date-time filter: pydantic alone would also read `0.5` as Unix time
    and a bare date as its midnight, neither of which the parameter's format allows."""
    if isinstance(value, str) and _INSTANT.fullmatch(value) is None:
        raise ValueError("must be an RFC 3339 date-time, e.g. 2026-12-01T00:00:00Z")
    return value


CREATE_ERRORS = (
    "bad_request",
    "method_not_allowed",
    "unauthorized",
    "forbidden_scope",
    *creation.PRICING_ERRORS,
    "insufficient_funds",
    "wallet_not_found",
    "idempotency_conflict",
    "idempotency_in_progress",
    "payouts_forbidden",
    "address_not_allowed",
    "ip_not_allowed",
    "rate_limited",
    "signature_invalid",
)


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.post(
    "",
    status_code=201,
    response_model=PayoutOut,
    responses={
        200: {"model": PayoutOut, "description": "A payout with this `order_id` already exists"},
        **responses(*CREATE_ERRORS),
    },
    summary="Create a payout",
)
async def create_payout(
    body: PayoutCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Holds the funds (unless `approval` is `manual`) and queues the payout. Repeating an
    `order_id` returns the existing payout with 200 and creates nothing."""
    status, view, replayed = await accept(request, principal, body)
    return JSONResponse(
        view, status_code=status, headers={"Idempotent-Replayed": "true"} if replayed else None
    )


async def accept(
    request: Request, principal: Principal, body: PayoutCreate
) -> tuple[int, Any, bool]:
    """(status, body, replayed) of `POST /v1/payouts`, for the route and its fast lane
    (payoutd.api.payout_lane), through the one way payouts are created
    (payoutd.api.creation). A repeat of a completed Idempotency-Key answers its stored
    response (replayed)."""
    rt = _rt(request)
    intake = request.app.state.intake
    # the fields as validated (a shallow dict: model_dump would copy and walk them again)
    quote = await creation.price(rt, principal, payouts.PayoutRequest(**dict(body)))
    claimed, replay = await idempotency.claim(request, rt, principal.merchant_id)
    if replay is not None:
        return replay.status, replay.body, True
    if claimed is None:
        return *await creation.place(intake, principal, quote), False
    owner = creation.IdempotentRequest(claimed.merchant_id, claimed.key)
    try:
        return *await creation.place(intake, principal, quote, idempotent=owner), False
    except PayoutdError as err:
        if owner.kept and owner.kept[-1] is err:
            raise  # a refusal is an answer, kept in the transaction that gave it
        await idempotency.release(rt, claimed)
        raise
    except BaseException:
        await idempotency.release(rt, claimed)
        raise


@router.get(
    "",
    response_model=PayoutList,
    responses=responses("unauthorized", "forbidden_scope", "validation_error", "invalid_cursor"),
    summary="List payouts, newest first",
)
async def list_payouts(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    status: Annotated[
        Status | None,
        Query(description="Only payouts in this status", examples=["queued"]),
    ] = None,
    currency: Annotated[
        str | None,
        Query(description="Only payouts asked for in this currency", examples=["LTC"]),
    ] = None,
    network: NetworkFilter = None,
    order_id: Annotated[
        str | None,
        Query(description="The payout with this `order_id` (yours)", examples=["order-1042"]),
    ] = None,
    batch_id: Annotated[
        str | None,
        Query(description="Only the payouts a batch carries", examples=[ID_EXAMPLE]),
    ] = None,
    address: Annotated[
        str | None,
        Query(
            max_length=128,
            description="Only payouts to this address",
            examples=["ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"],
        ),
    ] = None,
    created_from: Annotated[
        datetime | None,
        BeforeValidator(_instant_text),
        Query(
            description="Only payouts created at or after this instant (RFC 3339)",
            examples=["2026-12-01T00:00:00Z"],
        ),
    ] = None,
    created_to: Annotated[
        datetime | None,
        BeforeValidator(_instant_text),
        Query(
            description="Only payouts created at or before this instant (RFC 3339)",
            examples=["2026-12-31T23:59:59Z"],
        ),
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Query(
            max_length=255,
            description="The payout created by a request with this `Idempotency-Key` "
            "(while payoutd keeps the key's answer); the other filters apply too",
            examples=["3f1c9a7e-5d2b-4c8e-9f0a-1b2c3d4e5f60"],
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your payouts, newest first, filtered by any of the query parameters together.
    Pages of `limit`; pass `next_cursor` as `cursor` for the next."""
    rt = _rt(request)
    if idempotency_key is not None:
        async with rt.db.read() as uow:
            found = await payouts.by_idempotency_key(uow, principal.merchant_id, idempotency_key)
        wanted = {
            "status": status.value if status else None,
            "currency": currency and currency.upper(),
            "network": network and network.upper(),
            "order_id": order_id,
            "batch_id": batch_id,
            "address": address,
        }
        view = payout_view(found) if found is not None else None
        start, end = aware(created_from), aware(created_to)
        matches = (
            found is not None
            and view is not None
            and all(v is None or view[k] == v for k, v in wanted.items())
            and (start is None or found.created_at >= start)
            and (end is None or found.created_at <= end)
        )
        return {"data": [view] if matches else [], "next_cursor": None}
    async with rt.db.read() as uow:
        page = await uow.payouts.page(
            principal.merchant_id,
            status=status.value if status else None,
            currency=currency and currency.upper(),
            network=network and network.upper(),
            order_id=order_id,
            batch_id=batch_id,
            address=address,
            created_from=aware(created_from),
            created_to=aware(created_to),
            before_id=pagination.decode(cursor),
            limit=limit + 1,
        )
    page, next_cursor = pagination.cut(page, limit, lambda p: p.id)
    return {"data": [payout_view(p) for p in page], "next_cursor": next_cursor}


def aware(at: datetime | None) -> datetime | None:
    """An instant given without an offset is read as UTC."""
    return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at


@router.get(
    "/{payout_id}",
    response_model=PayoutOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Retrieve a payout",
)
async def get_payout(
    payout_id: PayoutId, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    """The payout now: its `status`, fees, `txid` and confirmations once sent. Its
    changes are also sent as webhook events (docs/webhooks.md)."""
    rt = _rt(request)
    async with rt.db.read() as uow:
        return payout_view(await payouts.get(uow, principal.merchant_id, payout_id))


@router.post(
    "/{payout_id}/cancel",
    response_model=PayoutOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "not_found",
        "payout_not_cancellable",
        "idempotency_conflict",
        "idempotency_in_progress",
    ),
    summary="Cancel a payout that was not sent yet",
)
async def cancel_payout(
    payout_id: PayoutId,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Cancels a payout that is `pending_approval`, `scheduled` or `queued`: its
    held funds return to the balance. Once a batch has taken it (`sending` onwards) it
    can no longer be cancelled: 409 `payout_not_cancellable`."""
    rt = _rt(request)
    merchant_id = principal.merchant_id

    async def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, payout_view(await payouts.cancel(uow, rt.ctx, merchant_id, payout_id))

    return await idempotency.run(request, rt, merchant_id, work)


@router.post(
    "/{payout_id}/approve",
    response_model=PayoutOut,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "not_found",
        "invalid_transition",
        "insufficient_funds",
        "quote_expired",
        "payouts_forbidden",
        "idempotency_conflict",
        "idempotency_in_progress",
    ),
    summary="Approve an offer (a payout created with approval=manual)",
)
async def approve_payout(
    payout_id: PayoutId,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Approves an offer at its quoted amounts: it holds its funds and is queued (or
    `scheduled` until its `execute_at`). After `expires_at` the offer is `expired`,
    holds nothing, and the answer is 409 `quote_expired`."""
    rt = _rt(request)
    merchant_id = principal.merchant_id

    async def work(uow: UnitOfWork) -> tuple[int, Any]:
        payout, approved = await payouts.approve_offer(
            uow, rt.ctx, merchant_id, payout_id, principal.policy
        )
        if not approved:
            # committed as `expired`, then refused: the answer is a result, not a rollback
            return 409, error_json(
                PayoutdError("quote_expired", f"The offer expired at {ts(payout.expires_at)}")
            )
        return 200, payout_view(payout)

    return await idempotency.run(request, rt, merchant_id, work)
