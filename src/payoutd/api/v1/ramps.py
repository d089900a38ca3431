"""/v1/ramp-payouts (a merchant's ramp payouts), /v1/admin/bank (statements, the review
queue, payment files) and /v1/sandbox/bank (the sandbox bank): thin callers of
services.ramps."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from payoutd.api import idempotency, reads
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import IdempotencyKey, Limit, RampCursor, RampId
from payoutd.api.v1.ramp_schemas import (
    MEMO_EXAMPLE,
    PAYMENT_ID_EXAMPLE,
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
from payoutd.api.v1.schemas import ID_EXAMPLE
from payoutd.bootstrap import Runtime
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
RampStatusFilter = Annotated[
    RampStatusWord | None,
    Query(
        description="Only those in this status (pending: waiting for the customer's money; "
        "funded; processing: the other leg travels; succeeded, failed, cancelled, refunded: "
        "final)",
        examples=["pending"],
    ),
]
RampLookupKey = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Only those whose `lookup_key` (the key of your own you gave at "
        "creation) is exactly this",
        examples=["order-1042"],
    ),
]
ReviewStatus = Annotated[
    Literal["open", "assigned", "dismissed"] | None,
    Query(
        description="Only the items in this status (default open: waiting for an "
        "operator; assigned: funded a payout; dismissed: handled outside payoutd)",
        examples=["open"],
    ),
]
ReviewLimit = Annotated[
    int,
    Query(
        ge=1,
        le=pagination.MAX_LIMIT,
        description=f"At most this many items, newest first, 1 to {pagination.MAX_LIMIT} "
        "(default 100)",
        examples=[100],
    ),
]
ReviewItemId = Annotated[
    str,
    Path(
        description="The review item's id (a UUID), as `GET /v1/admin/bank/review` lists it",
        examples=[ID_EXAMPLE],
    ),
]
PaymentRef = Annotated[
    str,
    Path(
        description="The off-ramp's bank payment: its id (`P` and 14 characters, the "
        "end-to-end id its statement lines carry) or its ramp payout's id (a UUID); the "
        "payment must have been handed to the sandbox bank and not settled yet (else 409 "
        "`invalid_transition`)",
        examples=[PAYMENT_ID_EXAMPLE, ID_EXAMPLE],
    ),
]

# Real statements of the sandbox's funding accounts (payoutd.config): the documented
# body a try-out sends imports (tests/api/test_openapi_docs.py reads both).
MT940_EXAMPLE = (
    "{4:\n:20:MT940-20261208\n:25:9900000001\n:28C:1/1\n:60F:C261207USD0,00\n"
    ":61:2612081208C10,00NTRFNONREF//B1\n"
    f":86:WIRE IN ADA LOVELACE {MEMO_EXAMPLE}\n"
    ":62F:C261208USD10,00\n-}"
)
CAMT053_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>'
    "<GrpHdr><MsgId>STMT-20261208-1</MsgId><CreDtTm>2026-12-08T18:00:00</CreDtTm></GrpHdr>"
    "<Stmt><Id>STMT-20261208-1</Id><CreDtTm>2026-12-08T18:00:00</CreDtTm>"
    "<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id><Ccy>EUR</Ccy></Acct>"
    '<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">0.00</Amt>'
    "<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-12-08</Dt></Dt></Bal>"
    '<Ntry><Amt Ccy="EUR">10.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
    "<BookgDt><Dt>2026-12-08</Dt></BookgDt><ValDt><Dt>2026-12-08</Dt></ValDt>"
    "<AcctSvcrRef>E2612080001</AcctSvcrRef><BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd>"
    "<SubFmlyCd>ESCT</SubFmlyCd></Fmly></Domn></BkTxCd><NtryDtls><TxDtls>"
    "<Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>"
    f"<RmtInf><Ustrd>{MEMO_EXAMPLE}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
    "</Stmt></BkToCstmrStmt></Document>\n"
)


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
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The payout is `pending` until the customer's money arrives: show the customer
    `instructions` (an onRamp's bank transfer must carry `instructions.memo`; an
    offRamp's stablecoin goes to the `funding` wallet from the `source` wallet). Refusals
    name the field at fault and create nothing."""
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
    lookup_key: RampLookupKey = None,
    status: RampStatusFilter = None,
    cursor: RampCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your ramp payouts, newest first, filtered by both query parameters together.
    Pages of `limit`; pass `next_cursor` as `cursor` for the next."""
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
    ramp_id: RampId, request: Request, principal: Annotated[Principal, Depends(require("read"))]
) -> dict[str, Any]:
    """One of your ramp payouts, with its current status and, once processing, its
    `final_amount`, `fee` and `rate`."""
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
    ramp_id: RampId,
    request: Request,
    principal: Annotated[Principal, Depends(require("payouts"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Only a `pending` payout (no money arrived yet) is cancelled; cancelling a
    cancelled one answers it unchanged; any other status is 409
    `payout_not_cancellable`. A transfer carrying its memo afterwards waits in the
    review queue."""
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
                "application/xml": {"schema": {"type": "string", "examples": [CAMT053_EXAMPLE]}},
                "text/plain": {"schema": {"type": "string", "examples": [MT940_EXAMPLE]}},
                "application/octet-stream": {
                    "schema": {"type": "string", "format": "binary", "examples": [MT940_EXAMPLE]}
                },
            },
        }
    },
)
async def import_statement(
    request: Request, principal: Annotated[Principal, Depends(require("admin"))]
) -> dict[str, Any]:
    """Every booked line of the funding account's statement, in order: a credit carrying
    a pending onRamp's memo with its exact amount and currency funds it; a debit of one
    of our bank payments confirms its offRamp (succeeded), a return refunds it; any other
    line waits in the review queue and moves no money. A line imported before changes
    nothing, so a statement may be imported twice. A file that is neither camt.053 nor
    MT940 is refused whole (422 `statement_unreadable`)."""
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
    status: ReviewStatus = "open",
    limit: ReviewLimit = 100,
) -> dict[str, Any]:
    """Statement lines and chain deposits that matched no ramp payout, newest first, each
    with the reason; resolve one with `POST /v1/admin/bank/review/{item_id}/resolve`."""
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
    item_id: ReviewItemId,
    body: ReviewDecision,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    """assign funds the pending ramp payout `ramp_id` with what arrived (a statement
    line an onRamp, a deposit an offRamp, in the payout's currency); its amount becomes
    what arrived. dismiss moves nothing. An item resolved before is 409
    `review_item_resolved`. Answers the resolved item."""
    rt = _rt(request)
    ramp_id = ramps.review_decision(body.action, body.ramp_id)
    async with rt.db.unit() as uow:
        item = await ramps.resolve_review(
            uow, rt.ctx, item_id, by=body.operator, ramp_id=ramp_id, note=body.note
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
    """The sandbox bank books the transfer on the funding account of its currency and
    network, then the line goes through the same matching as an imported statement's.
    Only when the sandbox bank is the bank rail (else 422 `bank_rail_unavailable`)."""
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
    payment_id: PaymentRef,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    """The sandbox bank books the payment's return on the funding account: the ramp
    payout is refunded and its stablecoin is your balance again."""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        line, outcome = await ramps.sandbox_return(uow, rt.ctx, payment_id)
    return {"reference": line.reference, "outcome": outcome}
