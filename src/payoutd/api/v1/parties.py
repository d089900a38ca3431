"""/v1/customers, /v1/bank-accounts, /v1/wallets: the parties of ramp payouts (Sphere),
and the operator's `POST /v1/admin/customers/{id}/kyc`.

Translation only: every rule is services.parties'. Lists are newest first and page with
`cursor` as `/v1/payouts` does; `lookup_key` filters them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from payoutd.api import idempotency, reads
from payoutd.api.auth import Principal, require
from payoutd.api.errors import responses
from payoutd.api.responses import JSONResponse
from payoutd.api.v1 import pagination
from payoutd.api.v1.params import (
    BANK_ACCOUNT_ID_EXAMPLE,
    CUSTOMER_ID_EXAMPLE,
    WALLET_ID_EXAMPLE,
    BankAccountCursor,
    BankAccountId,
    CustomerCursor,
    CustomerFilter,
    CustomerId,
    IdempotencyKey,
    Limit,
    LookupKeyFilter,
    WalletCursor,
    WalletId,
)
from payoutd.bootstrap import Runtime
from payoutd.domain.parties import BANK_ACCOUNT_PREFIX, CUSTOMER_PREFIX, WALLET_PREFIX
from payoutd.services import parties
from payoutd.services.ports import UnitOfWork
from payoutd.services.views import bank_account_view, customer_view, wallet_view

router = APIRouter(prefix="/v1", tags=["parties"])
admin_router = APIRouter(
    prefix="/v1/admin",
    tags=["operator"],
    dependencies=[Depends(reads.forget_after_changes, scope="function")],
)

Meta = Annotated[
    dict[str, Any],
    Field(
        max_length=parties.MAX_META_PAIRS,
        description="Key-value pairs of your own, kept with the object (at most 50 keys)",
        examples=[{"crm_id": "42"}],
    ),
]
LookupKey = Annotated[
    str | None,
    Field(
        max_length=200,
        description="A key of your own; lists filter by it (`?lookup_key=`)",
        examples=["user-42"],
    ),
]
CustomerRef = Annotated[
    str,
    Field(
        min_length=1,
        max_length=48,
        description="The id of the customer it belongs to (`customer_` and 32 hex digits), "
        "one of yours; another is 404 `customer_not_found`",
        examples=[CUSTOMER_ID_EXAMPLE],
    ),
]
Created = Annotated[
    str, Field(description="When it was created (RFC 3339, UTC)", examples=["2026-12-08T01:00:00Z"])
]
Updated = Annotated[
    str,
    Field(description="When it last changed (RFC 3339, UTC)", examples=["2026-12-08T01:00:00Z"]),
]
NextCursor = Annotated[
    str | None,
    Field(description="Pass as `cursor` for the next page; null on the last", examples=[None]),
]
Status = Annotated[
    Literal["active", "disabled"],
    Field(
        description="`active`: payouts may go to (or come from) it; `disabled`: after "
        "`POST .../disable`, it stays readable but takes no new payouts",
        examples=["active"],
    ),
]


class CustomerCreate(BaseModel):
    """A customer to create: the person or company your ramp payouts are for. Its KYC
    status starts `pending`."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["individual", "business"] = Field(
        description="A person or a company", examples=["individual"]
    )
    name: str = Field(
        min_length=1, max_length=200, description="The customer's name", examples=["Ada Lovelace"]
    )
    email: str | None = Field(
        default=None, max_length=254, description="Contact address", examples=["ada@example.com"]
    )
    meta: Meta = {}
    lookup_key: LookupKey = None


class CustomerOut(BaseModel):
    """A customer: the person or company bank accounts and wallets belong to."""

    id: str = Field(
        description="`customer_` and 32 hex digits",
        examples=[CUSTOMER_ID_EXAMPLE],
    )
    type: str = Field(description="`individual` or `business`", examples=["individual"])
    name: str = Field(description="The customer's name", examples=["Ada Lovelace"])
    email: str | None = Field(
        description="Contact address; null when none was given", examples=["ada@example.com"]
    )
    kyc_status: str = Field(
        description="The operator's KYC decision: `pending` (every new customer, until "
        "the operator decides), `approved` or `rejected`; set only through "
        "`POST /v1/admin/customers/{customer_id}/kyc`",
        examples=["pending"],
    )
    meta: dict[str, Any] = Field(description="Your key-value pairs", examples=[{}])
    lookup_key: str | None = Field(
        description="Your lookup key; null when none was given", examples=["user-42"]
    )
    created_at: Created
    updated_at: Updated


