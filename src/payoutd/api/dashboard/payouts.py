"""The payouts pages: a tab per status with filters and cursor paging, a payout's detail
(timeline, batch, txid, fees, webhook deliveries), approve and cancel (one or a selection),
a new payout priced before it is confirmed, and the list as CSV. Each action is the same
service call the native API makes (services.payouts, api.creation, services.webhooks)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from payoutd.api import creation
from payoutd.api.dashboard.pages import (
    DashboardRoute,
    Viewer,
    form,
    redirect,
    render,
    runtime,
    text,
    viewer,
)
from payoutd.api.errors import validation_error
from payoutd.api.v1 import pagination
from payoutd.api.v1.quotes import quote_view
from payoutd.api.v1.schemas import PayoutCreate
from payoutd.api.v1.webhooks import delivery_views
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.imports import METADATA_PREFIX
from payoutd.domain.payout import CANCELLABLE, Status
from payoutd.domain.webhooks import Lane
from payoutd.services import imports, payouts, webhooks
from payoutd.services.views import payout_view, ts

router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)

PAGE_SIZE = 25
BULK_AT_MOST = 200  # one form's selection; each is its own transaction
EXPORT_PAGE = 500
FILTERS = ("status", "currency", "network", "order_id", "address", "from", "to")
# what the create form sends on to the API's own request model
CREATE_FIELDS = (
    "amount",
    "currency",
    "network",
    "address",
    "memo",
    "payout_currency",
    "balance_currency",
    "fee_mode",
    "priority",
    "approval",
    "order_id",
    "comment",
)


@dataclass(frozen=True, slots=True)
class Filters:
    """The list's filters as the query string gives them."""

    status: Status | None = None
    currency: str | None = None
    network: str | None = None
    order_id: str | None = None
    address: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def of(cls, query: Any) -> Filters:
        def day(name: str) -> date | None:
            value = text(query, name)
            if value is None:
                return None
            try:
                return date.fromisoformat(value)
            except ValueError:
                raise field_error(
                    "validation_error", name, f"{name}: a date is written YYYY-MM-DD"
                ) from None

        status = text(query, "status")
        try:
            found = Status(status) if status else None
        except ValueError:
            raise field_error(
                "validation_error", "status", f"status: no such status {status!r}"
            ) from None
        currency, network = text(query, "currency"), text(query, "network")
        return cls(
            found,
            currency.upper() if currency else None,
            network.upper() if network else None,
            text(query, "order_id"),
            text(query, "address"),
            day("from"),
            day("to"),
        )

    def page_args(self) -> dict[str, Any]:
        """The arguments of the payouts repository's `page`, as GET /v1/payouts passes
        them; a date range covers whole UTC days."""
        return {
            "status": self.status.value if self.status else None,
            "currency": self.currency,
            "network": self.network,
            "order_id": self.order_id,
            "address": self.address,
            "created_from": datetime.combine(self.date_from, time.min, UTC)
            if self.date_from
            else None,
            "created_to": datetime.combine(self.date_to, time.max, UTC) if self.date_to else None,
        }

    def query(self, **more: str | None) -> dict[str, str]:
        """As a query string again (links to tabs, the next page, the export)."""
        values = {
            "status": self.status.value if self.status else None,
            "currency": self.currency,
            "network": self.network,
            "order_id": self.order_id,
            "address": self.address,
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            **more,
        }
        return {k: v for k, v in values.items() if v}


@router.get("/payouts")
async def payout_list(request: Request) -> Response:
    v = await viewer(request)
    filters = Filters.of(request.query_params)
    rt = runtime(request)
    async with rt.db.read() as uow:
        found = await uow.payouts.page(
            v.principal.merchant_id,
            **filters.page_args(),
            before_id=pagination.decode(request.query_params.get("cursor")),
            limit=PAGE_SIZE + 1,
        )
    found, next_cursor = pagination.cut(found, PAGE_SIZE, lambda p: p.id)
    return render(
        request,
        "payouts.html",
        v,
        payouts=[payout_view(p) for p in found],
        filters=filters,
        statuses=[s.value for s in Status],
        cancellable={s.value for s in CANCELLABLE},
        next_cursor=next_cursor,
    )


@router.get("/payouts/export.csv")
async def export(request: Request) -> Response:
    """Every payout the filters select, newest first, in the columns of `payoutd payouts
    export` (services.imports.export_row): a file that reads as an import's rows."""
    v = await viewer(request)
    filters = Filters.of(request.query_params)
    rt = runtime(request)
    rows: list[dict[str, str]] = []
    before: str | None = None
    async with rt.db.read() as uow:
        while True:
            found = await uow.payouts.page(
                v.principal.merchant_id, **filters.page_args(), before_id=before, limit=EXPORT_PAGE
            )
            rows += [imports.export_row(p) for p in found]
            if len(found) < EXPORT_PAGE:
                break
            before = found[-1].id
    keys = sorted({k for row in rows for k in row if k.startswith(METADATA_PREFIX)})
    out = io.StringIO(newline="")
    sheet = csv.DictWriter(
        out,
        fieldnames=imports.export_columns([k.removeprefix(METADATA_PREFIX) for k in keys]),
        restval="",
    )
    sheet.writeheader()
    sheet.writerows(rows)
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="payouts.csv"'},
    )


@router.get("/payouts/new")
async def new_payout(request: Request) -> Response:
    v = await viewer(request)
    return render(request, "payout_new.html", v, values={}, quote=None)


