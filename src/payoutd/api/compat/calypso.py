"""Calypso's payout API over payoutd's own use cases, at `/compat/calypso/api/v1/`.

Every call is a POST whose body is `{"account": <merchant id>, "timestamp": <unix ms>,
"payload": {...}}`, signed as Calypso's clients sign it: header `Key` is an API key's id
(`pk_<prefix>`) and `Sign` the hex HMAC-SHA512 of the body's bytes, as they arrived,
with that key's secret. The signature is checked before anything reads the body as
JSON; then the account must be the key's merchant and the timestamp within 3 minutes of
the engine's clock.

This module translates and nothing else: payouts are priced and placed by the one way
payouts are created (payoutd.api.creation), an `idempotencyKey` is the payout's native
`order_id` (unique per merchant: a repeat answers the stored payout), `executionDate` is
its `execute_at`, and a webhook subscription is a native webhook endpoint whose
deliveries are in Calypso's format (services.webhooks, dialects.calypso). Refusals keep
payoutd's own codes and shape (the seed documents no error format)."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from payoutd.api import creation, errors, reads
from payoutd.api.auth import Principal, admit
from payoutd.api.responses import JSONResponse
from payoutd.bootstrap import Runtime
from payoutd.dialects import calypso as words
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.money import fmt, parse_amount
from payoutd.domain.webhooks import Endpoint
from payoutd.services import merchants, payouts, webhooks
from payoutd.services.views import payout_view, ts

DIALECT = "calypso"
PREFIX = "/compat/calypso/api/v1"
WINDOW_MS = 3 * 60 * 1000  # how far a request's timestamp may be from the engine's clock
IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_\-]{1,100}")  # the native order_id's rule
SUBSCRIPTION_PAGE = 100


# -- authentication -------------------------------------------------------------------


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _signed(request: Request, body: bytes, scope: str) -> tuple[Principal, dict[str, Any]]:
    """The key that signed these bytes, admitted as the native API admits it, and the
    body's payload."""
    rt = _rt(request)
    key_id = request.headers.get("key", "").strip()
    given = request.headers.get("sign", "")
    if not key_id or not given:
        raise _unsigned()
    row = await reads.key_row(request, key_id)
    secret = None if row is None else merchants.key_secret(rt.ctx, row.key)
    if row is None or secret is None or not words.signed_by(body, given, secret):
        raise _unsigned()
    key, policy = merchants.verify_key((row.key, row.policy), secret)  # revoked: 401
    data = _envelope(body)
    if data["account"] != key.merchant_id:
        raise PayoutdError("unauthorized", "account is not the merchant of this Key")
    now_ms = words.millis(rt.ctx.clock.now())
    if abs(now_ms - data["timestamp"]) > WINDOW_MS:
        raise PayoutdError(
            "signature_invalid", "timestamp is more than 3 minutes off: resend with the time now"
        )
    principal = await admit(request, key, policy, row, scope, signed_requests=False)
    return principal, data["payload"]


def _unsigned() -> PayoutdError:
    return PayoutdError(
        "unauthorized",
        "Send headers Key (your API key's id, pk_...) and Sign (hex HMAC-SHA512 of the "
        "body with the key's secret)",
    )


