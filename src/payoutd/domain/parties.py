"""The parties of ramp payouts (Sphere): a merchant's customers, their bank accounts and
their wallets, and the operator's own funding accounts and wallets that customers pay into.

A ramp payout names a source, a funding account and a destination; these records are what
those names resolve to, whichever caller (native API, Sphere dialect, dashboard) made them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class CustomerType(StrEnum):
    INDIVIDUAL = "individual"
    BUSINESS = "business"


class KycStatus(StrEnum):
    """Set by the operator, never by the merchant: only an approved customer's payouts move
    money."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class BankCurrency(StrEnum):
    USD = "usd"
    EUR = "eur"


class BankNetwork(StrEnum):
    """How money reaches or leaves a bank account. USD accounts move by ACH or wire, EUR
    accounts by SEPA. Sphere names an on-ramp's source `achPull`/`achPush`/`wire`/`sepa`
    and an off-ramp's destination `ach`/`wire`/`sepa`."""

    ACH = "ach"
    ACH_PULL = "achPull"
    ACH_PUSH = "achPush"
    WIRE = "wire"
    SEPA = "sepa"


class WalletCurrency(StrEnum):
    USDC = "usdc"
    USDT = "usdt"


class WalletNetwork(StrEnum):
    SOL = "sol"
    ETHEREUM = "ethereum"
    BASE = "base"


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    merchant_id: str
    type: CustomerType
    kyc_status: KycStatus
    name: str
    email: str | None
    created_at: datetime
    updated_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None


@dataclass(frozen=True, slots=True)
class BankAccount:
    """A customer's bank account, or (customer_id None, funding True) one of the
    operator's funding accounts from the configuration."""

    id: str
    merchant_id: str | None
    customer_id: str | None
    currency: BankCurrency
    holder_name: str
    bank_name: str
    status: AccountStatus
    created_at: datetime
    updated_at: datetime
    # USD (ACH / wire)
    routing_number: str | None = None
    account_number: str | None = None
    account_type: str = "checking"
    # EUR (SEPA)
    iban: str | None = None
    bic: str | None = None
    funding: bool = False
    bank_address: str | None = None
    sandbox: bool = False  # a funding account of the sandbox bank
    meta: dict[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None

    @property
    def last4(self) -> str:
        number = self.account_number or self.iban or ""
        return number[-4:]

    @property
    def masked_number(self) -> str:
        """The account number (or IBAN) as a customer's is shown: only its last four
        digits, as Sphere's instructions write it (`********9942`)."""
        return "********" + self.last4

    @property
    def networks(self) -> tuple[BankNetwork, ...]:
        return BANK_NETWORKS[self.currency]


@dataclass(frozen=True, slots=True)
class Wallet:
    """A customer's stablecoin wallet, or (funding True) one of the operator's funding
    wallets that off-ramp customers send to."""

    id: str
    merchant_id: str | None
    customer_id: str | None
    network: WalletNetwork
    currency: WalletCurrency
    address: str
    status: AccountStatus
    created_at: datetime
    updated_at: datetime
    funding: bool = False
    meta: dict[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None
    sandbox: bool = False  # a funding wallet of the sandbox chain


# Ids as Sphere shows them: a prefix and 32 hex digits (a time-ordered id without its
# dashes, so a list by id is newest first as everywhere else in payoutd).
CUSTOMER_PREFIX = "customer_"
BANK_ACCOUNT_PREFIX = "bankAccount_"
WALLET_PREFIX = "wallet_"

# the networks that move each bank currency
BANK_NETWORKS: dict[BankCurrency, tuple[BankNetwork, ...]] = {
    BankCurrency.USD: (
        BankNetwork.ACH,
        BankNetwork.ACH_PULL,
        BankNetwork.ACH_PUSH,
        BankNetwork.WIRE,
    ),
    BankCurrency.EUR: (BankNetwork.SEPA,),
}

# Sphere's wallet networks -> payoutd's network codes (payoutd.domain.assets), whose
# address rules a wallet's address passes
WALLET_CHAINS: dict[WalletNetwork, str] = {
    WalletNetwork.SOL: "SOL",
    WalletNetwork.ETHEREUM: "ETH",
    WalletNetwork.BASE: "BASE",
}


def party_id(prefix: str, time_ordered: str) -> str:
    """`prefix` and the 32 hex digits of a time-ordered UUID (payoutd.ids)."""
    return prefix + time_ordered.replace("-", "")
