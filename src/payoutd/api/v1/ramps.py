"""/v1/ramp-payouts (a merchant's ramp payouts), /v1/admin/bank (statements, the review
queue, payment files) and /v1/sandbox/bank (the sandbox bank): thin callers of
services.ramps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from payoutd.api import idempotency, reads
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.ramp_schemas import (
    ExportCreate,
    RampCreate,
    RampList,
    RampOut,
    ReviewDecision,
    ReviewList,
    SandboxBooked,
    SandboxTransfer,
    StatementImported,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import field_error
from payoutd.domain.ramps import End
from payoutd.services import ramps
from payoutd.services.ports import UnitOfWork

router = APIRouter(prefix="/v1/ramp-payouts", tags=["ramp payouts"])
admin_router = APIRouter(
    prefix="/v1/admin/bank",
    tags=["operator"],
    dependencies=[Depends(reads.forget_after_changes, scope="function")],
)
sandbox_router = APIRouter(prefix="/v1/sandbox/bank", tags=["sandbox"])

CREATE_ERRORS = (
    "unauthorized",
    "forbidden_scope",
    "validation_error",
    "invalid_amount",
    "customer_not_approved",
    "party_mismatch",
    "idempotency_conflict",
    "idempotency_in_progress",
)


RampStatusWord = Literal[
    "pending", "funded", "processing", "succeeded", "failed", "cancelled", "refunded"
]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.post(
    "",
    status_code=201,
    response_model=RampOut,
    responses=responses(*CREATE_ERRORS),
    summary="Create a ramp payout (onRamp: bank to wallet, offRamp: wallet to bank)",
)
async def create_ramp(
    body: RampCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
) -> JSONResponse:
    rt = _rt(request)
    merchant_id = principal.merchant_id
    req = ramps.RampRequest(
        customer=body.customer,
        amount=body.amount,
        source=End(body.source.id, body.source.currency, body.source.network),
        destination=End(body.destination.id, body.destination.currency, body.destination.network),
        third_party=body.third_party,
        third_party_message=body.third_party_message,
        wire_message=body.wire_message,
        lookup_key=body.lookup_key,
        meta=body.meta,
    )

    async def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 201, ramps.view(await ramps.create(uow, rt.ctx, merchant_id, req))

    return await idempotency.run(request, rt, merchant_id, work)


@router.get(
    "",
    response_model=RampList,
    responses=responses("unauthorized", "forbidden_scope", "invalid_cursor", "validation_error"),
    summary="List ramp payouts, newest first (by lookup key and status)",
)
async def list_ramps(
    request: Request,
    principal: Annotated[Principal, Depends(require("read"))],
    lookup_key: Annotated[str | None, Query(max_length=100)] = None,
    status: RampStatusWord | None = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = 50,
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        page, next_cursor = await ramps.list_page(
            uow,
            principal.merchant_id,
            lookup_key=lookup_key,
            status=status,
            cursor=cursor,
            limit=limit,
        )
    return {"data": [ramps.view(r) for r in page], "next_cursor": next_cursor}


@router.get(
    "/{ramp_id}",
    response_model=RampOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Retrieve a ramp payout",
)
async def get_ramp(
    ramp_id: str, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        return ramps.view(await ramps.get(uow, principal.merchant_id, ramp_id))


@router.post(
    "/{ramp_id}/cancel",
    response_model=RampOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found", "payout_not_cancellable"),
    summary="Cancel a ramp payout before it is funded",
)
async def cancel_ramp(
    ramp_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
) -> JSONResponse:
    rt = _rt(request)
    merchant_id = principal.merchant_id

    async def work(uow: UnitOfWork) -> tuple[int, Any]:
        return 200, ramps.view(await ramps.cancel(uow, rt.ctx, merchant_id, ramp_id))

    return await idempotency.run(request, rt, merchant_id, work)


# -- the operator's bank ------------------------------------------------------------------


@admin_router.post(
    "/statements",
    response_model=StatementImported,
    responses=responses(
        "unauthorized", "forbidden_scope", "statement_unreadable", "payload_too_large"
    ),
    summary="Import a bank statement (camt.053 or MT940, the raw file as the body)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/xml": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            },
        }
    },
)
async def import_statement(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    rt = _rt(request)
    data = await request.body()
    async with rt.db.unit() as uow:
        counts = await ramps.import_statement(uow, rt.ctx, data)
    return {"lines": sum(counts.values()), **counts}


@admin_router.get(
    "/review",
    response_model=ReviewList,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Money that matched no ramp payout, waiting for an operator",
)
async def review_queue(
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
    status: Literal["open", "assigned", "dismissed"] | None = "open",
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = 100,
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        items = await ramps.review_queue(uow, status or None, limit=limit)
    return {"data": [ramps.review_view(i) for i in items]}


@admin_router.post(
    "/review/{item_id}/resolve",
    response_model=ReviewList,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "validation_error",
        "not_found",
        "review_item_resolved",
        "invalid_transition",
        "invalid_amount",
    ),
    summary="Assign a queued line or deposit to a pending ramp payout, or dismiss it",
)
async def resolve_review(
    item_id: str,
    body: ReviewDecision,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = _rt(request)
    if body.action == "assign" and not body.ramp_id:
        raise field_error("validation_error", "ramp_id", "assign names the ramp payout")
    if body.action == "dismiss" and body.ramp_id:
        raise field_error("validation_error", "ramp_id", "dismiss names no ramp payout")
    async with rt.db.unit() as uow:
        item = await ramps.resolve_review(
            uow, rt.ctx, item_id, by=body.operator, ramp_id=body.ramp_id, note=body.note
        )
    return {"data": [ramps.review_view(item)]}


@admin_router.post(
    "/exports",
    responses={
        200: {
            "description": "The payment file (pain.001 XML for EUR, NACHA for USD); its id, "
            "format, payment count and total in the X-Export-* headers",
            "content": {"application/xml": {}, "text/plain": {}},
        },
        204: {"description": "No payment waits for export"},
        **responses("unauthorized", "forbidden_scope", "validation_error", "bank_rail_unavailable"),
    },
    summary="Write the payment file of the off-ramp payments not exported yet",
)
async def export_payments(
    body: ExportCreate,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> Response:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        export = await ramps.export_payments(uow, rt.ctx, body.currency)
    if export is None:
        return Response(status_code=204)
    media = "application/xml" if export.format == "pain.001" else "text/plain"
    return Response(
        content=export.content,
        media_type=media,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Export-Id": export.id,
            "X-Export-Format": export.format,
            "X-Export-Payments": str(export.payments),
            "X-Export-Total": format(export.total, "f"),
        },
    )


# -- the sandbox bank -----------------------------------------------------------------------


@sandbox_router.post(
    "/transfers",
    status_code=201,
    response_model=SandboxBooked,
    responses=responses(
        "unauthorized", "forbidden_scope", "validation_error", "bank_rail_unavailable"
    ),
    summary="Simulate a customer's transfer into the funding account (the memo funds an on-ramp)",
)
async def sandbox_transfer(
    body: SandboxTransfer,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        line, outcome = await ramps.sandbox_transfer(
            uow,
            rt.ctx,
            amount=body.amount,
            currency=body.currency,
            memo=body.memo,
            network=body.network,
        )
    return {"reference": line.reference, "outcome": outcome}


@sandbox_router.post(
    "/payments/{payment_id}/return",
    response_model=SandboxBooked,
    responses=responses(
        "unauthorized",
        "forbidden_scope",
        "not_found",
        "invalid_transition",
        "bank_rail_unavailable",
    ),
    summary="Make the sandbox bank return a payment (by its id or its ramp payout's id)",
)
async def sandbox_return(
    payment_id: str,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        line, outcome = await ramps.sandbox_return(uow, rt.ctx, payment_id)
    return {"reference": line.reference, "outcome": outcome}