class CustomerList(BaseModel):
    """A page of your customers, newest first."""

    data: list[CustomerOut] = Field(description="Newest first", examples=[[]])
    next_cursor: NextCursor


class BankAccountCreate(BaseModel):
    """A customer's bank account to add. `usd` takes `routing_number` and
    `account_number` (ACH and wire); `eur` takes `iban` and `bic` (SEPA)."""

    model_config = ConfigDict(extra="forbid")

    customer: CustomerRef
    currency: Literal["usd", "eur"] = Field(
        description="`usd` (ACH and wire: routing and account number) or `eur` (SEPA: IBAN "
        "and BIC)",
        examples=["usd"],
    )
    holder_name: str = Field(
        min_length=1, max_length=200, description="The account holder", examples=["Ada Lovelace"]
    )
    bank_name: str = Field(
        default="", max_length=200, description="The bank's name", examples=["Lead Bank"]
    )
    bank_address: str | None = Field(
        default=None,
        max_length=300,
        description="The bank's address, as one line",
        examples=["1801 Main St. Kansas City MO 64108"],
    )
    routing_number: str | None = Field(
        default=None,
        max_length=20,
        description="usd: the 9-digit ABA routing number (its check digit is verified)",
        examples=["101206101"],
    )
    account_number: str | None = Field(
        default=None, max_length=40, description="usd: 4 to 17 digits", examples=["1000682035"]
    )
    account_type: Literal["checking", "savings"] = Field(
        default="checking", description="usd: the ACH account type", examples=["checking"]
    )
    iban: str | None = Field(
        default=None,
        max_length=50,
        description="eur: the IBAN of a SEPA country (check digits and structure verified)",
        examples=["DE89370400440532013000"],
    )
    bic: str | None = Field(
        default=None,
        max_length=20,
        description="eur: the bank's BIC, of the IBAN's country",
        examples=["COBADEFFXXX"],
    )
    meta: Meta = {}
    lookup_key: LookupKey = None


class BankAccountOut(BaseModel):
    """A bank account: a customer's (its numbers shown by their last four digits), or one
    of the operator's funding accounts (`funding: true`, shown in full: your customers pay
    into it)."""

    id: str = Field(
        description="`bankAccount_` and 32 hex digits",
        examples=[BANK_ACCOUNT_ID_EXAMPLE],
    )
    customer: str | None = Field(
        description="The customer's id; null for a funding account",
        examples=[CUSTOMER_ID_EXAMPLE],
    )
    currency: str = Field(description="`usd` or `eur`", examples=["usd"])
    networks: list[str] = Field(
        description="The rails that move money to and from it: `ach`, `achPull`, "
        "`achPush` and `wire` for `usd`, `sepa` for `eur` (a funding account may be "
        "configured for some of them only)",
        examples=[["ach", "achPull", "achPush", "wire"]],
    )
    status: Status
    holder_name: str = Field(description="The account holder", examples=["Ada Lovelace"])
    bank_name: str = Field(description="The bank's name", examples=["Lead Bank"])
    bank_address: str | None = Field(
        description="The bank's address, as one line; null when none was given",
        examples=["1801 Main St. Kansas City MO 64108"],
    )
    account_type: str = Field(
        description="`checking` or `savings` (meaningful for `usd` only)", examples=["checking"]
    )
    routing_number: str | None = Field(
        description="usd: the 9-digit ABA routing number; null for `eur`",
        examples=["101206101"],
    )
    account_number: str | None = Field(
        description="usd: the account number, shown as `********` and its last four "
        "digits for a customer's account, in full for a funding account; null for `eur`",
        examples=["********2035"],
    )
    iban: str | None = Field(
        description="eur: the IBAN, shown as `********` and its last four characters for "
        "a customer's account, in full for a funding account; null for `usd`",
        examples=[None],
    )
    bic: str | None = Field(description="eur: the bank's BIC; null for `usd`", examples=[None])
    last4: str = Field(
        description="The last four characters of the account number (usd) or IBAN (eur)",
        examples=["2035"],
    )
    funding: bool = Field(
        description="One of the operator's funding accounts (configuration, read-only)",
        examples=[False],
    )
    meta: dict[str, Any] = Field(description="Your key-value pairs", examples=[{}])
    lookup_key: str | None = Field(
        description="Your lookup key; null when none was given", examples=[None]
    )
    created_at: Created
    updated_at: Updated


