"""Cryptomus's payout API, and Spark's (the same shape), over payoutd's own use cases.

Mounted at `/compat/cryptomus/v1/` and `/compat/spark/v1/` (DESIGN §9). Every call is a
POST with a JSON body, signed as the provider's clients sign it: headers `merchant` (the
merchant's id) and `sign` = md5(base64(body) + payout key), where the payout key is one
of the merchant's API keys with the `payouts` scope, whole (`pk_<prefix>_<secret>`). The
signature is checked over the body's bytes as they arrived, before anything reads them
as JSON: clients serialise the same object in different ways before signing it.

This module translates and nothing else: a payout is created by the one way payouts are
created (payoutd.api.creation), refusals come from the services with their native codes
and are shown in the provider's words (payoutd.dialects.cryptomus), and the access rules
are the native API's own (payoutd.api.auth.admit)."""

from __future__ import annotations

import json
import re
import uuid
import weakref
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response

from payoutd.api import creation, errors, reads
from payoutd.api.auth import Principal, admit
from payoutd.api.body_limit import replay
from payoutd.api.intake import InTransaction
from payoutd.api.payout_lane import ASGIApp, Receive, Scope, Send, read_body
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.bootstrap import Runtime
from payoutd.dialects import cryptomus as words
from payoutd.domain.assets import ASSETS
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.fees import FEE_MODES
from payoutd.domain.money import fmt, parse_amount
from payoutd.services import limits, merchants, payouts
from payoutd.services.ports import ChainUnavailable, UnitOfWork
from payoutd.services.views import amount as shown_amount
from payoutd.services.views import payout_view

log = structlog.get_logger("payoutd.compat")

DIALECTS: Mapping[str, str] = {"cryptomus": "Cryptomus", "spark": "Spark"}
PER_PAGE = 15  # the provider's page size
ORDER_ID = re.compile(r"[A-Za-z0-9_\-]{1,100}")
PRIORITIES = ("recommended", "economy", "high", "highest")
COURSE_SOURCES = ("Binance", "BinanceP2p", "Exmo", "Kucoin")
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_DATE = re.compile(r"\d{4}-\d{2}-\d{2} \d{1,2}:\d{2}:\d{2}")
# the seed's fee choice: true = the fee is taken from the balance, on top of the amount
ON_TOP, FROM_AMOUNT = FEE_MODES


class Refusal(Exception):
    """An answer in the provider's error shape."""

    def __init__(self, status: int, body: Mapping[str, Any]) -> None:
        super().__init__(body)
        self.status = status
        self.body = body


def message(text: str, status: int = 422) -> Refusal:
    return Refusal(status, {"state": 1, "message": text})


def invalid(fields: Mapping[str, list[str]]) -> Refusal:
    return Refusal(422, {"state": 1, "errors": dict(fields)})


def ok(result: Any) -> JSONResponse:
    return JSONResponse({"state": 0, "result": result})


# -- authentication -------------------------------------------------------------------


async def _principal(request: Request, body: bytes, scope: str) -> Principal:
    """The merchant's key that signed this body, admitted as the native API admits it."""
    merchant_id = request.headers.get("merchant", "").strip()
    given = request.headers.get("sign", "")
    if not merchant_id or not given or not _is_uuid(merchant_id):
        raise message(words.INVALID_SIGN, 401)
    for key in await reads.signing_keys(request, merchant_id):
        if words.signed_by(body, given, key.token):
            row = await reads.key_row(request, key.prefix)
            if row is None:  # deleted since it was read
                break
            try:
                found, policy = merchants.verify_key(
                    (row.key, row.policy), merchants.key_prefix(key.token)[1]
                )
                return await admit(request, found, policy, row, scope, signed_requests=False)
            except PayoutdError as err:
                raise _translated(err) from err
    raise message(words.INVALID_SIGN, 401)


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


# -- reading the body -----------------------------------------------------------------


def _json(body: bytes) -> dict[str, Any]:
    if not body.strip():
        return {}
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise invalid({"body": ["validation.json"]}) from None
    if not isinstance(data, dict):
        raise invalid({"body": ["validation.array"]})
    return data


