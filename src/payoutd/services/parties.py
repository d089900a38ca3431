"""The parties of ramp payouts (Sphere): a merchant's customers, their bank accounts and
wallets, and the operator's funding accounts and wallets (configuration, read-only).

The one entry point for each use case: the native API, the Sphere dialect and the CLI
call these. A merchant sees only its own parties (another merchant's id is 404, as an
unknown one); the operator alone sets a customer's KYC status."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from payoutd.config import FundingBankAccount, FundingWallet
from payoutd.domain import bank_details
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.parties import (
    BANK_ACCOUNT_PREFIX,
    BANK_NETWORKS,
    CUSTOMER_PREFIX,
    WALLET_CHAINS,
    WALLET_PREFIX,
    AccountStatus,
    BankAccount,
    BankCurrency,
    BankNetwork,
    Customer,
    CustomerType,
    KycStatus,
    Wallet,
    WalletCurrency,
    WalletNetwork,
    party_id,
)
from payoutd.ids import new_id
from payoutd.services.context import Context
from payoutd.services.ports import UnitOfWork

MAX_META_PAIRS = 50
E = TypeVar("E", bound=StrEnum)
T = TypeVar("T")
# bank accounts and wallets share their reads and their disabling
P = TypeVar("P", BankAccount, Wallet)
# configured accounts have no creation of their own: they show this
CONFIGURED_AT = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CustomerRequest:
    type: str
    name: str
    email: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None


@dataclass(frozen=True, slots=True)
class BankAccountRequest:
    customer_id: str
    currency: str
    holder_name: str
    bank_name: str = ""
    routing_number: str | None = None
    account_number: str | None = None
    account_type: str = "checking"
    iban: str | None = None
    bic: str | None = None
    bank_address: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None


@dataclass(frozen=True, slots=True)
class WalletRequest:
    customer_id: str
    network: str
    currency: str
    address: str
    meta: Mapping[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None


def _choice(kind: type[E], value: str, name: str) -> E:
    """`value` as one of `kind`'s words (case as written, else lower case)."""
    if isinstance(value, str):
        for candidate in (value, value.lower()):
            try:
                return kind(candidate)
            except ValueError:
                continue
    allowed = ", ".join(m.value for m in kind)
    raise field_error("validation_error", name, f"{name} must be one of {allowed}")


def _new(prefix: str) -> str:
    return party_id(prefix, new_id())


# the longest text each column keeps (store.tables); the API's schemas say the same
LIMITS = {
    "name": 200,
    "email": 254,
    "lookup_key": 200,
    "holder_name": 200,
    "bank_name": 200,
    "bank_address": 300,
}


def _fits(**values: str | None) -> None:
    """Text fields within their columns, whichever caller (the CLI has no schema)."""
    for name, value in values.items():
        if value is not None and len(value) > LIMITS[name]:
            raise field_error(
                "validation_error", name, f"{name} has at most {LIMITS[name]} characters"
            )


def _found(party: T | None, message: str) -> T:
    """`party`, else 404 as for another merchant's id (one merchant never learns of another's)."""
    if party is None:
        raise PayoutdError("not_found", message)
    return party


async def _find(
    uow: UnitOfWork,
    funding: Sequence[P],
    get: Callable[[UnitOfWork, str | None, str], Awaitable[P]],
    merchant_id: str,
    party_id: str,
) -> P:
    """A bank account or wallet as a merchant may read it: its customers' or a funding one."""
    for configured in funding:
        if configured.id == party_id:
            return configured
    return await get(uow, merchant_id, party_id)


async def _disable(
    uow: UnitOfWork,
    ctx: Context,
    get: Callable[[UnitOfWork, str | None, str], Awaitable[P]],
    set_status: Callable[[str, AccountStatus, datetime], Awaitable[None]],
    merchant_id: str,
    party_id: str,
) -> P:
    """A disabled account stays readable (payouts name it) but takes no new payouts."""
    party = await get(uow, merchant_id, party_id)
    if party.status is not AccountStatus.DISABLED:
        await set_status(party.id, AccountStatus.DISABLED, ctx.clock.now())
    return await get(uow, merchant_id, party.id)


def _meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    if len(meta) > MAX_META_PAIRS:
        raise field_error("validation_error", "meta", f"meta has at most {MAX_META_PAIRS} keys")
    return dict(meta)


# -- customers -------------------------------------------------------------------------


