"""/v1/webhook-endpoints: subscriptions, secrets and the delivery log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import Cursor, DeliveryId, EndpointId, Limit, PayoutId
from payoutd.api.v1.schemas import (
    MerchantSecretOut,
    SecretRotate,
    WebhookDeliveryList,
    WebhookDeliveryOut,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointOut,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.webhooks import Delivery, Endpoint, Lane
from payoutd.services import webhooks
from payoutd.services.views import ts
from payoutd.store.uow import UnitOfWork

router = APIRouter(prefix="/v1", tags=["webhooks"])
READ = Depends(require("read"))
WRITE = Depends(require("payouts"))


def endpoint_view(e: Endpoint, *, secret: str | None = None) -> dict[str, Any]:
    return {
        "id": e.id,
        "object": "webhook_endpoint",
        "url": e.url,
        "event_types": e.event_types,
        "description": e.description,
        "status": e.status,
        "disabled_reason": e.disabled_reason,
        "failing_since": ts(e.failing_since),
        "created_at": ts(e.created_at),
        "secret": secret,
        "previous_secret_expires_at": ts(e.previous_secret_expires_at),
    }


async def delivery_views(uow: UnitOfWork, found: list[Delivery]) -> list[dict[str, Any]]:
    log = await uow.webhooks.attempts([d.id for d in found])
    return [
        {
            "id": d.id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "status": d.status,
            "attempts": d.attempts,
            "next_attempt_at": ts(d.next_attempt_at) if d.status == "pending" else None,
            "last_status_code": d.last_status_code,
            "last_error": d.last_error,
            "last_latency_ms": d.last_latency_ms,
            "created_at": ts(d.created_at),
            "delivered_at": ts(d.delivered_at),
            "attempt_log": [
                {
                    "attempt": a["attempt"],
                    "at": ts(a["at"]),
                    "status_code": a["status_code"],
                    "latency_ms": a["latency_ms"],
                    "error": a["error"],
                }
                for a in log[d.id]
            ],
        }
        for d in found
    ]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


@router.post(
    "/webhook-endpoints",
    status_code=201,
    response_model=WebhookEndpointOut,
    responses=responses("unauthorized", "forbidden_scope", "validation_error"),
    summary="Subscribe a URL to events; the signing secret is returned once",
)
async def create(
    body: WebhookEndpointCreate, request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    """Subscribes `url` to the events named (all of them by default), sent with
    Standard Webhooks signatures (docs/webhooks.md). The answer carries the signing
    `secret`, shown only here and after a rotation."""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        e = await webhooks.create_endpoint(
            uow,
            rt.ctx,
            principal.merchant_id,
            body.url,
            event_types=body.event_types,
            services=body.services,
            description=body.description,
        )
    return endpoint_view(e, secret=rt.ctx.secrets.open(e.secret))


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointList,
    responses=responses("unauthorized", "forbidden_scope", "invalid_cursor"),
    summary="The merchant's webhook endpoints",
)
async def list_endpoints(
    request: Request,
    principal: Annotated[Principal, READ],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        page = await uow.webhooks.endpoints(
            principal.merchant_id, before_id=pagination.decode(cursor), limit=limit + 1
        )
    page, next_cursor = pagination.cut(page, limit, lambda e: e.id)
    return {"data": [endpoint_view(e) for e in page], "next_cursor": next_cursor}


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpointOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="One webhook endpoint (why it is disabled, if it is)",
)
async def get_endpoint(
    endpoint_id: EndpointId, request: Request, principal: Annotated[Principal, READ]
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        return endpoint_view(await webhooks.endpoint(uow, principal.merchant_id, endpoint_id))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    status_code=204,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Delete an endpoint; its pending deliveries are cancelled",
)
async def delete_endpoint(
    endpoint_id: EndpointId, request: Request, principal: Annotated[Principal, WRITE]
) -> Response:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        await webhooks.delete_endpoint(uow, rt.ctx, principal.merchant_id, endpoint_id)
    return Response(status_code=204)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found", "validation_error"),
    summary="A new secret; the old one keeps signing until the overlap ends",
)
async def rotate(
    endpoint_id: EndpointId,
    body: SecretRotate,
    request: Request,
    principal: Annotated[Principal, WRITE],
) -> dict[str, Any]:
    """A new signing secret, shown once. The previous one keeps signing too (both
    signatures on each delivery) until `previous_secret_expires_at`, so a receiver can
    switch without refusing a delivery."""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        e = await webhooks.rotate_secret(
            uow, rt.ctx, principal.merchant_id, endpoint_id, body.overlap_seconds
        )
    return endpoint_view(e, secret=rt.ctx.secrets.open(e.secret))


@router.post(
    "/webhook-endpoints/{endpoint_id}/enable",
    response_model=WebhookEndpointOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Enable an endpoint that was disabled",
)
async def enable(
    endpoint_id: EndpointId, request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        return endpoint_view(await webhooks.enable(uow, rt.ctx, principal.merchant_id, endpoint_id))


async def _deliveries(
    request: Request, principal: Principal, lane: Lane, cursor: str | None, limit: int
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.read() as uow:
        await webhooks.own_lane(uow, principal.merchant_id, lane)
        page = await uow.webhooks.deliveries(
            lane, before_id=pagination.decode(cursor), limit=limit + 1
        )
        page, next_cursor = pagination.cut(page, limit, lambda d: d.id)
        return {"data": await delivery_views(uow, page), "next_cursor": next_cursor}


async def _redeliver(
    request: Request, principal: Principal, lane: Lane, delivery_id: str
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        d = await webhooks.redeliver(uow, rt.ctx, principal.merchant_id, lane, delivery_id)
        return (await delivery_views(uow, [d]))[0]


@router.get(
    "/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=responses("unauthorized", "forbidden_scope", "not_found", "invalid_cursor"),
    summary="The delivery log: attempts, status codes, latency, next retry",
)
async def deliveries(
    endpoint_id: EndpointId,
    request: Request,
    principal: Annotated[Principal, READ],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    return await _deliveries(request, principal, Lane(endpoint_id=endpoint_id), cursor, limit)


@router.post(
    "/webhook-endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveryOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Send a delivery again now",
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
    request: Request,
    principal: Annotated[Principal, WRITE],
) -> dict[str, Any]:
    """Queues the delivery's event to be sent again at once, whatever came of it
    before; the same `webhook-id`, so a receiver that already has it can ignore it."""
    return await _redeliver(request, principal, Lane(endpoint_id=endpoint_id), delivery_id)


@router.get(
    "/payouts/{payout_id}/deliveries",
    response_model=WebhookDeliveryList,
    responses=responses("unauthorized", "forbidden_scope", "not_found", "invalid_cursor"),
    summary="The delivery log of the payout's own callback_url",
)
async def callback_deliveries(
    payout_id: PayoutId,
    request: Request,
    principal: Annotated[Principal, READ],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    return await _deliveries(request, principal, Lane(payout_id=payout_id), cursor, limit)


@router.post(
    "/payouts/{payout_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveryOut,
    responses=responses("unauthorized", "forbidden_scope", "not_found"),
    summary="Send a delivery to the payout's callback_url again now",
)
async def redeliver_callback(
    payout_id: PayoutId,
    delivery_id: DeliveryId,
    request: Request,
    principal: Annotated[Principal, WRITE],
) -> dict[str, Any]:
    return await _redeliver(request, principal, Lane(payout_id=payout_id), delivery_id)


@router.post(
    "/webhook-secret",
    response_model=MerchantSecretOut,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="Create or rotate the secret that signs deliveries to callback_url",
)
async def merchant_secret(
    request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        return {
            "secret": await webhooks.merchant_secret(
                uow, rt.ctx, principal.merchant_id, rotate=True
            )
        }


@router.get(
    "/webhook-secret",
    response_model=MerchantSecretOut,
    responses=responses("unauthorized", "forbidden_scope"),
    summary="The secret that signs deliveries to a payout's callback_url",
)
async def get_merchant_secret(
    request: Request, principal: Annotated[Principal, WRITE]
) -> dict[str, Any]:
    """Needs a `payouts` key: a read-only key cannot learn a signing secret."""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        return {"secret": await webhooks.merchant_secret(uow, rt.ctx, principal.merchant_id)}
