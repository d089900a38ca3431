"""Bitclear's v3 payout API over payoutd's own use cases, at `/compat/bitclear/v3/`.

Authentication is HTTP Basic, as Bitclear's clients send it: the username is an API
key's id (`pk_<prefix>`), the password the secret after it. A payout is an offer (`NEW`)
until it is approved, or queued at once with `autoApprove`; it is charged in
`priceCurrency` when the merchant holds that balance (the fiat statement), otherwise in
the currency it sends, and its `priceAmount` is what the statement shows.

This module translates and nothing else: payouts are priced and placed by the one way
payouts are created (payoutd.api.creation), approved by the one approval
(services.payouts.approve_offer), and refusals keep payoutd's own codes and shape (the
seed documents no error format)."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, WithJsonSchema
from starlette.convertors import Convertor, register_url_convertor

from payoutd.api import creation, errors, reads
from payoutd.api.auth import Principal, admit
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import Cursor, Limit, PayoutId
from payoutd.bootstrap import Runtime
from payoutd.dialects import bitclear as words
from payoutd.domain.assets import CURRENCIES
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.money import ROUND_CREDIT, fmt, parse_amount, quantize
from payoutd.domain.payout import DialectRecord, Payout
from payoutd.services import limits, merchants, payouts
from payoutd.services.views import payout_view

DIALECT = "bitclear"
DEFAULT_LIMITS_CURRENCY = "BTC"  # what /v3/payout-limits answers in without ?currency=


async def _principal(request: Request, scope: str) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    username = password = ""
    if scheme.lower() == "basic":
        try:
            username, _, password = base64.b64decode(token, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            username = password = ""
    if not username or not password:
        raise _unauthorized()
    row = await reads.key_row(request, username)
    try:
        key, policy = merchants.verify_key(None if row is None else (row.key, row.policy), password)
    except PayoutdError:
        raise _unauthorized() from None
    return await admit(request, key, policy, row, scope)


def _unauthorized() -> PayoutdError:
    return PayoutdError(
        "unauthorized",
        "Send HTTP Basic credentials: your API key's id (pk_...) and its secret",
        headers={"WWW-Authenticate": 'Basic realm="payoutd"'},
    )


async def _reader(request: Request) -> Principal:
    return await _principal(request, "read")


async def _payer(request: Request) -> Principal:
    return await _principal(request, "payouts")


Reader = Annotated[Principal, Depends(_reader)]
Payer = Annotated[Principal, Depends(_payer)]


class _ExactJSON(Request):
    """A request whose JSON body keeps its numbers exact: Bitclear's clients send amounts
    as JSON numbers (`"transferAmount": 0.1`), and a float would not be the amount sent
    (nor survive an 18-decimal amount). Every number with a fraction or an exponent is
    read from its own text into a Decimal."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = json.loads(await self.body(), parse_float=Decimal)
        return self._json