async def create_customer(
    uow: UnitOfWork, ctx: Context, merchant_id: str, req: CustomerRequest
) -> Customer:
    """A new customer's KYC is `pending` until the operator decides."""
    kind = _choice(CustomerType, req.type, "type")
    name = req.name.strip()
    if not name:
        raise field_error("validation_error", "name", "name is required")
    _fits(name=name, email=req.email, lookup_key=req.lookup_key)
    if await uow.merchants.get(merchant_id) is None:  # the operator's CLI names one
        raise PayoutdError("merchant_not_found")
    now = ctx.clock.now()
    customer = Customer(
        id=_new(CUSTOMER_PREFIX),
        merchant_id=merchant_id,
        type=kind,
        kyc_status=KycStatus.PENDING,
        name=name,
        email=req.email,
        created_at=now,
        updated_at=now,
        meta=_meta(req.meta),
        lookup_key=req.lookup_key,
    )
    await uow.parties.add_customer(customer)
    return customer


async def get_customer(uow: UnitOfWork, merchant_id: str | None, customer_id: str) -> Customer:
    """The merchant's customer (merchant_id None: the operator's view of any)."""
    return _found(await uow.parties.customer(merchant_id, customer_id), "Customer not found")


async def list_customers(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    lookup_key: str | None = None,
    before_id: str | None = None,
    limit: int = 50,
) -> list[Customer]:
    """Newest first; `before_id` is the id after which the page starts."""
    return await uow.parties.customers(
        merchant_id, lookup_key=lookup_key, before_id=before_id, limit=limit
    )


async def set_kyc(
    uow: UnitOfWork,
    ctx: Context,
    customer_id: str,
    status: str,
    *,
    actor: str,
    source: str | None = None,
) -> Customer:
    """The operator's decision on a customer's KYC; kept in the audit log."""
    kyc = _choice(KycStatus, status, "status")
    customer = await get_customer(uow, None, customer_id)
    now = ctx.clock.now()
    await uow.parties.set_kyc(customer.id, kyc, now)
    await uow.audit.record(
        actor=actor,
        action="customer.kyc",
        now=now,
        merchant_id=customer.merchant_id,
        subject_id=customer.id,
        source=source,
        details={"from": customer.kyc_status.value, "to": kyc.value},
    )
    return await get_customer(uow, None, customer.id)


async def _customer_of(uow: UnitOfWork, merchant_id: str, customer_id: str) -> Customer:
    found = await uow.parties.customer(merchant_id, customer_id)
    if found is None:
        raise field_error("customer_not_found", "customer")
    return found


# -- bank accounts ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountNumbers:
    routing_number: str | None = None
    account_number: str | None = None
    iban: str | None = None
    bic: str | None = None


def check_bank_account(
    currency: str,
    *,
    routing_number: str | None,
    account_number: str | None,
    iban: str | None,
    bic: str | None,
) -> tuple[BankCurrency, AccountNumbers]:
    """The account's currency and its numbers as stored (compact, checked): a USD
    account has a routing and an account number and no IBAN, a EUR account the reverse."""
    cur = _choice(BankCurrency, currency, "currency")
    if cur is BankCurrency.USD:
        for name, value in (("iban", iban), ("bic", bic)):
            if value:
                raise field_error("validation_error", name, f"A usd account has no {name}")
        usd = bank_details.check_usd(routing_number, account_number)
        return cur, AccountNumbers(usd.routing_number, usd.account_number)
    for name, value in (("routing_number", routing_number), ("account_number", account_number)):
        if value:
            raise field_error("validation_error", name, f"A eur account has no {name}")
    eur = bank_details.check_eur(iban, bic)
    return cur, AccountNumbers(iban=eur.iban, bic=eur.bic)


def _account_type(value: str) -> str:
    if value not in ("checking", "savings"):
        raise field_error(
            "validation_error", "account_type", "account_type must be checking or savings"
        )
    return value


async def create_bank_account(
    uow: UnitOfWork, ctx: Context, merchant_id: str, req: BankAccountRequest
) -> BankAccount:
    currency, numbers = check_bank_account(
        req.currency,
        routing_number=req.routing_number,
        account_number=req.account_number,
        iban=req.iban,
        bic=req.bic,
    )
    holder = req.holder_name.strip()
    if not holder:
        raise field_error("validation_error", "holder_name", "holder_name is required")
    _fits(
        holder_name=holder,
        bank_name=req.bank_name,
        bank_address=req.bank_address,
        lookup_key=req.lookup_key,
    )
    account_type = _account_type(req.account_type)
    customer = await _customer_of(uow, merchant_id, req.customer_id)
    now = ctx.clock.now()
    account = BankAccount(
        id=_new(BANK_ACCOUNT_PREFIX),
        merchant_id=merchant_id,
        customer_id=customer.id,
        currency=currency,
        holder_name=holder,
        bank_name=req.bank_name.strip(),
        status=AccountStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        account_type=account_type,
        bank_address=req.bank_address,
        meta=_meta(req.meta),
        lookup_key=req.lookup_key,
        routing_number=numbers.routing_number,
        account_number=numbers.account_number,
        iban=numbers.iban,
        bic=numbers.bic,
    )
    await uow.parties.add_bank_account(account)
    return account