def _create_request(data: FormData) -> PayoutCreate:
    fields = {name: text(data, name) for name in CREATE_FIELDS}
    try:
        return PayoutCreate.model_validate({k: val for k, val in fields.items() if val})
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None


@router.post("/payouts/new")
async def create_payout(request: Request) -> Response:
    """Step one (`step=quote`): the price, from the same quote as POST /v1/quotes, shown
    with a Confirm button; step two (`step=confirm`): the payout, placed through the one
    way payouts are created (payoutd.api.creation)."""
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    values = {name: text(data, name) or "" for name in CREATE_FIELDS}
    rt = runtime(request)
    try:
        body = _create_request(data)
        wanted = payouts.PayoutRequest(**dict(body))
        if data.get("step") != "confirm":
            q = await payouts.quote(rt.ctx, v.principal.fees, wanted)
            return render(
                request,
                "payout_new.html",
                v,
                values=values,
                quote=quote_view(q, rt.settings.quote_ttl_seconds),
            )
        _, view = await creation.create(rt, request.app.state.intake, v.principal, wanted)
    except PayoutdError as err:
        return render(
            request, "payout_new.html", v, err.status, values=values, quote=None, error=err
        )
    return redirect(f"/dashboard/payouts/{view['id']}", notice="created")


@router.get("/payouts/{payout_id}")
async def payout_detail(payout_id: str, request: Request) -> Response:
    v = await viewer(request)
    rt = runtime(request)
    merchant_id = v.principal.merchant_id
    async with rt.db.read() as uow:
        payout = await payouts.get(uow, merchant_id, payout_id)
        events = await uow.outbox.for_subject(payout.id)
        found = await uow.webhooks.of_events(merchant_id, [e["id"] for e in events])
        deliveries = await delivery_views(uow, found)
    for d, row in zip(deliveries, found, strict=True):
        d["endpoint_id"] = row.endpoint_id
        d["url"] = row.url
    return render(
        request,
        "payout.html",
        v,
        payout=payout_view(payout),
        timeline=[
            {"type": e["type"], "at": ts(e["created_at"]), "status": _status_of(e)} for e in events
        ],
        deliveries=deliveries,
        cancellable=payout.status in CANCELLABLE,
        approvable=payout.status is Status.PENDING_APPROVAL,
    )


def _status_of(event: dict[str, Any]) -> str | None:
    """The status an event left the payout in: a transition's `new_status`, or the status
    of the payout it carries (payout.created)."""
    payload = event.get("payload")
    if not isinstance(payload, dict):
        return None
    found = payload.get("new_status")
    if found is None and isinstance(payload.get("payout"), dict):
        found = payload["payout"].get("status")
    return found if isinstance(found, str) else None


async def _approve(request: Request, v: Viewer, payout_id: str) -> str:
    """One offer approved as POST /v1/payouts/{id}/approve does it."""
    rt = runtime(request)
    async with rt.db.unit() as uow:
        payout, approved = await payouts.approve_offer(
            uow, rt.ctx, v.principal.merchant_id, payout_id, v.principal.policy
        )
    if not approved:
        # committed as `expired`, as the API's answer is
        raise PayoutdError("quote_expired", f"The offer expired at {ts(payout.expires_at)}")
    return payout.status.value


async def _cancel(request: Request, v: Viewer, payout_id: str) -> str:
    rt = runtime(request)
    async with rt.db.unit() as uow:
        payout = await payouts.cancel(uow, rt.ctx, v.principal.merchant_id, payout_id)
    return payout.status.value


ACTIONS = {"approve": _approve, "cancel": _cancel}


@router.post("/payouts/{payout_id}/{action}")
async def act(payout_id: str, action: str, request: Request) -> Response:
    if action not in ACTIONS:
        raise PayoutdError("not_found")
    v = await viewer(request, "payouts")
    await form(request, v.session)
    status = await ACTIONS[action](request, v, payout_id)
    return redirect(f"/dashboard/payouts/{payout_id}", notice=f"status-{status}")


@router.post("/payouts-bulk")
async def bulk(request: Request) -> Response:
    """Approve or cancel each selected payout, each in its own transaction through the
    same service call: one that is refused does not stop the others."""
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    action = data.get("action")
    if not isinstance(action, str) or action not in ACTIONS:
        raise field_error("validation_error", "action", "action: approve or cancel")
    ids = [i for i in data.getlist("payout_id") if isinstance(i, str)]
    if not ids:
        raise field_error("validation_error", "payout_id", "Select at least one payout")
    if len(ids) > BULK_AT_MOST:
        raise field_error(
            "validation_error", "payout_id", f"At most {BULK_AT_MOST} payouts at a time"
        )
    results = []
    for payout_id in dict.fromkeys(ids):
        try:
            results.append((payout_id, True, await ACTIONS[action](request, v, payout_id)))
        except PayoutdError as err:
            results.append((payout_id, False, f"{err.code}: {err.message}"))
    return render(request, "bulk.html", v, action=action, results=results)


@router.post("/payouts/{payout_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(payout_id: str, delivery_id: str, request: Request) -> Response:
    """A delivery about this payout sent again now: to an endpoint (its lane) or to the
    payout's callback_url."""
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    endpoint_id = text(data, "endpoint_id")
    lane = Lane(endpoint_id=endpoint_id) if endpoint_id else Lane(payout_id=payout_id)
    rt = runtime(request)
    async with rt.db.unit() as uow:
        await webhooks.redeliver(uow, rt.ctx, v.principal.merchant_id, lane, delivery_id)
    return redirect(f"/dashboard/payouts/{payout_id}", notice="redelivered")