class _ExactRoute(APIRoute):
    """The dialect's routes read their bodies as `_ExactJSON` (FastAPI's custom request
    class pattern)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def exact(request: Request) -> Response:
            return await handler(_ExactJSON(request.scope, request.receive))

        return exact


def _amount(raw: object) -> Decimal:
    """A Bitclear amount: a JSON number as read by `_ExactJSON` (Decimal, or int for a
    whole one), or payoutd's own decimal string; then payoutd's rule for an amount (more
    than zero, at most 18 decimals). A bool, NaN or a float is refused: a float has
    already lost the digits sent."""
    if isinstance(raw, bool) or not isinstance(raw, Decimal | int | str):
        raise ValueError(NOT_A_NUMBER)
    if not isinstance(raw, str):
        if not Decimal(raw).is_finite():
            raise ValueError(NOT_A_NUMBER)
        raw = fmt(Decimal(raw))
    return parse_amount(raw)


NOT_A_NUMBER = "must be a number such as 0.1"


# Bitclear's amount: a JSON number, exact (a decimal string is accepted too)
BitclearAmount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    WithJsonSchema(
        {
            "type": "number",
            "exclusiveMinimum": 0,
            "example": 0.1,
            "description": "A JSON number, read exactly (never through a float); at most "
            '18 decimals. payoutd\'s decimal string ("0.1") is accepted too.',
        }
    ),
]


class PayoutRequest(BaseModel):
    """The seed's payout request: exactly one of `transferAmount` (the crypto sent) and
    `priceAmount` (fiat converted at the offered rate)."""

    model_config = ConfigDict(extra="forbid")

    transferAmount: Annotated[
        BitclearAmount | None,
        Field(
            description="The crypto to send, exactly, in `transferCurrency`; give this or "
            "`priceAmount`",
            examples=[0.0015, None],
        ),
    ] = None
    priceAmount: Annotated[
        BitclearAmount | None,
        Field(
            description="The worth to send, in `priceCurrency` (fiat), converted to "
            "`transferCurrency` at the offered rate; give this or `transferAmount`",
            examples=[100, None],
        ),
    ] = None
    transferCurrency: str = Field(
        min_length=2,
        max_length=10,
        description="The crypto currency sent (its own network)",
        examples=["BTC"],
    )
    priceCurrency: str = Field(
        min_length=2,
        max_length=10,
        description="The fiat currency of the price; the payout is charged to this "
        "balance when you hold one, else to `transferCurrency`'s",
        examples=["USD"],
    )
    address: str = Field(
        min_length=1,
        max_length=128,
        description="The recipient's address",
        examples=["1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"],
    )
    comment: str | None = Field(
        default=None, max_length=1000, description="Your note", examples=["invoice 1042", None]
    )
    notificationUrl: str | None = Field(
        default=None,
        max_length=2048,
        description='Receives `{timestamp, notificationType: "v3/payouts", body}` when '
        "the payout is created and at each change of state (docs/webhooks.md)",
        examples=["https://shop.example.com/hooks/bitclear", None],
    )
    autoApprove: StrictBool = Field(
        default=False,
        description="True: queued at once; false: an offer (`NEW`) to approve before "
        "`expirationTime`",
        examples=[False],
    )


class Approval(BaseModel):
    """The offer to approve."""

    model_config = ConfigDict(extra="forbid")

    payoutId: str = Field(
        min_length=1,
        max_length=36,
        description="The offer's id, as the create answered it",
        examples=["0193b5c2-7e4a-7c1d-9a2b-3f4e5d6c7b8a"],
    )


_DOC = (
    "Bitclear's wire format: HTTP Basic with your API key's id (`pk_...`) as the username "
    "and its secret as the password. Amounts are JSON numbers, exact. Refusals are "
    'payoutd\'s own: `{"error": {"code", "message", "fields"}}` (docs/errors.md). A '
    '`notificationUrl` gets `{"timestamp", "notificationType": "v3/payouts", "body": '
    "<the payout>}` when the payout is created and at each change of its state, unsigned "
    "as Bitclear's are (docs/webhooks.md)."
)
router = APIRouter(prefix="/compat/bitclear/v3", tags=["Bitclear dialect"], route_class=_ExactRoute)
_AUTH_ERRORS = ("unauthorized", "forbidden_scope", "ip_not_allowed", "rate_limited")


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def _views(rt: Runtime, merchant_id: str, found: list[Payout]) -> list[dict[str, Any]]:
    async with rt.db.read() as uow:
        records = await uow.payouts.dialect_records([p.id for p in found])
    return [_view(p, merchant_id, records.get(p.id)) for p in found]


def _view(p: Payout, merchant_id: str, record: DialectRecord | None) -> dict[str, Any]:
    """The seed's object. A payout made through another API shows its debit as its
    price."""
    price = (
        record.details
        if record is not None and record.dialect == DIALECT
        else {"priceCurrency": p.debit_currency, "priceAmount": fmt(p.debit_amount)}
    )
    return words.payout(payout_view(p), merchant_id, price)


class _Raw(str):
    """JSON text already written (Bitclear's exact numbers)."""


class _BitclearJSON(JSONResponse):
    def render(self, content: Any) -> bytes:
        if isinstance(content, _Raw):
            return content.encode()
        return super().render(content)


def _respond(body: Any, status: int = 200) -> _BitclearJSON:
    return _BitclearJSON(_Raw(words.dumps(body)), status_code=status)


@router.post(
    "/payouts",
    summary="Create a payout offer, or a queued payout with autoApprove (Bitclear)",
    response_description="The payout, in Bitclear's shape: an offer (`NEW`) with its "
    "`expirationTime`, or `QUEUED` with autoApprove",
    description=_DOC,
    responses=errors.responses(
        *_AUTH_ERRORS,
        *creation.PRICING_ERRORS,
        "insufficient_funds",
        "bad_request",
        "payload_too_large",
    ),
)
async def create(body: PayoutRequest, request: Request, principal: Payer) -> _BitclearJSON:
    rt = _rt(request)
    if (body.transferAmount is None) == (body.priceAmount is None):
        raise field_error(
            "validation_error",
            "transferAmount",
            "Give exactly one of transferAmount (the crypto sent) and priceAmount (fiat)",
        )
    price_currency = rt.ctx.currency(body.priceCurrency, field="priceCurrency").code
    transfer_currency = body.transferCurrency.upper()
    async with rt.db.read() as uow:
        held = await uow.ledger.balance(principal.merchant_id, price_currency)
    # the fiat statement when the merchant keeps that balance; else the crypto's own
    charged = price_currency if held is not None else transfer_currency
    common: dict[str, Any] = {
        "address": body.address,
        "balance_currency": charged,
        "approval": "auto" if body.autoApprove else "manual",
        "comment": body.comment,
        "callback_url": body.notificationUrl,
    }
    if body.transferAmount is not None:
        req = payouts.PayoutRequest(
            amount=body.transferAmount, currency=transfer_currency, **common
        )
    else:
        assert body.priceAmount is not None
        # the seed's statement entry for "100 USD" is 100: the fees come out of what is
        # sent, as an exact transferAmount has them on top
        req = payouts.PayoutRequest(
            amount=body.priceAmount,
            currency=price_currency,
            payout_currency=transfer_currency,
            fee_mode="from_amount",
            **common,
        )
    priced = body.priceAmount is not None
    try:
        quote = await creation.price(rt, principal, req)
    except PayoutdError as err:
        err.fields = words.fields(err.fields, priced)
        raise
    price = await _price(rt, quote, price_currency, body.priceAmount)
    hook = creation.recording(DIALECT, principal.key.id, price)
    try:
        _, view = await creation.place(
            request.app.state.intake, principal, quote, in_transaction=hook
        )
    except PayoutdError as err:
        err.fields = words.fields(err.fields, priced)
        raise
    return _respond(words.payout(view, principal.merchant_id, price), 201)


async def _price(
    rt: Runtime, quote: payouts.Quote, price_currency: str, asked: Decimal | None
) -> dict[str, Any]:
    """What the merchant's statement shows for this payout: the debit, when it is charged
    in `priceCurrency`; else the fiat asked for, or the debit's worth in it."""
    plan = quote.plan
    decimals = CURRENCIES[price_currency].decimals if price_currency in CURRENCIES else 2
    if plan.debit_currency == price_currency:
        amount: Decimal | None = plan.debit_amount
    elif asked is not None:
        amount = asked
    else:
        amount = await limits.worth(rt.ctx, plan.debit_amount, plan.debit_currency, price_currency)
    shown = None if amount is None else fmt(quantize(amount, decimals, ROUND_CREDIT))
    return {"priceCurrency": price_currency, "priceAmount": shown}


async def _approve(request: Request, principal: Principal, payout_id: str) -> _BitclearJSON:
    rt = _rt(request)
    async with rt.db.unit() as uow:
        payout, approved = await payouts.approve_offer(
            uow, rt.ctx, principal.merchant_id, payout_id, principal.policy
        )
    if not approved:
        # committed as EXPIRED; the answer is the seed's error after expirationTime
        raise PayoutdError(
            "quote_expired", f"The offer expired at {payout.expires_at}; its state is EXPIRED"
        )
    return _respond((await _views(rt, principal.merchant_id, [payout]))[0])


# 413: answered by payoutd before the body is read (payoutd.api.body_limit)
_APPROVE_ERRORS = errors.responses(
    *_AUTH_ERRORS,
    "not_found",
    "invalid_transition",
    "insufficient_funds",
    "quote_expired",
    "bad_request",
    "payload_too_large",
)


@router.post(
    "/payouts/approve",
    summary="Approve an offer by its payoutId (Bitclear)",
    response_description="The approved payout, `QUEUED`",
    description=_DOC,
    responses=_APPROVE_ERRORS,
)
async def approve(body: Approval, request: Request, principal: Payer) -> _BitclearJSON:
    return await _approve(request, principal, body.payoutId)


@router.post(
    "/payouts/{payout_id}/approve",
    summary="Approve an offer, with an empty body (Bitclear)",
    response_description="The approved payout, `QUEUED`",
    description=_DOC,
    responses=_APPROVE_ERRORS,
)
async def approve_by_path(payout_id: PayoutId, request: Request, principal: Payer) -> _BitclearJSON:
    return await _approve(request, principal, payout_id)


@router.get(
    "/payouts",
    summary="List payouts, newest first (Bitclear)",
    response_description='`{"payouts": [...], "nextCursor": ...}`',
    description=_DOC + " Pages: `?limit=` (default 50) and `?cursor=<nextCursor>`.",
    responses=errors.responses(*_AUTH_ERRORS, "invalid_cursor"),
)
async def list_payouts(
    request: Request,
    principal: Reader,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> _BitclearJSON:
    rt = _rt(request)
    async with rt.db.read() as uow:
        rows = await uow.payouts.page(
            principal.merchant_id, before_id=pagination.decode(cursor), limit=limit + 1
        )
    page, next_cursor = pagination.cut(rows, limit, lambda p: p.id)
    return _respond(
        {"payouts": await _views(rt, principal.merchant_id, page), "nextCursor": next_cursor}
    )


class _PayoutId(Convertor[str]):
    """A payout id in a path: any segment but `approve`, which is the approval call
    (`POST /payouts/approve`): so a GET there is no payout to read, and its 405 lists POST
    alone, as the document does."""

    regex = "(?!approve$)[^/]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("bitclear_payout_id", _PayoutId())


@router.get(
    "/payouts/{payout_id:bitclear_payout_id}",
    summary="Retrieve a payout (Bitclear)",
    response_description="The payout, in Bitclear's shape",
    description=_DOC,
    responses=errors.responses(*_AUTH_ERRORS, "not_found"),
)
async def get_payout(payout_id: PayoutId, request: Request, principal: Reader) -> _BitclearJSON:
    rt = _rt(request)
    async with rt.db.read() as uow:
        found = await payouts.get(uow, principal.merchant_id, payout_id)
    return _respond((await _views(rt, principal.merchant_id, [found]))[0])


@router.get(
    "/payout-limits",
    summary="What can be paid out, in BTC or ?currency= (Bitclear)",
    response_description="`{available, minPayoutAmount, currency}`",
    description=_DOC,
    responses=errors.responses(*_AUTH_ERRORS, "currency_not_found", "rate_unavailable"),
)
async def payout_limits(
    request: Request,
    principal: Reader,
    currency: Annotated[
        str | None,
        Query(description="The currency to express the limits in; left out: BTC", examples=["USD"]),
    ] = None,
) -> _BitclearJSON:
    rt = _rt(request)
    async with rt.db.read() as uow:
        balances = await uow.ledger.balances(principal.merchant_id)
    lim = await limits.limits(rt.ctx, currency or DEFAULT_LIMITS_CURRENCY, balances)
    return _respond(
        {
            "available": words.number(fmt(lim.available)),
            "minPayoutAmount": words.number(fmt(lim.min_payout_amount)),
            "currency": lim.currency,
        }
    )
