"""Double-entry rules: accounts, balanced transactions, holds.

A balance is the sum of its entries; entries are appended, never edited. A hold
is a pending transfer (as in TigerBeetle): it reduces what is *available*
without touching the posted balance, and is later posted (entries written) or
voided (nothing written).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from payoutd.domain.payout import Payout

ZERO = Decimal(0)


class AccountKind(StrEnum):
    MERCHANT = "merchant"  # what payoutd owes a merchant: their balance
    DEPOSITS = "deposits"  # money that came in from outside (operator deposits)
    CHAIN = "chain"  # money that left on chain to recipients and miners
    NETWORK_FEES = "network_fees"  # network fees charged, less network fees paid
    SERVICE_FEES = "service_fees"  # the operator's revenue
    EXCHANGE = "exchange"  # the conversion desk: one leg per currency
    BANK = "bank"  # fiat that came in or left through the operator's bank accounts (ramps)


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class LedgerImbalance(Exception):
    """A transaction that does not sum to zero per currency: a bug, never a user error."""


def merchant_account(merchant_id: str, currency: str) -> str:
    return f"{AccountKind.MERCHANT.value}:{merchant_id}:{currency}"


def system_account(kind: AccountKind, currency: str) -> str:
    return f"{kind.value}:{currency}"


@dataclass(frozen=True, slots=True)
class Entry:
    account: str
    currency: str
    amount: Decimal  # positive adds to the account's balance, negative takes from it


def imbalance(entries: Iterable[Entry]) -> dict[str, Decimal]:
    """Per currency, what the entries fail to sum to zero by (empty when balanced)."""
    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for e in entries:
        sums[e.currency] += e.amount
    return {cur: total for cur, total in sums.items() if total != 0}


def balanced(entries: list[Entry]) -> list[Entry]:
    off = imbalance(entries)
    if off:
        raise LedgerImbalance(f"transaction does not sum to zero: {off}")
    return entries


def deposit(merchant_id: str, currency: str, amount: Decimal) -> list[Entry]:
    return balanced(
        [
            Entry(system_account(AccountKind.DEPOSITS, currency), currency, -amount),
            Entry(merchant_account(merchant_id, currency), currency, amount),
        ]
    )


def payout_posting(p: Payout) -> list[Entry]:
    """What a paid payout writes: the debit leaves the merchant, the final amount goes
    to the chain, fees to the fee accounts. Rounding dust between what was debited and
    what was spent stays with the operator, never with the merchant (DESIGN §1.6)."""
    spent = p.final_amount + p.fee_network + p.fee_service
    entries = [
        Entry(merchant_account(p.merchant_id, p.debit_currency), p.debit_currency, -p.debit_amount)
    ]
    if p.debit_currency == p.payout_currency:
        dust = p.debit_amount - spent
    else:
        # The conversion desk buys the payout currency with the debit currency.
        entries += [
            Entry(
                system_account(AccountKind.EXCHANGE, p.debit_currency),
                p.debit_currency,
                p.debit_amount,
            ),
            Entry(
                system_account(AccountKind.EXCHANGE, p.payout_currency), p.payout_currency, -spent
            ),
        ]
        dust = ZERO
    cur = p.payout_currency
    entries.append(Entry(system_account(AccountKind.CHAIN, cur), cur, p.final_amount))
    if p.fee_network:
        entries.append(Entry(system_account(AccountKind.NETWORK_FEES, cur), cur, p.fee_network))
    if p.fee_service + dust:
        entries.append(
            Entry(system_account(AccountKind.SERVICE_FEES, cur), cur, p.fee_service + dust)
        )
    return balanced(entries)


def network_fee_paid(currency: str, fee: Decimal) -> list[Entry]:
    """The fee a batch actually paid miners comes out of the network fees collected."""
    return balanced(
        [
            Entry(system_account(AccountKind.NETWORK_FEES, currency), currency, -fee),
            Entry(system_account(AccountKind.CHAIN, currency), currency, fee),
        ]
    )


class HoldRefusal(StrEnum):
    """Why a hold was not granted."""

    NO_ACCOUNT = "wallet_not_found"  # the merchant has no balance in the currency
    SHORT = "insufficient_funds"  # the available balance does not cover it


def grant_holds(
    available: Mapping[str, Decimal], wanted: Sequence[tuple[str, Decimal]]
) -> list[HoldRefusal | None]:
    """The hold rule (DESIGN §1.2), the one definition: holds (account, amount) are
    granted in the order given, each against what the accounts have available after the
    holds granted before it; one that does not fit is refused and takes nothing, so a
    later, smaller one may still fit. None is granted."""
    left = dict(available)
    verdicts: list[HoldRefusal | None] = []
    for account_id, amount in wanted:
        have = left.get(account_id)
        if have is None:
            verdicts.append(HoldRefusal.NO_ACCOUNT)
        elif have < amount:
            verdicts.append(HoldRefusal.SHORT)
        else:
            left[account_id] = have - amount
            verdicts.append(None)
    return verdicts


def all_holds_fit(available: Mapping[str, Decimal], wanted: Sequence[tuple[str, Decimal]]) -> bool:
    """Whether `grant_holds` grants every one of `wanted` (amounts are positive): every
    account exists and covers the sum wanted of it. This form is what the PostgreSQL
    intake's one statement computes in SQL (payoutd.store.placements, `funded`), and a
    test holds that statement to this function."""
    return all(v is None for v in grant_holds(available, wanted))


def held_by_account(wanted: Iterable[tuple[str, Decimal]]) -> dict[str, Decimal]:
    """What granting these holds adds to each account's `held`."""
    held: dict[str, Decimal] = {}
    for account_id, amount in wanted:
        held[account_id] = held.get(account_id, ZERO) + amount
    return held


# Records of the ledger as stored (payoutd.store.ledger keeps them).


@dataclass(frozen=True, slots=True)
class Balance:
    currency: str
    balance: Decimal
    held: Decimal

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class HoldRequest:
    merchant_id: str
    currency: str
    amount: Decimal
    payout_id: str

    @property
    def wanted(self) -> tuple[str, Decimal]:
        """(the merchant's account, the amount): what the hold rule decides on."""
        return merchant_account(self.merchant_id, self.currency), self.amount


@dataclass(frozen=True, slots=True)
class Hold:
    id: str
    account_id: str
    currency: str
    amount: Decimal
    status: HoldStatus
    payout_id: str


@dataclass
class LedgerReport:
    transactions: int = 0
    entries: int = 0
    accounts: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "transactions": self.transactions,
            "entries": self.entries,
            "accounts": self.accounts,
            "problems": self.problems,
        }