class BankAccountList(BaseModel):
    """A page of your customers' bank accounts, newest first (funding accounts are read
    one by one, by id)."""

    data: list[BankAccountOut] = Field(description="Newest first", examples=[[]])
    next_cursor: NextCursor


class WalletCreate(BaseModel):
    """A customer's stablecoin wallet to add: an address on one network, for one
    currency."""

    model_config = ConfigDict(extra="forbid")

    customer: CustomerRef
    network: Literal["sol", "ethereum", "base"] = Field(
        description="The chain the wallet is on", examples=["sol"]
    )
    currency: Literal["usdc", "usdt"] = Field(
        description="The stablecoin it takes", examples=["usdc"]
    )
    address: str = Field(
        min_length=1,
        max_length=128,
        description="Checked by the network's own rules (EVM addresses come back EIP-55 "
        "checksummed)",
        examples=["7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"],
    )
    meta: Meta = {}
    lookup_key: LookupKey = None


class WalletOut(BaseModel):
    """A stablecoin wallet: a customer's, or one of the operator's funding wallets
    (`funding: true`)."""

    id: str = Field(
        description="`wallet_` and 32 hex digits",
        examples=[WALLET_ID_EXAMPLE],
    )
    customer: str | None = Field(
        description="The customer's id; null for a funding wallet",
        examples=[CUSTOMER_ID_EXAMPLE],
    )
    network: str = Field(description="`sol`, `ethereum` or `base`", examples=["sol"])
    currency: str = Field(description="`usdc` or `usdt`", examples=["usdc"])
    address: str = Field(
        description="The wallet's address on `network` (EVM addresses EIP-55 checksummed)",
        examples=["7hPhaUpydpvm8wtiS3k4LPZKUmivQRs7YQmpE1hFshHx"],
    )
    status: Status
    funding: bool = Field(
        description="One of the operator's funding wallets (configuration, read-only)",
        examples=[False],
    )
    meta: dict[str, Any] = Field(description="Your key-value pairs", examples=[{}])
    lookup_key: str | None = Field(
        description="Your lookup key; null when none was given", examples=[None]
    )
    created_at: Created
    updated_at: Updated


class WalletList(BaseModel):
    """A page of your customers' wallets, newest first (funding wallets are read one by
    one, by id)."""

    data: list[WalletOut] = Field(description="Newest first", examples=[[]])
    next_cursor: NextCursor