async def get_bank_account(
    uow: UnitOfWork, merchant_id: str | None, account_id: str
) -> BankAccount:
    """One of the merchant's customers' bank accounts, its numbers opened."""
    found = await uow.parties.bank_account(merchant_id, account_id)
    return _found(found, "Bank account not found")


async def find_bank_account(
    uow: UnitOfWork, ctx: Context, merchant_id: str, account_id: str
) -> BankAccount:
    """A bank account as a merchant may read it: its customers' or a funding account."""
    return await _find(uow, funding_accounts(ctx), get_bank_account, merchant_id, account_id)


async def list_bank_accounts(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    lookup_key: str | None = None,
    customer_id: str | None = None,
    before_id: str | None = None,
    limit: int = 50,
) -> list[BankAccount]:
    return await uow.parties.bank_accounts(
        merchant_id,
        lookup_key=lookup_key,
        customer_id=customer_id,
        before_id=before_id,
        limit=limit,
    )


async def disable_bank_account(
    uow: UnitOfWork, ctx: Context, merchant_id: str, account_id: str
) -> BankAccount:
    set_status = uow.parties.set_bank_account_status
    return await _disable(uow, ctx, get_bank_account, set_status, merchant_id, account_id)


# -- wallets ---------------------------------------------------------------------------


def check_wallet(
    ctx: Context, network: str, currency: str, address: str
) -> tuple[WalletNetwork, WalletCurrency, str]:
    """The wallet's network, currency and address normalized by the network's own rules
    (the chain's, as every payout address is checked: payoutd.chains.addressing)."""
    net = _choice(WalletNetwork, network, "network")
    cur = _choice(WalletCurrency, currency, "currency")
    chain = ctx.chain(WALLET_CHAINS[net])
    try:
        normalized = chain.validate_address(address)
    except ValueError as exc:
        raise field_error("invalid_address", "address", str(exc)) from None
    return net, cur, normalized


async def create_wallet(
    uow: UnitOfWork, ctx: Context, merchant_id: str, req: WalletRequest
) -> Wallet:
    network, currency, address = check_wallet(ctx, req.network, req.currency, req.address)
    _fits(lookup_key=req.lookup_key)
    customer = await _customer_of(uow, merchant_id, req.customer_id)
    now = ctx.clock.now()
    wallet = Wallet(
        id=_new(WALLET_PREFIX),
        merchant_id=merchant_id,
        customer_id=customer.id,
        network=network,
        currency=currency,
        address=address,
        status=AccountStatus.ACTIVE,
        created_at=now,
        updated_at=now,
        meta=_meta(req.meta),
        lookup_key=req.lookup_key,
    )
    await uow.parties.add_wallet(wallet)
    return wallet


async def get_wallet(uow: UnitOfWork, merchant_id: str | None, wallet_id: str) -> Wallet:
    return _found(await uow.parties.wallet(merchant_id, wallet_id), "Wallet not found")


async def find_wallet(uow: UnitOfWork, ctx: Context, merchant_id: str, wallet_id: str) -> Wallet:
    """A wallet as a merchant may read it: its customers' or a funding wallet."""
    return await _find(uow, funding_wallets(ctx), get_wallet, merchant_id, wallet_id)


async def list_wallets(
    uow: UnitOfWork,
    merchant_id: str,
    *,
    lookup_key: str | None = None,
    customer_id: str | None = None,
    before_id: str | None = None,
    limit: int = 50,
) -> list[Wallet]:
    return await uow.parties.wallets(
        merchant_id,
        lookup_key=lookup_key,
        customer_id=customer_id,
        before_id=before_id,
        limit=limit,
    )


async def disable_wallet(uow: UnitOfWork, ctx: Context, merchant_id: str, wallet_id: str) -> Wallet:
    set_status = uow.parties.set_wallet_status
    return await _disable(uow, ctx, get_wallet, set_status, merchant_id, wallet_id)


# -- the operator's funding accounts and wallets (configuration) -----------------------


class FundingConfigError(ValueError):
    """An entry of `[[funding.bank_accounts]]` / `[[funding.wallets]]` is not valid."""


def _derived_id(prefix: str, *parts: str | None) -> str:
    """A configured entry's id when it names none: the same for the same account on every
    start, so payouts keep finding it."""
    digest = hashlib.sha256("\x1f".join(p or "" for p in parts).encode()).hexdigest()
    return prefix + digest[:32]


