"""The operator's pages (an `admin` key, as /v1/admin): the needs_review queue and its
resolution, the bank review queue of ramp payouts (statement lines and deposits that
matched nothing exactly) and its resolution, the merchants, the ledger check."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from payoutd.api.dashboard.pages import (
    DashboardRoute,
    form,
    redirect,
    render,
    runtime,
    text,
    viewer,
)
from payoutd.api.errors import validation_error
from payoutd.api.v1.schemas import ReviewResolve
from payoutd.services import ramps, review
from payoutd.services.views import payout_view, ts

router = APIRouter(
    prefix="/dashboard/operator", route_class=DashboardRoute, include_in_schema=False
)


@router.get("")
async def home(request: Request) -> Response:
    return redirect("/dashboard/operator/reviews")


@router.get("/reviews")
async def reviews(request: Request) -> Response:
    v = await viewer(request, "admin")
    async with runtime(request).db.read() as uow:
        found = await review.pending(uow)
    return render(request, "operator_reviews.html", v, payouts=[payout_view(p) for p in found])


@router.post("/reviews/{payout_id}/resolve")
async def resolve(payout_id: str, request: Request) -> Response:
    """As POST /v1/admin/payouts/{id}/resolve: paid with its txid, or failed."""
    v = await viewer(request, "admin")
    data = await form(request, v.session)
    try:
        body = ReviewResolve.model_validate(
            {
                k: val
                for k, val in {
                    "outcome": text(data, "outcome"),
                    "txid": text(data, "txid"),
                    "reason": text(data, "reason"),
                    "operator": text(data, "operator"),
                }.items()
                if val is not None
            }
        )
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    rt = runtime(request)
    async with rt.db.unit() as uow:
        resolved = await review.resolve(
            uow,
            rt.ctx,
            payout_id,
            body.outcome,
            txid=body.txid,
            reason=body.reason,
            actor=f"{body.operator} (key {v.principal.key.prefix}, dashboard)",
            source=v.principal.source,
        )
    return redirect("/dashboard/operator/reviews", notice=f"status-{resolved.status.value}")


@router.get("/bank")
async def bank_queue(request: Request) -> Response:
    """As GET /v1/admin/bank/review: the open items, newest first."""
    v = await viewer(request, "admin")
    async with runtime(request).db.read() as uow:
        found = await ramps.review_queue(uow)
    return render(request, "operator_bank.html", v, items=[ramps.review_view(i) for i in found])


@router.post("/bank/{item_id}/resolve")
async def bank_resolve(item_id: str, request: Request) -> Response:
    """As POST /v1/admin/bank/review/{id}/resolve: assign the money to a pending ramp
    payout, or dismiss the item."""
    v = await viewer(request, "admin")
    data = await form(request, v.session)
    ramp_id = ramps.review_decision(text(data, "action") or "", text(data, "ramp_id"))
    rt = runtime(request)
    async with rt.db.unit() as uow:
        item = await ramps.resolve_review(
            uow,
            rt.ctx,
            item_id,
            by=f"key {v.principal.key.prefix} (dashboard)",
            ramp_id=ramp_id,
            note=text(data, "note"),
        )
    return redirect("/dashboard/operator/bank", notice=f"review-{item.status}")


@router.get("/merchants")
async def merchant_list(request: Request) -> Response:
    v = await viewer(request, "admin")
    async with runtime(request).db.read() as uow:
        found = await uow.merchants.listing()
    return render(
        request,
        "operator_merchants.html",
        v,
        merchants=[{"id": m.id, "name": m.name, "created_at": ts(m.created_at)} for m in found],
    )


@router.get("/ledger")
async def ledger(request: Request) -> Response:
    v = await viewer(request, "admin")
    async with runtime(request).db.snapshot() as uow:
        report = (await uow.ledger.check()).as_dict()
    return render(request, "operator_ledger.html", v, report=report)