class KycSet(BaseModel):
    """The operator's KYC decision on a customer (kept in the audit log)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["pending", "approved", "rejected"] = Field(
        description="The operator's KYC decision", examples=["approved"]
    )


def _rt(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


Reader = Annotated[Principal, Depends(require("read"))]
Writer = Annotated[Principal, Depends(require("payouts"))]
WRITE_ERRORS = (
    "unauthorized",
    "forbidden_scope",
    "validation_error",
    "idempotency_conflict",
    "idempotency_in_progress",
)
LIST_ERRORS = ("unauthorized", "forbidden_scope", "validation_error", "invalid_cursor")
READ_ERRORS = ("unauthorized", "forbidden_scope", "not_found")


async def _write(
    request: Request,
    principal: Principal,
    status: int,
    work: Callable[[UnitOfWork], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """A change in its own transaction, safe to retry with an Idempotency-Key."""

    async def answer(uow: UnitOfWork) -> tuple[int, Any]:
        return status, await work(uow)

    return await idempotency.run(request, _rt(request), principal.merchant_id, answer)


# -- customers -------------------------------------------------------------------------


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    responses=responses(*WRITE_ERRORS),
    tags=["parties"],
    summary="Create a customer (KYC pending until the operator decides)",
)
async def create_customer(
    body: CustomerCreate,
    request: Request,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Its `kyc_status` starts `pending`; only the operator changes it. Safe to retry
    with an `Idempotency-Key`."""
    rt = _rt(request)
    req = parties.CustomerRequest(
        type=body.type,
        name=body.name,
        email=body.email,
        meta=body.meta,
        lookup_key=body.lookup_key,
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return customer_view(await parties.create_customer(uow, rt.ctx, principal.merchant_id, req))

    return await _write(request, principal, 201, work)


@router.get(
    "/customers",
    response_model=CustomerList,
    responses=responses(*LIST_ERRORS),
    summary="List customers, newest first",
)
async def list_customers(
    request: Request,
    principal: Reader,
    lookup_key: LookupKeyFilter = None,
    cursor: CustomerCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your customers, newest first, in pages of `limit`: pass `next_cursor` as
    `cursor` for the next."""
    before = pagination.decode_party(cursor, CUSTOMER_PREFIX)
    async with _rt(request).db.read() as uow:
        rows = await parties.list_customers(
            uow, principal.merchant_id, lookup_key=lookup_key, before_id=before, limit=limit + 1
        )
    page, next_cursor = pagination.cut(rows, limit, lambda c: c.id)
    return {"data": [customer_view(c) for c in page], "next_cursor": next_cursor}


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    responses=responses(*READ_ERRORS),
    summary="Retrieve a customer",
)
async def get_customer(
    customer_id: CustomerId, request: Request, principal: Reader
) -> dict[str, Any]:
    """One of your customers; another merchant's is 404 `not_found`."""
    async with _rt(request).db.read() as uow:
        return customer_view(await parties.get_customer(uow, principal.merchant_id, customer_id))


# -- bank accounts ---------------------------------------------------------------------


@router.post(
    "/bank-accounts",
    status_code=201,
    response_model=BankAccountOut,
    responses=responses(
        *WRITE_ERRORS,
        "invalid_routing_number",
        "invalid_account_number",
        "invalid_iban",
        "invalid_bic",
        "customer_not_found",
    ),
    summary="Add a bank account to a customer (usd: ACH/wire, eur: SEPA)",
)
async def create_bank_account(
    body: BankAccountCreate,
    request: Request,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The numbers are checked before anything is stored: a `usd` account needs a
    valid ABA routing number (check digit) and a 4 to 17 digit account number, an `eur`
    account a valid IBAN of a SEPA country and a BIC of that country. The customer must be
    yours. Safe to retry with an `Idempotency-Key`."""
    rt = _rt(request)
    req = parties.BankAccountRequest(
        customer_id=body.customer,
        currency=body.currency,
        holder_name=body.holder_name,
        bank_name=body.bank_name,
        routing_number=body.routing_number,
        account_number=body.account_number,
        account_type=body.account_type,
        iban=body.iban,
        bic=body.bic,
        bank_address=body.bank_address,
        meta=body.meta,
        lookup_key=body.lookup_key,
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return bank_account_view(
            await parties.create_bank_account(uow, rt.ctx, principal.merchant_id, req)
        )

    return await _write(request, principal, 201, work)


@router.get(
    "/bank-accounts",
    response_model=BankAccountList,
    responses=responses(*LIST_ERRORS),
    summary="List your customers' bank accounts, newest first",
)
async def list_bank_accounts(
    request: Request,
    principal: Reader,
    lookup_key: LookupKeyFilter = None,
    customer: CustomerFilter = None,
    cursor: BankAccountCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your customers' bank accounts, newest first, in pages of `limit`; filter by
    `customer` and `lookup_key`. Numbers are shown by their last four digits."""
    before = pagination.decode_party(cursor, BANK_ACCOUNT_PREFIX)
    async with _rt(request).db.read() as uow:
        rows = await parties.list_bank_accounts(
            uow,
            principal.merchant_id,
            lookup_key=lookup_key,
            customer_id=customer,
            before_id=before,
            limit=limit + 1,
        )
    page, next_cursor = pagination.cut(rows, limit, lambda a: a.id)
    return {"data": [bank_account_view(a) for a in page], "next_cursor": next_cursor}


@router.get(
    "/bank-accounts/{account_id}",
    response_model=BankAccountOut,
    responses=responses(*READ_ERRORS),
    summary="Retrieve a bank account (a customer's, or one of the operator's funding accounts)",
)
async def get_bank_account(
    account_id: BankAccountId, request: Request, principal: Reader
) -> dict[str, Any]:
    """A customer's account shows its numbers by their last four digits; a funding
    account (`funding: true`) shows them in full, for your customers to pay into."""
    rt = _rt(request)
    async with rt.db.read() as uow:
        return bank_account_view(
            await parties.find_bank_account(uow, rt.ctx, principal.merchant_id, account_id)
        )


@router.post(
    "/bank-accounts/{account_id}/disable",
    response_model=BankAccountOut,
    responses=responses(*WRITE_ERRORS, "not_found"),
    summary="Disable a bank account: it stays readable, and takes no new payouts",
)
async def disable_bank_account(
    account_id: BankAccountId,
    request: Request,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Disabling a disabled account answers it unchanged. Funding accounts are the
    operator's configuration: disabling one is 404 `not_found`."""
    rt = _rt(request)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return bank_account_view(
            await parties.disable_bank_account(uow, rt.ctx, principal.merchant_id, account_id)
        )

    return await _write(request, principal, 200, work)


# -- wallets ---------------------------------------------------------------------------


@router.post(
    "/wallets",
    status_code=201,
    response_model=WalletOut,
    responses=responses(
        *WRITE_ERRORS, "invalid_address", "customer_not_found", "service_not_found"
    ),
    summary="Add a stablecoin wallet to a customer (usdc/usdt on sol, ethereum, base)",
)
async def create_wallet(
    body: WalletCreate,
    request: Request,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """The address is checked by the network's own rules, as every payout address is
    (400 `invalid_address`); a network this payoutd does not run is `service_not_found`.
    The customer must be yours. Safe to retry with an `Idempotency-Key`."""
    rt = _rt(request)
    req = parties.WalletRequest(
        customer_id=body.customer,
        network=body.network,
        currency=body.currency,
        address=body.address,
        meta=body.meta,
        lookup_key=body.lookup_key,
    )

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return wallet_view(await parties.create_wallet(uow, rt.ctx, principal.merchant_id, req))

    return await _write(request, principal, 201, work)


@router.get(
    "/wallets",
    response_model=WalletList,
    responses=responses(*LIST_ERRORS),
    summary="List your customers' wallets, newest first",
)
async def list_wallets(
    request: Request,
    principal: Reader,
    lookup_key: LookupKeyFilter = None,
    customer: CustomerFilter = None,
    cursor: WalletCursor = None,
    limit: Limit = 50,
) -> dict[str, Any]:
    """Your customers' wallets, newest first, in pages of `limit`; filter by
    `customer` and `lookup_key`."""
    before = pagination.decode_party(cursor, WALLET_PREFIX)
    async with _rt(request).db.read() as uow:
        rows = await parties.list_wallets(
            uow,
            principal.merchant_id,
            lookup_key=lookup_key,
            customer_id=customer,
            before_id=before,
            limit=limit + 1,
        )
    page, next_cursor = pagination.cut(rows, limit, lambda w: w.id)
    return {"data": [wallet_view(w) for w in page], "next_cursor": next_cursor}


@router.get(
    "/wallets/{wallet_id}",
    response_model=WalletOut,
    responses=responses(*READ_ERRORS),
    summary="Retrieve a wallet (a customer's, or one of the operator's funding wallets)",
)
async def get_wallet(wallet_id: WalletId, request: Request, principal: Reader) -> dict[str, Any]:
    """A customer's wallet, or one of the operator's funding wallets (`funding:
    true`), which off-ramp customers send their stablecoins to."""
    rt = _rt(request)
    async with rt.db.read() as uow:
        return wallet_view(await parties.find_wallet(uow, rt.ctx, principal.merchant_id, wallet_id))


@router.post(
    "/wallets/{wallet_id}/disable",
    response_model=WalletOut,
    responses=responses(*WRITE_ERRORS, "not_found"),
    summary="Disable a wallet: it stays readable, and takes no new payouts",
)
async def disable_wallet(
    wallet_id: WalletId,
    request: Request,
    principal: Writer,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Disabling a disabled wallet answers it unchanged. Funding wallets are the
    operator's configuration: disabling one is 404 `not_found`."""
    rt = _rt(request)

    async def work(uow: UnitOfWork) -> dict[str, Any]:
        return wallet_view(
            await parties.disable_wallet(uow, rt.ctx, principal.merchant_id, wallet_id)
        )

    return await _write(request, principal, 200, work)


# -- the operator ----------------------------------------------------------------------


@admin_router.post(
    "/customers/{customer_id}/kyc",
    response_model=CustomerOut,
    responses=responses("unauthorized", "forbidden_scope", "validation_error", "not_found"),
    summary="Set a customer's KYC status (any merchant's customer)",
)
async def set_kyc(
    customer_id: CustomerId,
    body: KycSet,
    request: Request,
    principal: Annotated[Principal, Depends(require("admin"))],
) -> dict[str, Any]:
    """An operator's (`admin` scope) decision on any merchant's customer: `pending`,
    `approved` or `rejected`. The change is kept in the audit log."""
    rt = _rt(request)
    async with rt.db.unit() as uow:
        customer = await parties.set_kyc(
            uow, rt.ctx, customer_id, body.status, actor=principal.actor, source=principal.source
        )
    return customer_view(customer)