def _funding_account(entry: FundingBankAccount, where: str) -> BankAccount:
    try:
        currency, numbers = check_bank_account(
            entry.currency,
            routing_number=entry.routing_number,
            account_number=entry.account_number,
            iban=entry.iban,
            bic=entry.bic,
        )
        networks = [_choice(BankNetwork, n, "networks") for n in entry.networks or ()]
    except PayoutdError as err:
        raise FundingConfigError(f"{where}: {err.fields or err.message}") from None
    wrong = [n.value for n in networks if n not in BANK_NETWORKS[currency]]
    if wrong:
        raise FundingConfigError(f"{where}: {currency.value} accounts do not move by {wrong}")
    account_id = entry.id or _derived_id(
        BANK_ACCOUNT_PREFIX,
        currency.value,
        numbers.routing_number,
        numbers.account_number,
        numbers.iban,
    )
    return BankAccount(
        id=account_id,
        merchant_id=None,
        customer_id=None,
        currency=currency,
        holder_name=entry.holder_name,
        bank_name=entry.bank_name,
        status=AccountStatus.ACTIVE,
        created_at=CONFIGURED_AT,
        updated_at=CONFIGURED_AT,
        account_type=entry.account_type,
        funding=True,
        bank_address=entry.bank_address,
        sandbox=entry.sandbox,
        only_networks=tuple(networks),
        routing_number=numbers.routing_number,
        account_number=numbers.account_number,
        iban=numbers.iban,
        bic=numbers.bic,
    )


def funding_accounts(ctx: Context) -> list[BankAccount]:
    """Every configured funding bank account (sandbox ones included)."""
    return [
        _funding_account(entry, f"funding.bank_accounts[{i}]")
        for i, entry in enumerate(ctx.settings.funding.bank_accounts)
    ]


def _funding_wallet(ctx: Context, entry: FundingWallet, where: str) -> Wallet:
    try:
        network, currency, address = check_wallet(ctx, entry.network, entry.currency, entry.address)
    except PayoutdError as err:
        raise FundingConfigError(f"{where}: {err.fields or err.message}") from None
    return Wallet(
        id=entry.id or _derived_id(WALLET_PREFIX, network.value, currency.value, address),
        merchant_id=None,
        customer_id=None,
        network=network,
        currency=currency,
        address=address,
        status=AccountStatus.ACTIVE,
        created_at=CONFIGURED_AT,
        updated_at=CONFIGURED_AT,
        funding=True,
        sandbox=entry.sandbox,
    )


def funding_wallets(ctx: Context) -> list[Wallet]:
    """Every configured funding wallet (sandbox ones included)."""
    return [
        _funding_wallet(ctx, entry, f"funding.wallets[{i}]")
        for i, entry in enumerate(ctx.settings.funding.wallets)
    ]


def funding_account(ctx: Context, currency: str, network: str) -> BankAccount:
    """The funding account an on-ramp customer pays `currency` into by `network` (Sphere's
    `funding` of an on-ramp): the first configured one that moves by it."""
    cur = _choice(BankCurrency, currency, "currency")
    net = _choice(BankNetwork, network, "network")
    for account in funding_accounts(ctx):
        if account.currency is cur and net in account.networks:
            return account
    raise field_error(
        "service_not_found", "network", f"No funding account takes {cur.value} by {net.value}"
    )


def funding_wallet(ctx: Context, currency: str, network: str) -> Wallet:
    """The funding wallet an off-ramp customer sends `currency` to on `network`. A sandbox
    wallet serves only while its network runs on the sandbox chain: a real chain never
    sends customers' money to an address the operator holds no key of."""
    cur = _choice(WalletCurrency, currency, "currency")
    net = _choice(WalletNetwork, network, "network")
    live = ctx.chain(WALLET_CHAINS[net]).mode != "sandbox"
    for wallet in funding_wallets(ctx):
        if wallet.currency is cur and wallet.network is net and not (live and wallet.sandbox):
            return wallet
    raise field_error(
        "service_not_found", "network", f"No funding wallet takes {cur.value} on {net.value}"
    )


def check_funding(ctx: Context) -> Sequence[BankAccount | Wallet]:
    """Every configured funding account and wallet, checked (at start: a bad entry stops
    payoutd with FundingConfigError naming it, rather than a payout later)."""
    accounts: list[BankAccount | Wallet] = [*funding_accounts(ctx), *funding_wallets(ctx)]
    ids = [a.id for a in accounts]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise FundingConfigError(f"funding: ids used twice: {duplicates}")
    return accounts