class Fields:
    """The body's parameters checked as the provider's (Laravel) validator names its
    rules; every fault is collected, as Laravel answers them all at once."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def fault(self, name: str, rule: str) -> None:
        self.errors.setdefault(name, []).append(rule)

    def text(
        self, name: str, *, required: bool = False, low: int = 1, high: int = 255
    ) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.fault(name, "validation.required")
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fault(name, "validation.string")
            return None
        value = str(value)
        if len(value) < low:
            self.fault(name, "validation.min.string")
        elif len(value) > high:
            self.fault(name, "validation.max.string")
        return value

    def boolean(self, name: str, *, required: bool = False) -> bool | None:
        value = self.data.get(name)
        if value is None or value == "":
            if required:
                self.fault(name, "validation.required")
            return None
        if value in (True, 1, "1", "true"):
            return True
        if value in (False, 0, "0", "false"):
            return False
        self.fault(name, "validation.boolean")
        return None

    def choice(self, name: str, allowed: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is not None and value not in allowed:
            self.fault(name, "validation.in")
            return None
        return value

    def date(self, name: str) -> datetime | None:
        value = self.text(name)
        if value is None:
            return None
        if not _DATE.fullmatch(value):
            self.fault(name, "validation.date_format")
            return None
        try:
            return datetime.strptime(value, DATE_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            self.fault(name, "validation.date_format")
            return None

    def done(self) -> None:
        if self.errors:
            raise invalid(self.errors)


def _payout_request(data: Mapping[str, Any]) -> payouts.PayoutRequest:
    f = Fields(data)
    raw_amount = f.text("amount", required=True, high=40)
    currency = f.text("currency", required=True, high=10)
    order_id = f.text("order_id", required=True, high=100)
    if order_id is not None and not ORDER_ID.fullmatch(order_id):
        f.fault("order_id", "validation.alpha_dash")
    address = f.text("address", required=True, high=128)
    is_subtract = f.boolean("is_subtract", required=True)
    network = f.text("network", high=10)
    url_callback = f.text("url_callback", high=2048)
    to_currency = f.text("to_currency", high=10)
    course_source = f.choice("course_source", COURSE_SOURCES)
    from_currency = f.text("from_currency", high=10)
    priority = f.choice("priority", PRIORITIES)
    memo = f.text("memo", high=30)
    value: Decimal | None = None
    if raw_amount is not None:
        try:
            value = parse_amount(raw_amount)
        except ValueError:
            f.fault("amount", "validation.numeric")
    f.done()
    assert value is not None and currency is not None and order_id is not None
    return payouts.PayoutRequest(
        amount=value,
        currency=currency,
        address=address,
        network=network,
        payout_currency=to_currency,
        memo=memo,
        balance_currency=from_currency,
        fee_mode=ON_TOP if is_subtract else FROM_AMOUNT,
        priority=priority,
        rate_source=course_source,
        order_id=order_id,
        callback_url=url_callback,
    )


# -- refusals in the provider's words -------------------------------------------------


def _translated(err: PayoutdError, request: payouts.PayoutRequest | None = None) -> Refusal:
    """A native refusal as the seed words it (payoutd.dialects.cryptomus)."""
    fields = {words.FIELDS.get(k, k): v for k, v in err.fields.items()}
    if err.code in ("currency_not_found", "service_not_found") and "to_currency" in fields:
        return message(words.NOT_FOUND_SERVICE_TO_CURRENCY)
    if err.code == "insufficient_funds" and request is not None and request.balance_currency:
        paying = request.balance_currency.upper()
        sent = (request.payout_currency or request.currency).upper()
        if paying != sent:
            return message(f"Not enough balance for convert {paying} to {sent}")
    if err.code in words.MESSAGES:
        text = words.MESSAGES[err.code]
        return message(text if text is not None else err.message, _status(err))
    if err.code in ("unauthorized", "signature_invalid"):
        return message(words.INVALID_SIGN, 401)
    if err.code in ("forbidden_scope", "ip_not_allowed"):
        return message("You are forbidden", 403)
    if err.code == "rate_limited":
        return Refusal(429, {"state": 1, "message": "Too Many Attempts."})
    if err.code == "not_found":
        return message(words.PAYOUT_NOT_FOUND, 404)
    if fields:
        rule = words.RULES.get(err.code, "validation.invalid")
        return invalid({name: [rule] for name in fields})
    return message(err.message, err.status if err.status < 500 else 422)


def _status(err: PayoutdError) -> int:
    """The provider answers its refusals with 422; a cooldown is a 403 here, as natively."""
    return 403 if err.code == "payouts_forbidden" else 422


Handler = Callable[[Request, "Dialect", Principal, dict[str, Any]], Awaitable[Any]]


class Dialect:
    """One mount: Cryptomus's or Spark's (their wire formats are the same)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.title = DIALECTS[name]

    @property
    def prefix(self) -> str:
        return f"/compat/{self.name}/v1"

    def router(self) -> APIRouter:
        r = APIRouter(prefix=self.prefix, tags=[f"{self.title} dialect"])
        for path, handler, scope, summary in ROUTES:
            r.add_api_route(
                path,
                self._endpoint(handler, scope),
                methods=["POST"],
                summary=f"{summary} ({self.title})",
                description=_DOC.format(title=self.title),
                response_class=JSONResponse,
                responses=_RESPONSES,
                openapi_extra={
                    "parameters": _HEADERS + (_CURSOR if path == "/payout/list" else []),
                    "requestBody": _request_body(path),
                },
            )
        return r

    def _endpoint(self, handler: Handler, scope: str) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.body()
                principal = await _principal(request, body, scope)
                return ok(await handler(request, self, principal, _json(body)))
            except Refusal as refusal:
                return JSONResponse(refusal.body, status_code=refusal.status)
            except PayoutdError as err:
                translated = _translated(err)
                return JSONResponse(
                    translated.body, status_code=translated.status, headers=err.headers
                )
            except ChainUnavailable as exc:
                # a node out of reach is the native API's `network_unavailable` (its
                # exception handler, which this catch-all would otherwise pre-empt)
                log.warning("compat.network_unavailable", dialect=self.name, reason=str(exc))
                translated = _translated(PayoutdError("network_unavailable"))
                return JSONResponse(translated.body, status_code=translated.status)
            except Exception:
                log.exception("compat.server_error", dialect=self.name, path=request.url.path)
                return JSONResponse(dict(words.SERVER_ERROR), status_code=500)

        endpoint.__name__ = f"{self.name}_{handler.__name__.strip('_')}"
        return endpoint