def _envelope(body: bytes) -> dict[str, Any]:
    try:
        # numbers kept exact (Decimal), as an amount may be written as one
        data = json.loads(body, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        raise field_error("validation_error", "body", "body must be JSON") from None
    if not isinstance(data, dict):
        raise field_error("validation_error", "body", "body must be a JSON object")
    if not isinstance(data.get("account"), str):
        raise field_error("validation_error", "account", "account (your merchant id) is required")
    stamp = data.get("timestamp")
    if isinstance(stamp, bool) or not isinstance(stamp, int):
        raise field_error("validation_error", "timestamp", "timestamp (unix ms) is required")
    payload = data.get("payload", {})
    if not isinstance(payload, dict):
        raise field_error("validation_error", "payload", "payload must be an object")
    return {"account": data["account"], "timestamp": stamp, "payload": payload}


# -- reading a payload ----------------------------------------------------------------


def _text(payload: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    value = payload.get(name)
    if value is None or value == "":
        if required:
            raise field_error("validation_error", name, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise field_error("validation_error", name, f"{name} must be a string")
    return value


def _amount(payload: Mapping[str, Any]) -> Decimal:
    value = payload.get("amount")
    # a JSON number (read as an exact Decimal) or a decimal string
    exact = isinstance(value, Decimal | int) and not isinstance(value, bool)
    text = format(value, "f") if exact else value
    try:
        return parse_amount(text)
    except ValueError as exc:
        raise field_error("invalid_amount", "amount", f"amount {exc}") from None


def _date(payload: Mapping[str, Any], name: str) -> datetime | None:
    """An ISO 8601 date-time; one without a zone is UTC."""
    text = _text(payload, name)
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise field_error(
            "validation_error", name, f"{name} must be an ISO 8601 date-time"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _idempotency_key(payload: Mapping[str, Any]) -> str | None:
    key = _text(payload, "idempotencyKey")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise field_error(
            "validation_error",
            "idempotencyKey",
            "idempotencyKey must be 1-100 letters, digits, '-' or '_' (a UUID)",
        )
    return key


def _asset(payload: Mapping[str, Any]) -> tuple[str, str]:
    code = (_text(payload, "currency", required=True) or "").upper()
    found = words.CURRENCIES.get(code)
    if found is None:
        raise field_error(
            "currency_not_found",
            "currency",
            f"currency {code!r} is not one of {', '.join(words.CURRENCIES)}",
        )
    return found


# -- the calls ------------------------------------------------------------------------


def _fee_percentage(rt: Runtime, principal: Principal, currency: str) -> str:
    return fmt(rt.ctx.service_fee(principal.fees, currency).percent.normalize())


async def _object(rt: Runtime, principal: Principal, view: Mapping[str, Any]) -> dict[str, Any]:
    """The payout as Calypso shows it: with the fee percentage kept when it was made
    through this dialect, otherwise the merchant's current one."""
    async with rt.db.read() as uow:
        record = (await uow.payouts.dialect_records([view["id"]])).get(view["id"])
    kept = record.details.get("calypsoFeePercentage") if record is not None else None
    percentage = kept or _fee_percentage(rt, principal, view["payout_currency"])
    return words.payout(view, principal.merchant_id, percentage)


async def _create(request: Request, principal: Principal, payload: dict[str, Any]) -> Any:
    rt = _rt(request)
    currency, network = _asset(payload)
    req = payouts.PayoutRequest(
        amount=_amount(payload),
        currency=currency,
        network=network,
        address=_text(payload, "depositAddress", required=True),
        comment=_text(payload, "comment"),
        order_id=_idempotency_key(payload),
        execute_at=_date(payload, "executionDate"),
    )
    quote = await creation.price(rt, principal, req)
    details = {"calypsoFeePercentage": _fee_percentage(rt, principal, currency)}
    hook = creation.recording(DIALECT, principal.key.id, details)
    # a repeated idempotencyKey (the native order_id) answers the payout stored with it
    _, view = await creation.place(request.app.state.intake, principal, quote, in_transaction=hook)
    return await _object(rt, principal, view)


async def _get(request: Request, principal: Principal, payload: dict[str, Any]) -> Any:
    payout_id = _text(payload, "id")
    key = _text(payload, "idempotencyKey")
    if payout_id is None and key is None:
        raise field_error("validation_error", "id", "give id or idempotencyKey")
    rt = _rt(request)
    async with rt.db.read() as uow:
        found = await payouts.find(uow, principal.merchant_id, payout_id=payout_id, order_id=key)
    return await _object(rt, principal, payout_view(found))


def _subscription(ep: Endpoint, *, secret: str | None = None) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": ep.id,
        "url": ep.url,
        "notificationEventTypes": words.calypso_types(ep.event_types),
        "status": ep.status.upper(),
        "key": ep.id,  # the Key header of its deliveries
        "createdDate": ts(ep.created_at),
    }
    if secret is not None:
        shown["secret"] = secret  # shown once: Sign = HMAC-SHA512(body, secret)
    return shown


async def _subscribe(request: Request, principal: Principal, payload: dict[str, Any]) -> Any:
    named = payload.get("notificationEventTypes") or []
    services = payload.get("notificationServiceTypes") or []
    for name, value in (("notificationEventTypes", named), ("notificationServiceTypes", services)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise field_error("validation_error", name, f"{name} must be a list of strings")
    try:
        types = words.event_types(named, services)
    except ValueError as exc:
        raise field_error("validation_error", "notificationEventTypes", str(exc)) from None
    if not types:
        raise field_error(
            "validation_error",
            "notificationEventTypes",
            'name notificationEventTypes, or notificationServiceTypes ["PAYOUT"]',
        )
    url = _text(payload, "url", required=True) or ""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        ep = await webhooks.create_endpoint(
            uow,
            rt.ctx,
            principal.merchant_id,
            url,
            event_types=words.native_types(types),
            services=None,
            description="Calypso webhook subscription",
            format=words.FORMAT,
        )
    return _subscription(ep, secret=rt.ctx.secrets.open(ep.secret))


async def _subscriptions(request: Request, principal: Principal, payload: dict[str, Any]) -> Any:
    rt = _rt(request)
    found: list[dict[str, Any]] = []
    before: str | None = None
    async with rt.db.read() as uow:
        while True:
            page = await uow.webhooks.endpoints(
                principal.merchant_id, before_id=before, limit=SUBSCRIPTION_PAGE
            )
            found += [_subscription(ep) for ep in page if ep.format == words.FORMAT]
            if len(page) < SUBSCRIPTION_PAGE:
                return {"subscriptions": found}
            before = page[-1].id


async def _unsubscribe(request: Request, principal: Principal, payload: dict[str, Any]) -> Any:
    endpoint_id = _text(payload, "id", required=True) or ""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        ep = await webhooks.endpoint(uow, principal.merchant_id, endpoint_id)
        if ep.format != words.FORMAT:  # a native endpoint is the native API's to delete
            raise PayoutdError("not_found", "Webhook subscription not found")
        await webhooks.delete_endpoint(uow, rt.ctx, principal.merchant_id, endpoint_id)
    return {"id": endpoint_id, "deleted": True}


# -- routes ---------------------------------------------------------------------------

Handler = Callable[[Request, Principal, dict[str, Any]], Awaitable[Any]]

_DOC = (
    "Calypso's wire format: headers `Key` (your API key's id, `pk_...`) and `Sign` = hex "
    "HMAC-SHA512 of the body as sent, keyed by the key's secret; the body is "
    '`{"account": <your merchant id>, "timestamp": <unix ms>, "payload": {...}}` and a '
    "timestamp more than 3 minutes off is refused. Amounts are decimal strings (a JSON "
    "number is read exactly). Refusals are payoutd's own: "
    '`{"error": {"code", "message", "fields"}}` (docs/errors.md). A subscription '
    "(`subscription/webhook/create`) gets `PAYOUT_CHANGE_STATUS` and "
    '`PAYOUT_VALIDATION_ERROR` as `{"type", "timestamp", "account", "payload"}` with '
    "headers `Key` (the subscription's key) and `Sign`, hex HMAC-SHA512 of the body keyed "
    "by its secret (docs/webhooks.md)."
)
_HEADERS: list[dict[str, Any]] = [
    {
        "name": "Key",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "examples": ["pk_3f9a1c2b"]},
        "description": "Your API key's id (`pk_<prefix>`)",
    },
    {
        "name": "Sign",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "examples": ["5f2b" + "0" * 124]},
        "description": "hex HMAC-SHA512(the body as sent, the key's secret)",
    },
]
_ID = "0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"
_PAYLOADS: dict[str, dict[str, Any]] = {
    "/payout/create": {
        "properties": {
            "depositAddress": {
                "type": "string",
                "description": "The recipient's address",
                "examples": ["TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"],
            },
            "amount": {
                "type": "string",
                "example": "0.5",
                "description": "How much to send, in `currency`: a decimal string (a JSON "
                "number is read exactly)",
            },
            "currency": {
                "type": "string",
                "enum": list(words.CURRENCIES),
                "description": "Calypso's currency code: it names the network too "
                "(`USDT` on Ethereum, `USDT_TRX` on TRON, ...)",
            },
            "comment": {
                "type": "string",
                "description": "Your note, shown back",
                "examples": ["invoice 1042"],
            },
            "idempotencyKey": {
                "type": "string",
                "format": "uuid",
                "description": "Your id for the payout (the native `order_id`): a repeat "
                "answers the first payout and creates nothing",
                "examples": ["3f1c9a7e-5d2b-4c8e-9f0a-1b2c3d4e5f60"],
            },
            "executionDate": {
                "type": "string",
                "format": "date-time",
                "description": "Send no earlier than this (ISO 8601 with its offset); the "
                "funds are held from now",
                "examples": ["2030-01-01T09:00:00Z"],
            },
        },
        "required": ["depositAddress", "amount", "currency"],
    },
    "/payout": {
        "properties": {
            "id": {"type": "string", "description": "The payout's id", "examples": [_ID]},
            "idempotencyKey": {
                "type": "string",
                "description": "Or: the `idempotencyKey` it was created with",
                "examples": ["3f1c9a7e-5d2b-4c8e-9f0a-1b2c3d4e5f60"],
            },
        }
    },
    "/subscription/webhook/create": {
        "properties": {
            "url": {
                "type": "string",
                "format": "uri",
                "description": "Where to POST the events (docs/webhooks.md, Calypso)",
                "examples": ["https://shop.example.com/hooks/calypso"],
            },
            "notificationEventTypes": {
                "type": "array",
                "items": {"type": "string", "enum": list(words.EVENT_TYPES)},
                "description": "The events wanted",
            },
            "notificationServiceTypes": {
                "type": "array",
                "items": {"type": "string", "enum": list(words.SERVICES)},
                "description": "Or whole families of events (`PAYOUT`: all of them)",
            },
        },
        "required": ["url"],
    },
    "/subscription/webhook/list": {"properties": {}, "examples": [{}]},
    "/subscription/webhook/delete": {
        "properties": {
            "id": {"type": "string", "description": "The subscription's id", "examples": [_ID]}
        },
        "required": ["id"],
    },
}
_AUTH_ERRORS = (
    "validation_error",
    "unauthorized",
    "signature_invalid",
    "forbidden_scope",
    "ip_not_allowed",
    "rate_limited",
)
_ROUTES: list[tuple[str, Handler, str, str, tuple[str, ...]]] = [
    (
        "/payout/create",
        _create,
        "payouts",
        "Create a payout; a repeated idempotencyKey answers the first one",
        (*creation.PRICING_ERRORS, "insufficient_funds", "payouts_forbidden"),
    ),
    ("/payout", _get, "read", "A payout by id or idempotencyKey", ("not_found",)),
    (
        "/subscription/webhook/create",
        _subscribe,
        "payouts",
        "Subscribe a URL to payout events; its key and secret are shown once",
        (),
    ),
    ("/subscription/webhook/list", _subscriptions, "read", "The webhook subscriptions", ()),
    (
        "/subscription/webhook/delete",
        _unsubscribe,
        "payouts",
        "Delete a webhook subscription",
        ("not_found",),
    ),
]


# what each call answers with 200, in Calypso's words (README, "Switching from Calypso")
_ANSWERS = {
    "/payout/create": "The payout: `id account depositAddress amount currency calypsoFee "
    "calypsoFeePercentage state createdDate transactionHash comment executionDate "
    "idempotencyKey errors cancellation`; `state` is `IN_PROGRESS`, `COMPLETED`, `FAILED`, "
    "`CANCELED` or `CREATED` (an offer made through the native API)",
    "/payout": "The payout, as `payout/create` answers it",
    "/subscription/webhook/create": "The subscription: `id url notificationEventTypes "
    "status key createdDate secret` (the secret shown only here)",
    "/subscription/webhook/list": '`{"subscriptions": [...]}`, without their secrets',
    "/subscription/webhook/delete": '`{"id", "deleted": true}`',
}


def _body(path: str) -> dict[str, Any]:
    payload = {"type": "object", "description": "The call's own fields", **_PAYLOADS[path]}
    schema = {
        "type": "object",
        "properties": {
            "account": {
                "type": "string",
                "description": "Your merchant id",
                "examples": [_ID],
            },
            "timestamp": {
                "type": "integer",
                "description": "Unix time in milliseconds; refused when more than 3 "
                "minutes off payoutd's clock",
                "examples": [1796722200000],
            },
            "payload": payload,
        },
        "required": ["account", "timestamp", "payload"],
    }
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _endpoint(handler: Handler, scope: str) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        body = await request.body()
        principal, payload = await _signed(request, body, scope)
        return JSONResponse(await handler(request, principal, payload))

    endpoint.__name__ = f"calypso_{handler.__name__.strip('_')}"
    return endpoint


router = APIRouter(prefix=PREFIX, tags=["Calypso dialect"])
for _path, _handler, _scope, _summary, _errors in _ROUTES:
    router.add_api_route(
        _path,
        _endpoint(_handler, _scope),
        methods=["POST"],
        summary=f"{_summary} (Calypso)",
        description=_DOC,
        response_class=JSONResponse,
        responses={
            200: {"description": _ANSWERS[_path]},
            **errors.responses(*_AUTH_ERRORS, *_errors, "payload_too_large"),
        },
        openapi_extra={"parameters": _HEADERS, "requestBody": _body(_path)},
    )
