"""Signing in and out, balances and limits, webhook endpoints with their delivery logs,
and API keys: the same service calls as /v1/balances, /v1/limits, /v1/webhook-endpoints
and /v1/api-keys."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import ValidationError

from payoutd.api.auth import Principal
from payoutd.api.dashboard import session
from payoutd.api.dashboard.pages import (
    DashboardRoute,
    authenticate,
    form,
    notice,
    redirect,
    render,
    runtime,
    text,
    viewer,
)
from payoutd.api.errors import validation_error
from payoutd.api.v1 import pagination
from payoutd.api.v1.access import key_view, unit_checking_totp
from payoutd.api.v1.quotes import limits_view
from payoutd.api.v1.schemas import ApiKeyCreate
from payoutd.api.v1.webhooks import delivery_views, endpoint_view
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.webhooks import Lane
from payoutd.services import access, webhooks
from payoutd.services import limits as limits_service
from payoutd.services.views import amount

router = APIRouter(prefix="/dashboard", route_class=DashboardRoute, include_in_schema=False)

PAGE_SIZE = 25


@router.get("")
async def home(request: Request) -> Response:
    found = session.read(request)
    if found is None or found.api_key is None:
        return redirect("/dashboard/sign-in")
    return redirect("/dashboard/payouts")


@router.get("/sign-in")
async def sign_in_page(request: Request) -> Response:
    found = session.read(request) or session.Session.fresh()
    response = render(
        request,
        "sign_in.html",
        None,
        csrf_token=found.csrf,
        reason=notice(request, "reason"),
    )
    if session.read(request) is None:
        session.write(request, response, found)
    return response


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    """The key is checked as a bearer token is; a merchant's key (`read` or `payouts`)
    opens the merchant's pages, an operator key (`admin`) the operator's."""
    pre = session.read(request)
    data = await form(request, pre)
    api_key = text(data, "api_key")
    try:
        if api_key is None:
            raise field_error("validation_error", "api_key", "Enter an API key")
        principal = await _principal(request, api_key)
        if principal.key.signing_secret is not None:
            raise PayoutdError(
                "signature_invalid",
                "This key requires signed requests, which a browser cannot make: "
                "sign in with another key",
            )
    except PayoutdError as err:
        assert pre is not None
        return render(
            request, "sign_in.html", None, err.status, csrf_token=pre.csrf, error=err, reason=None
        )
    operator = "admin" in principal.key.scopes
    response = redirect("/dashboard/operator/reviews" if operator else "/dashboard/payouts")
    # a new session, a new CSRF token (the signed-out one is never reused)
    session.write(request, response, session.Session.fresh(api_key))
    return response


async def _principal(request: Request, api_key: str) -> Principal:
    try:
        return await authenticate(request, api_key, "read")
    except PayoutdError as err:
        if err.code != "forbidden_scope":
            raise
    return await authenticate(request, api_key, "admin")


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    await form(request, session.read(request))
    response = redirect("/dashboard/sign-in", reason="signed-out")
    session.clear(response)
    return response


@router.get("/balances")
async def balances(request: Request) -> Response:
    v = await viewer(request)
    rt = runtime(request)
    async with rt.db.read() as uow:
        rows = await uow.ledger.balances(v.principal.merchant_id)
    currency = (request.query_params.get("currency") or "").strip().upper()
    limits = None
    if currency:
        limits = limits_view(await limits_service.limits(rt.ctx, currency, rows))
    return render(
        request,
        "balances.html",
        v,
        balances=[
            {
                "currency": b.currency,
                "available": amount(b.available, b.currency),
                "held": amount(b.held, b.currency),
                "balance": amount(b.balance, b.currency),
            }
            for b in rows
        ],
        limits=limits,
        currency=currency,
    )


@router.get("/webhooks")
async def webhook_endpoints(request: Request) -> Response:
    v = await viewer(request)
    rt = runtime(request)
    async with rt.db.read() as uow:
        page = await uow.webhooks.endpoints(
            v.principal.merchant_id,
            before_id=pagination.decode(request.query_params.get("cursor")),
            limit=PAGE_SIZE + 1,
        )
    page, next_cursor = pagination.cut(page, PAGE_SIZE, lambda e: e.id)
    return render(
        request,
        "webhooks.html",
        v,
        endpoints=[endpoint_view(e) for e in page],
        next_cursor=next_cursor,
        created=None,
    )


@router.post("/webhooks")
async def create_endpoint(request: Request) -> Response:
    """A new endpoint; its signing secret is shown this once (as the API returns it)."""
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    url = text(data, "url")
    if url is None:
        raise field_error("validation_error", "url", "Enter the endpoint's URL")
    rt = runtime(request)
    async with rt.db.unit() as uow:
        e = await webhooks.create_endpoint(
            uow,
            rt.ctx,
            v.principal.merchant_id,
            url,
            event_types=None,
            services=None,
            description=text(data, "description"),
        )
    return render(
        request,
        "webhooks.html",
        v,
        201,
        endpoints=[],
        next_cursor=None,
        created=endpoint_view(e, secret=rt.ctx.secrets.open(e.secret)),
    )


@router.get("/webhooks/{endpoint_id}")
async def endpoint_deliveries(endpoint_id: str, request: Request) -> Response:
    v = await viewer(request)
    rt = runtime(request)
    lane = Lane(endpoint_id=endpoint_id)
    async with rt.db.read() as uow:
        endpoint = await webhooks.endpoint(uow, v.principal.merchant_id, endpoint_id)
        page = await uow.webhooks.deliveries(
            lane,
            before_id=pagination.decode(request.query_params.get("cursor")),
            limit=PAGE_SIZE + 1,
        )
        page, next_cursor = pagination.cut(page, PAGE_SIZE, lambda d: d.id)
        views = await delivery_views(uow, page)
        events = await uow.webhooks.events([d.event_id for d in page])
    for d, row in zip(views, page, strict=True):
        # which payout each delivery is about, to find it by the payout
        event = events.get(row.event_id)
        about = event["subject_id"] if event and row.event_type.startswith("payout.") else None
        d["payout_id"] = row.payout_id or about
    return render(
        request,
        "endpoint.html",
        v,
        endpoint=endpoint_view(endpoint),
        deliveries=views,
        next_cursor=next_cursor,
    )


@router.post("/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver")
async def redeliver(endpoint_id: str, delivery_id: str, request: Request) -> Response:
    v = await viewer(request, "payouts")
    await form(request, v.session)
    rt = runtime(request)
    async with rt.db.unit() as uow:
        await webhooks.redeliver(
            uow, rt.ctx, v.principal.merchant_id, Lane(endpoint_id=endpoint_id), delivery_id
        )
    return redirect(f"/dashboard/webhooks/{endpoint_id}", notice="redelivered")


@router.post("/webhooks/{endpoint_id}/delete")
async def delete_endpoint(endpoint_id: str, request: Request) -> Response:
    v = await viewer(request, "payouts")
    await form(request, v.session)
    rt = runtime(request)
    async with rt.db.unit() as uow:
        await webhooks.delete_endpoint(uow, rt.ctx, v.principal.merchant_id, endpoint_id)
    return redirect("/dashboard/webhooks", notice="endpoint-deleted")


async def _keys_page(request: Request, status_code: int = 200, **context: object) -> Response:
    v = await viewer(request)
    rt = runtime(request)
    async with rt.db.read() as uow:
        keys = await uow.merchants.keys(v.principal.merchant_id)
    context.setdefault("created", None)
    return render(request, "keys.html", v, status_code, keys=[key_view(k) for k in keys], **context)


@router.get("/keys")
async def keys(request: Request) -> Response:
    return await _keys_page(request)


@router.post("/keys")
async def create_key(request: Request) -> Response:
    """As POST /v1/api-keys: a `payouts` key needs the merchant's TOTP code (once
    enrolled) and starts the payout cooldown. The new key is shown this once."""
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    try:
        body = ApiKeyCreate.model_validate(
            {
                "scopes": [s for s in data.getlist("scopes") if isinstance(s, str)],
                "name": text(data, "name"),
                "totp_code": text(data, "totp_code"),
            }
        )
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    rt = runtime(request)
    p = v.principal
    try:
        async with unit_checking_totp(rt, p) as uow:
            issued, blocked_until = await access.create_key(
                uow,
                rt.ctx,
                p.merchant_id,
                scopes=frozenset(body.scopes),
                name=body.name,
                totp_code=body.totp_code,
                ip_allowlist=None,
                rate_limit_per_minute=None,
                signed_requests=False,
                actor=p.actor,
                source=p.source,
            )
    except PayoutdError as err:
        return await _keys_page(request, err.status, error=err)
    finally:
        request.app.state.key_cache.clear()
    return await _keys_page(
        request,
        201,
        created={"key": issued.plaintext, "blocked_until": blocked_until, **key_view(issued.key)},
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(key_id: str, request: Request) -> Response:
    v = await viewer(request, "payouts")
    data = await form(request, v.session)
    rt = runtime(request)
    p = v.principal
    try:
        async with unit_checking_totp(rt, p) as uow:
            await access.delete_key(
                uow,
                rt.ctx,
                p.merchant_id,
                key_id,
                text(data, "totp_code"),
                actor=p.actor,
                source=p.source,
            )
    except PayoutdError as err:
        return await _keys_page(request, err.status, error=err)
    finally:
        request.app.state.key_cache.clear()
    if key_id == p.key.id:
        response = redirect("/dashboard/sign-in", reason="own-key-revoked")
        session.clear(response)
        return response
    return redirect("/dashboard/keys", notice="key-revoked")