class Lane:
    """The dialects' calls answered before FastAPI's routing, by the routes' own
    endpoints: FastAPI's routing and dependency solving cost a dialect create more CPU
    than the create itself (bench/README.md, `compat`). Only a request the route would
    answer the same way is taken: a POST to a call's exact path, without a query string
    and without an escaped character in its body (the app's storable-input check, which
    runs before the route's endpoint, has nothing to say about it then). Everything else
    goes to the route, unchanged."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.endpoints: dict[str, Callable[[Request], Awaitable[Response]]] = {
            dialect.prefix + path: dialect._endpoint(handler, scope)
            for dialect in map(Dialect, DIALECTS)
            for path, handler, scope, _ in ROUTES
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = (
            self.endpoints.get(scope["path"])
            if scope["type"] == "http" and scope["method"] == "POST"
            else None
        )
        if endpoint is None or scope.get("query_string"):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        if b"\\u" in body:  # a NUL or a surrogate can only come escaped
            await self.app(scope, replay(body, receive), send)
            return
        response = await endpoint(Request(scope, replay(body, receive)))
        await response(scope, receive, send)


_DOC = (
    "{title}'s wire format: headers `merchant` (your merchant id) and `sign` = "
    "md5(base64(body) + payout key), hex, where the payout key is one of your API keys "
    'with the `payouts` scope, whole. Answers `{{"state": 0, "result": ...}}`; '
    'refusals `{{"state": 1, "message": ...}}` or, for a field, '
    '`{{"state": 1, "errors": {{field: [rule]}}}}`. A payout\'s `url_callback` gets '
    '{title}\'s webhook: `{{"type": "payout", "uuid", "order_id", "status", ...}}` with '
    "`sign` in the body, md5(base64(the body without `sign`) + the payout key), when it is "
    "created and at each change of its status word (docs/webhooks.md)."
)
_HEADERS: list[dict[str, Any]] = [
    {
        "name": "merchant",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "examples": ["0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"]},
        "description": "Your merchant id",
    },
    {
        "name": "sign",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "examples": ["2b0a3f4c5d6e7f8091a2b3c4d5e6f708"]},
        "description": "md5(base64(the body as sent) + payout key), hex",
    },
]
_CURSOR: list[dict[str, Any]] = [
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "schema": {
            "type": "string",
            "examples": ["djE6MDE5M2I1YzItN2U0YS03YzFkLTlhMmItM2Y0ZTVkNmM3Yjhh"],
        },
        "description": "`paginate.nextCursor` or `paginate.previousCursor` of a page",
    }
]
_TEXT = {"type": "string"}
_BOOL_TEXT = {"oneOf": [{"type": "boolean"}, {"type": "string", "enum": ["1", "0"]}]}
# each call's parameters, as the seed documents them (required ones marked)
_BODIES: dict[str, tuple[dict[str, Any], list[str]]] = {
    "/payout": (
        {
            "amount": {
                "type": "string",
                "description": "The amount, in `currency` (a decimal string; a JSON number "
                "is read exactly)",
                "examples": ["0.5"],
            },
            "currency": {
                "type": "string",
                "description": "The currency of `amount`: crypto, or fiat with `to_currency`",
                "examples": ["USDT"],
            },
            "order_id": {
                "type": "string",
                "pattern": ORDER_ID.pattern,
                "maxLength": 100,
                "description": "Your id for the payout (the native `order_id`): a repeat "
                "answers the existing payout and creates nothing",
                "examples": ["order-1042"],
            },
            "address": {
                "type": "string",
                "description": "The recipient's address",
                "examples": ["TJRabPrwbZy45sbavfcjinPJC18kjpRTv8"],
            },
            "is_subtract": {
                **_BOOL_TEXT,
                "description": "true: fees are taken from the balance; false: from the amount",
                "examples": [True],
            },
            "network": {
                "type": "string",
                "description": "The network code (`TRON`, `ETH`, `BTC`, ...)",
                "examples": ["TRON"],
            },
            "url_callback": {
                "type": "string",
                "format": "uri",
                "description": "Receives the provider's webhooks for this payout, signed "
                "with `sign` in the body (docs/webhooks.md)",
                "examples": ["https://shop.example.com/hooks/cryptomus"],
            },
            "to_currency": {
                "type": "string",
                "description": "What is sent, for a fiat amount",
                "examples": ["USDT"],
            },
            "course_source": {
                "type": "string",
                "enum": list(COURSE_SOURCES),
                "description": "The exchange whose rate converts a fiat amount",
            },
            "from_currency": {
                "type": "string",
                "enum": ["USDT"],
                "description": "Pay from the USDT balance (converted) instead of `currency`'s",
            },
            "priority": {
                "type": "string",
                "enum": list(PRIORITIES),
                "description": "How fast to confirm, on networks whose fee depends on it",
            },
            "memo": {
                "type": "string",
                "minLength": 1,
                "maxLength": 30,
                "description": "A memo or tag, on networks that take one (TON)",
                "examples": ["invoice-1042"],
            },
        },
        ["amount", "currency", "order_id", "address", "is_subtract"],
    ),
    "/payout/info": (
        {
            "uuid": {
                "type": "string",
                "description": "The payout's uuid",
                "examples": ["0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"],
            },
            "order_id": {
                "type": "string",
                "description": "Or your `order_id` (it wins when both are given)",
                "examples": ["order-1042"],
            },
        },
        [],
    ),
    "/payout/list": (
        {
            "date_from": {
                "type": "string",
                "example": "2030-01-01 00:00:00",
                "description": "Payouts created from then (`YYYY-MM-DD H:mm:ss`, UTC)",
            },
            "date_to": {
                "type": "string",
                "example": "2030-01-31 23:59:59",
                "description": "Payouts created until then (`YYYY-MM-DD H:mm:ss`, UTC)",
            },
        },
        [],
    ),
}


def _request_body(path: str) -> dict[str, Any]:
    properties, required = _BODIES.get(path, ({}, []))
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if not properties:
        schema["examples"] = [{}]  # the call takes no parameters: an empty object
    if required:
        schema["required"] = required
    return {"required": bool(required), "content": {"application/json": {"schema": schema}}}


_REFUSAL = {
    "type": "object",
    "properties": {
        "state": {"type": "integer", "enum": [1], "description": "1: refused"},
        "message": {
            "type": "string",
            "description": "Why, in the provider's words",
            "examples": ["Not enough funds"],
        },
        "errors": {
            "type": "object",
            "additionalProperties": {"type": "array", "items": {"type": "string"}},
            "description": "Per field, the validator rules it broke",
            "examples": [{"amount": ["validation.required"]}],
        },
    },
    "required": ["state"],
}


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _REFUSAL}}}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": '`{"state": 0, "result": ...}`',
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "integer", "enum": [0], "description": "0: done"},
                        "result": {
                            "description": "The call's answer (README, \"Switching from "
                            'Cryptomus or Spark")',
                            "examples": [{"uuid": "0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"}],
                        },
                    },
                    "required": ["state", "result"],
                }
            }
        },
    },
    401: _refusal("`Invalid Sign`: the sign header does not match the body"),
    403: _refusal("`You are forbidden`: payouts are blocked (a new payout key's cooldown)"),
    404: _refusal("`Payout not found`"),
    422: _refusal("A refusal in the seed's words, or `errors` naming each field's rule"),
    429: _refusal("Too many requests for this key"),
    # answered by payoutd before the body is read (payoutd.api.body_limit), in its shape
    **errors.responses("payload_too_large"),
    500: {
        "description": '`{"message": "Server error, #1", "code": 500, "error": null}`',
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
}


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


# The balances read in a placing transaction, by transaction: every dialect create
# placed in one transaction answers with the same balance, read once (one merchant
# paying thousands from one balance puts many creates in each group commit). A read per
# create, even coalesced after the commit, was most of a dialect create's CPU beyond a
# native create's (bench/README.md, `compat`).
_READ_IN: weakref.WeakKeyDictionary[UnitOfWork, dict[tuple[str, str], Decimal]] = (
    weakref.WeakKeyDictionary()
)


async def _available_in(uow: UnitOfWork, merchant_id: str, currency: str) -> Decimal:
    read = _READ_IN.setdefault(uow, {})
    key = (merchant_id, currency)
    if key not in read:
        found = await uow.ledger.balances_of([key])
        read[key] = found[key].available if key in found else Decimal(0)
    return read[key]


async def _balance_of(request: Request, merchant_id: str, currency: str) -> str | None:
    return shown_amount(await reads.available(request, merchant_id, currency), currency)


# -- the calls ------------------------------------------------------------------------


async def _create(
    request: Request, dialect: Dialect, principal: Principal, data: dict[str, Any]
) -> Any:
    rt = _rt(request)
    req = _payout_request(data)
    try:
        if not words.from_currency_served(req.balance_currency, req.currency, req.payout_currency):
            raise field_error("service_not_found", "balance_currency")
        quote = await creation.price(rt, principal, req)
        debit_currency = quote.plan.debit_currency
        left: list[Decimal] = []

        async def keep(uow: UnitOfWork, placed: payouts.Placed | PayoutdError) -> None:
            if isinstance(placed, PayoutdError):
                return
            if req.callback_url:
                # the callback_url hears this provider's webhooks, signed with this key
                await creation.record_dialect(uow, placed, dialect.name, principal.key.id)
            # the seed's `balance`: what remains, read in the transaction that holds
            left.append(await _available_in(uow, principal.merchant_id, debit_currency))

        hook: InTransaction = keep
        _, view = await creation.place(
            request.app.state.intake, principal, quote, in_transaction=hook
        )
    except PayoutdError as err:
        raise _translated(err, req) from err
    balance = shown_amount(left[-1], debit_currency) if left else None
    return words.result(view, balance)


async def _info(
    request: Request, dialect: Dialect, principal: Principal, data: dict[str, Any]
) -> Any:
    f = Fields(data)
    payout_id = f.text("uuid", high=36)
    order_id = f.text("order_id", high=100)
    if payout_id is None and order_id is None:
        f.fault("uuid", "validation.required_without")
    f.done()
    rt = _rt(request)
    async with rt.db.read() as uow:
        found = await payouts.find(
            uow, principal.merchant_id, payout_id=payout_id, order_id=order_id
        )
    view = payout_view(found)
    return words.result(
        view, await _balance_of(request, principal.merchant_id, found.debit_currency)
    )


async def _list(
    request: Request, dialect: Dialect, principal: Principal, data: dict[str, Any]
) -> Any:
    f = Fields(data)
    date_from = f.date("date_from")
    date_to = f.date("date_to")
    f.done()
    cursor = request.query_params.get("cursor") or data.get("cursor")
    before_id, after_id = pagination.decode_either(cursor if isinstance(cursor, str) else None)
    rt = _rt(request)
    async with rt.db.read() as uow:
        rows = await uow.payouts.page(
            principal.merchant_id,
            created_from=date_from,
            created_to=date_to,
            before_id=before_id,
            after_id=after_id,
            limit=PER_PAGE + 1,
        )
        more = len(rows) > PER_PAGE
        page = rows[1:] if after_id and more else rows[:PER_PAGE]
        # whether there are pages on the other side of this one
        newer = older = False
        if page:
            if after_id:
                newer, older = more, True
            else:
                older = more
                newer = before_id is not None and bool(
                    await uow.payouts.page(
                        principal.merchant_id,
                        created_from=date_from,
                        created_to=date_to,
                        after_id=page[0].id,
                        limit=1,
                    )
                )
    return {
        "merchant_uuid": principal.merchant_id,
        "items": [words.listed(payout_view(p)) for p in page],
        "paginate": {
            "count": len(page),
            "hasPages": newer or older,
            "nextCursor": pagination.encode(page[-1].id) if older and page else None,
            "previousCursor": pagination.encode_after(page[0].id) if newer and page else None,
            "perPage": PER_PAGE,
        },
    }


async def _services(
    request: Request, dialect: Dialect, principal: Principal, data: dict[str, Any]
) -> Any:
    rt = _rt(request)
    found = []
    for (currency, network), asset in ASSETS.items():
        fee = rt.ctx.service_fee(principal.fees, currency)
        found.append(
            {
                "network": network,
                "currency": currency,
                "is_available": network in rt.ctx.chains,
                "limit": {
                    "min_amount": fmt(asset.min_amount.normalize()),
                    "max_amount": fmt(asset.max_amount.normalize()),
                },
                "commission": {
                    "fee_amount": fmt(fee.fixed.normalize()),
                    "percent": fmt(fee.percent.normalize()),
                },
            }
        )
    return found


async def _balance(
    request: Request, dialect: Dialect, principal: Principal, data: dict[str, Any]
) -> Any:
    rt = _rt(request)
    async with rt.db.read() as uow:
        rows = await uow.ledger.balances(principal.merchant_id)
    merchant = []
    for b in rows:
        usd = await limits.worth(rt.ctx, b.available, b.currency, "USD")
        merchant.append(
            {
                "uuid": _balance_id(principal.merchant_id, b.currency),
                "balance": shown_amount(b.available, b.currency),
                "currency_code": b.currency,
                "balance_usd": None if usd is None else shown_amount(usd, "USD"),
            }
        )
    return [{"balance": {"merchant": merchant, "user": []}}]


def _balance_id(merchant_id: str, currency: str) -> str:
    """A balance's uuid in the provider's shape: the same for the same merchant and
    currency on every call."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"payoutd:{merchant_id}/{currency}"))


# every call of a mount: (path, handler, scope its key needs, summary)
ROUTES: list[tuple[str, Handler, str, str]] = [
    ("/payout", _create, "payouts", "Create a payout"),
    ("/payout/info", _info, "read", "A payout by uuid or order_id"),
    ("/payout/list", _list, "read", "Payouts, newest first, by date"),
    ("/payout/services", _services, "read", "What can be paid out, and its fees"),
    ("/balance", _balance, "read", "The merchant's balances"),
]


def routers() -> list[APIRouter]:
    return [Dialect(name).router() for name in DIALECTS]
