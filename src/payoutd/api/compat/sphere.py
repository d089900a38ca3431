"""Sphere's API over payoutd's own use cases, at `/compat/sphere/v1/`.

Authentication is `Authorization: Bearer <API key>`, the native API's own keys and rules
(payoutd.api.auth). Every answer is Sphere's envelope (payoutd.dialects.sphere), refusals
included: `ok: false`, the HTTP status in `statusCode`, payoutd's stable code in `error`.

This module translates and nothing else: customers, bank accounts and wallets are made
and read by services.parties, as through the native API. `router` is Sphere's whole
mount: the payout routes join it (`answer` gives any route the envelope)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from payoutd.api import errors
from payoutd.api.auth import Principal, require
from payoutd.api.responses import JSONResponse
from payoutd.api.v1.params import BankAccountId, CustomerId, WalletId
from payoutd.bootstrap import Runtime
from payoutd.dialects import sphere as words
from payoutd.domain.errors import PayoutdError
from payoutd.services import parties

PREFIX = "/compat/sphere/v1"
M = TypeVar("M", bound=BaseModel)
Work = Callable[[Principal], Awaitable[tuple[str, dict[str, Any]]]]


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


def _refusal(err: PayoutdError) -> tuple[int, str, str]:
    return err.status, err.code, words.refusal_message(err.message, err.fields)


async def answer(request: Request, scope: str, work: Work) -> Response:
    """`work` for the Bearer key's principal (needing `scope`), its `(name, object)` in
    Sphere's envelope as `data: {name: object}`; any refusal, the key's too, in the same
    envelope."""
    rt = _rt(request)
    request_id = words.new_request_id()
    headers: dict[str, str] | None = None
    try:
        principal = await require(scope)(request)
        name, obj = await work(principal)
    except PayoutdError as err:
        status, code, message = _refusal(err)
        headers = err.headers or None
    else:
        body = words.success({name: obj}, rt.ctx.clock.now(), request_id)
        return JSONResponse(body, status_code=200)
    body = words.failure(status, code, message, rt.ctx.clock.now(), request_id)
    return JSONResponse(body, status_code=status, headers=headers)


async def parse(request: Request, model: type[M]) -> M:
    """The body as `model`, or the refusal a native request would get (`bad_request` for
    text that is not JSON, else `validation_error` naming the field in Sphere's words)."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw or b"{}")
    except ValidationError as exc:
        problems = exc.errors()
        if any(p.get("type") == "json_invalid" for p in problems):
            raise PayoutdError("bad_request", "The request body is not valid JSON") from None
        first = problems[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise PayoutdError(
            "validation_error", f"{where}: {message}", fields={where: [message]}
        ) from None


# -- requests, in Sphere's field names ---------------------------------------------------

_Meta: Any = Field(
    default_factory=dict,
    max_length=parties.MAX_META_PAIRS,
    description="Key-value pairs of your own (at most 50 keys)",
    examples=[{"crm": "42"}],
)
_LookupKey = Field(
    default=None,
    max_length=200,
    description="A key of your own to find the object by",
    examples=["user-42"],
)
_Customer = Field(
    min_length=1,
    max_length=48,
    description="The customer's id",
    examples=["customer_f5bd32a916584675b739b8e2301f1480"],
)


class CustomerCreate(BaseModel):
    # Sphere's clients may send fields payoutd does not keep (phone, address): ignored
    model_config = ConfigDict(extra="ignore")

    type: Literal["individual", "business"] = Field(
        description="A person or a company", examples=["individual"]
    )
    name: str | None = Field(
        default=None, max_length=200, description="The customer's name", examples=["Ada Lovelace"]
    )
    firstName: str | None = Field(
        default=None, max_length=100, description="With lastName, instead of name", examples=["Ada"]
    )
    lastName: str | None = Field(
        default=None, max_length=100, description="With firstName", examples=["Lovelace"]
    )
    email: str | None = Field(
        default=None, max_length=254, description="Contact address", examples=["ada@example.com"]
    )
    meta: dict[str, Any] = _Meta
    lookupKey: str | None = _LookupKey


class BankAccountCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer: str = _Customer
    currency: Literal["usd", "eur"] = Field(
        description="`usd` (ACH, wire) or `eur` (SEPA)", examples=["usd"]
    )
    accountHolderName: str | None = Field(
        default=None, max_length=200, description="The account holder", examples=["Ada Lovelace"]
    )
    accountName: str | None = Field(
        default=None,
        max_length=200,
        description="The account's name; the holder when accountHolderName is absent",
        examples=["Ada Lovelace"],
    )
    bankName: str = Field(
        default="", max_length=200, description="The bank", examples=["Lead Bank"]
    )
    bankAddressString: str | None = Field(
        default=None,
        max_length=300,
        description="The bank's address",
        examples=["1801 Main St. Kansas City MO 64108"],
    )
    accountNumber: str | None = Field(
        default=None, max_length=40, description="usd: 4 to 17 digits", examples=["1000682035"]
    )
    routingNumber: str | None = Field(
        default=None, max_length=20, description="usd: ABA routing number", examples=["101206101"]
    )
    accountType: Literal["checking", "savings"] = Field(
        default="checking", description="usd: ACH account type", examples=["checking"]
    )
    iban: str | None = Field(
        default=None, max_length=50, description="eur: IBAN", examples=["DE89370400440532013000"]
    )
    bic: str | None = Field(
        default=None, max_length=20, description="eur: BIC", examples=["COBADEFFXXX"]
    )
    meta: dict[str, Any] = _Meta
    lookupKey: str | None = _LookupKey


class WalletCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    customer: str = _Customer
    network: Literal["sol", "ethereum", "base"] = Field(
        description="The wallet's chain", examples=["sol"]
    )
    currency: Literal["usdc", "usdt"] = Field(description="The stablecoin", examples=["usdc"])
    address: str = Field(
        min_length=1,
        max_length=128,
        description="Checked by the network's own rules",
        examples=["7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"],
    )
    meta: dict[str, Any] = _Meta
    lookupKey: str | None = _LookupKey


# -- answers, as OpenAPI documents them -------------------------------------------------


class SphereEnvelope(BaseModel):
    """Every answer of Sphere's dialect."""

    ok: bool = Field(description="true on success, false on a refusal", examples=[True])
    object: str = Field(description='Always "object"', examples=["object"])
    statusCode: int = Field(description="The HTTP status, repeated", examples=[200])
    error: str | None = Field(
        description="null on success; else payoutd's stable error code (docs/errors.md)",
        examples=[None],
    )
    message: str = Field(description='"success", or what was refused and why', examples=["success"])
    data: dict[str, Any] | None = Field(
        description="On success the object under its name (`customer`, `bankAccount`, "
        "`wallet`, `payout`); null on a refusal",
        examples=[{"customer": {"id": "customer_f5bd32a916584675b739b8e2301f1480"}}],
    )
    ts: str = Field(
        description="When it was answered: ISO 8601, UTC, milliseconds",
        examples=["2024-08-13T13:57:18.580Z"],
    )
    request: str = Field(
        description="This request's id: `request_` and 32 hex digits",
        examples=["request_0abb672dad5446d3b9f016ec77dd13b0"],
    )


def envelope_responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a Sphere route: its 200 and each refusal's status, every
    one the envelope (the refusals' codes named as the native API names them)."""
    documented = errors.responses(*codes)
    for response in documented.values():
        response["model"] = SphereEnvelope
    return {200: {"model": SphereEnvelope, "description": "Success"}, **documented}


# -- routes ------------------------------------------------------------------------------

_DOC = (
    "Sphere's wire format: `Authorization: Bearer <API key>`; every answer, refusals too, "
    "is the envelope `{ok, object, statusCode, error, message, data, ts, request}`."
)
_AUTH_ERRORS = ("unauthorized", "forbidden_scope", "ip_not_allowed", "rate_limited")
_WRITE_ERRORS = (*_AUTH_ERRORS, "validation_error", "bad_request", "payload_too_large")


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with each `#/$defs/X` reference replaced by X itself: in the OpenAPI
    document such a reference would point at the document's root, where no $defs are."""
    if isinstance(node, list):
        return [_inline(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_inline(defs[ref.removeprefix("#/$defs/")], defs), **rest}
    return {k: _inline(v, defs) for k, v in node.items()}


def _body(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _inline(schema, defs)}},
        }
    }


router = APIRouter(prefix=PREFIX, tags=["Sphere dialect"])


@router.post(
    "/customer",
    summary="Create a customer (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_WRITE_ERRORS),
    openapi_extra=_body(CustomerCreate),
)
async def create_customer(request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        body = await parse(request, CustomerCreate)
        joined = " ".join(p for p in (body.firstName, body.lastName) if p)
        req = parties.CustomerRequest(
            type=body.type,
            name=body.name or joined,
            email=body.email,
            meta=body.meta,
            lookup_key=body.lookupKey,
        )
        async with rt.db.unit() as uow:
            made = await parties.create_customer(uow, rt.ctx, principal.merchant_id, req)
        return "customer", words.customer(made)

    return await answer(request, "payouts", work)


@router.get(
    "/customer/{customer_id}",
    summary="Retrieve a customer (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_AUTH_ERRORS, "not_found"),
)
async def get_customer(customer_id: CustomerId, request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        async with rt.db.read() as uow:
            found = await parties.get_customer(uow, principal.merchant_id, customer_id)
        return "customer", words.customer(found)

    return await answer(request, "read", work)


@router.post(
    "/bankAccount",
    summary="Create a bank account (Sphere)",
    description=_DOC,
    responses=envelope_responses(
        *_WRITE_ERRORS,
        "invalid_routing_number",
        "invalid_account_number",
        "invalid_iban",
        "invalid_bic",
        "customer_not_found",
    ),
    openapi_extra=_body(BankAccountCreate),
)
async def create_bank_account(request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        body = await parse(request, BankAccountCreate)
        req = parties.BankAccountRequest(
            customer_id=body.customer,
            currency=body.currency,
            holder_name=body.accountHolderName or body.accountName or "",
            bank_name=body.bankName,
            routing_number=body.routingNumber,
            account_number=body.accountNumber,
            account_type=body.accountType,
            iban=body.iban,
            bic=body.bic,
            bank_address=body.bankAddressString,
            meta=body.meta,
            lookup_key=body.lookupKey,
        )
        async with rt.db.unit() as uow:
            made = await parties.create_bank_account(uow, rt.ctx, principal.merchant_id, req)
        return "bankAccount", words.bank_account(made)

    return await answer(request, "payouts", work)


@router.get(
    "/bankAccount/{account_id}",
    summary="Retrieve a bank account, a customer's or a funding account (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_AUTH_ERRORS, "not_found"),
)
async def get_bank_account(account_id: BankAccountId, request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        async with rt.db.read() as uow:
            found = await parties.find_bank_account(uow, rt.ctx, principal.merchant_id, account_id)
        return "bankAccount", words.bank_account(found)

    return await answer(request, "read", work)


@router.post(
    "/wallet",
    summary="Create a wallet (Sphere)",
    description=_DOC,
    responses=envelope_responses(
        *_WRITE_ERRORS, "invalid_address", "customer_not_found", "service_not_found"
    ),
    openapi_extra=_body(WalletCreate),
)
async def create_wallet(request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        body = await parse(request, WalletCreate)
        req = parties.WalletRequest(
            customer_id=body.customer,
            network=body.network,
            currency=body.currency,
            address=body.address,
            meta=body.meta,
            lookup_key=body.lookupKey,
        )
        async with rt.db.unit() as uow:
            made = await parties.create_wallet(uow, rt.ctx, principal.merchant_id, req)
        return "wallet", words.wallet(made)

    return await answer(request, "payouts", work)


@router.get(
    "/wallet/{wallet_id}",
    summary="Retrieve a wallet, a customer's or a funding wallet (Sphere)",
    description=_DOC,
    responses=envelope_responses(*_AUTH_ERRORS, "not_found"),
)
async def get_wallet(wallet_id: WalletId, request: Request) -> Response:
    rt = _rt(request)

    async def work(principal: Principal) -> tuple[str, dict[str, Any]]:
        async with rt.db.read() as uow:
            found = await parties.find_wallet(uow, rt.ctx, principal.merchant_id, wallet_id)
        return "wallet", words.wallet(found)

    return await answer(request, "read", work)
