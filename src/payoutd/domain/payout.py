"""Payout states and the one table of transitions between them.

Nothing else in payoutd assigns a status: services ask `transition()` for the
change, and the store persists it with a compare-and-set on the old status, so
two processes racing on one payout cannot both move it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from payoutd.domain.errors import PayoutdError


class Status(StrEnum):
    """A payout's status: `pending_approval` (an offer, nothing held), `scheduled` (held,
    waiting for `execute_at`), `queued` (held, waiting for a batch), `sending` (in a batch
    being signed and broadcast), `confirming` (broadcast), `paid`, `failed` (funds
    returned), `cancelled` (funds returned), `expired` (an offer not approved in time),
    `needs_review` (the chain's outcome is unclear; an operator decides)."""

    PENDING_APPROVAL = "pending_approval"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    CONFIRMING = "confirming"
    PAID = "paid"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    NEEDS_REVIEW = "needs_review"


class Funds(StrEnum):
    """What a transition does to the merchant's money (DESIGN §1.2)."""

    CREDIT = "credit"  # money received from outside is credited to the merchant's balance
    HOLD = "hold"  # create the pending transfer
    POST = "post"  # the pending transfer becomes ledger entries
    VOID = "void"  # the pending transfer is released, nothing is posted
    NONE = "none"


S = Status

# (from, to) -> what happens to the funds. A payout that reached the chain
# (`sending` onwards) never goes back to a payable state by itself: only an
# operator resolves `needs_review` (BTCPay Server #6540 paid payouts up to ten
# times by retrying broadcasts it could not see the outcome of).
TRANSITIONS: dict[tuple[Status, Status], Funds] = {
    (S.PENDING_APPROVAL, S.SCHEDULED): Funds.HOLD,
    (S.PENDING_APPROVAL, S.QUEUED): Funds.HOLD,
    (S.PENDING_APPROVAL, S.CANCELLED): Funds.NONE,
    (S.PENDING_APPROVAL, S.EXPIRED): Funds.NONE,
    (S.SCHEDULED, S.QUEUED): Funds.NONE,
    (S.SCHEDULED, S.CANCELLED): Funds.VOID,
    (S.QUEUED, S.SENDING): Funds.NONE,
    (S.QUEUED, S.CANCELLED): Funds.VOID,
    # the executor refused it before anything was signed (bad address at the node, dust)
    (S.QUEUED, S.FAILED): Funds.VOID,
    (S.SENDING, S.CONFIRMING): Funds.NONE,
    # only when the chain definitively rejected the recorded transaction
    (S.SENDING, S.FAILED): Funds.VOID,
    (S.SENDING, S.NEEDS_REVIEW): Funds.NONE,
    (S.CONFIRMING, S.PAID): Funds.POST,
    # a mined transaction that reverted (EVM) moved no money
    (S.CONFIRMING, S.FAILED): Funds.VOID,
    (S.CONFIRMING, S.NEEDS_REVIEW): Funds.NONE,
    (S.NEEDS_REVIEW, S.PAID): Funds.POST,
    (S.NEEDS_REVIEW, S.FAILED): Funds.VOID,
}

# The status a payout is born in, and what that does to the funds: an offer holds
# nothing until approved; an approved payout holds from the start.
INITIAL: dict[Status, Funds] = {
    S.PENDING_APPROVAL: Funds.NONE,
    S.SCHEDULED: Funds.HOLD,
    S.QUEUED: Funds.HOLD,
}

FINAL: frozenset[Status] = frozenset({S.PAID, S.FAILED, S.CANCELLED, S.EXPIRED})
HELD: frozenset[Status] = frozenset(
    {S.SCHEDULED, S.QUEUED, S.SENDING, S.CONFIRMING, S.NEEDS_REVIEW}
)
CANCELLABLE: frozenset[Status] = frozenset({frm for (frm, to) in TRANSITIONS if to is S.CANCELLED})


@dataclass(frozen=True, slots=True)
class Payout:
    id: str
    merchant_id: str
    order_id: str | None
    status: Status
    amount: Decimal  # what the merchant asked for, in `currency`
    currency: str
    payout_amount: Decimal  # `amount` expressed in `payout_currency` (before fees)
    payout_currency: str
    network: str
    address: str
    memo: str | None
    fee_mode: str  # "on_top" | "from_amount"
    priority: str | None
    fee_network: Decimal
    fee_service: Decimal
    final_amount: Decimal  # what the recipient receives on chain
    debit_amount: Decimal  # what leaves the merchant's balance
    debit_currency: str
    rate_value: Decimal | None
    rate_source: str | None
    rate_expires_at: datetime | None
    approval: str
    execute_at: datetime | None
    expires_at: datetime | None
    callback_url: str | None
    comment: str | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    txid: str | None = None
    confirmations: int = 0
    batch_id: str | None = None
    failure_reason: str | None = None
    version: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL

    @property
    def fee_total(self) -> Decimal:
        return self.fee_network + self.fee_service

    @property
    def holds_funds(self) -> bool:
        return self.status in HELD


@dataclass(frozen=True, slots=True)
class Change:
    """One transition: the payout before and after, and what it does to the funds."""

    before: Payout
    after: Payout
    funds: Funds

    @property
    def old(self) -> Status:
        return self.before.status

    @property
    def new(self) -> Status:
        return self.after.status


def initial_status(*, approval: str, execute_at: datetime | None, now: datetime) -> Status:
    if approval == "manual":
        return S.PENDING_APPROVAL
    return S.SCHEDULED if execute_at is not None and execute_at > now else S.QUEUED


def approved_status(payout: Payout, now: datetime) -> Status:
    return S.SCHEDULED if payout.execute_at is not None and payout.execute_at > now else S.QUEUED


def can_transition(frm: Status, to: Status) -> bool:
    return (frm, to) in TRANSITIONS


def transition(payout: Payout, to: Status, *, now: datetime, **changes: Any) -> Change:
    """The only way a payout changes status. `changes` sets other fields in the same step
    (txid, batch_id, failure_reason...)."""
    funds = TRANSITIONS.get((payout.status, to))
    if to is S.CANCELLED and payout.status is S.QUEUED and payout.batch_id is not None:
        # a batch has taken it (`reserve`) and its transaction is being priced: the
        # batch either records it as `sending` or gives it back to the queue
        funds = None
    if funds is None:
        if to is S.CANCELLED:
            raise PayoutdError(
                "payout_not_cancellable",
                f"The payout is {payout.status.value} and can no longer be cancelled",
            )
        raise PayoutdError(
            "invalid_transition", f"A {payout.status.value} payout cannot become {to.value}"
        )
    after = dataclasses.replace(
        payout, status=to, updated_at=now, version=payout.version + 1, **changes
    )
    return Change(before=payout, after=after, funds=funds)


def reserve(payout: Payout, batch_id: str) -> Change:
    """A queued payout taken into a batch whose transaction is being priced, outside any
    database transaction: it stays `queued` (its funds held as before) and can no longer
    be cancelled, so the batch recorded afterwards still holds every payout it priced.
    The batch then moves it to `sending`, fails it (the chain refused its output), or
    gives it back (`batch_id` cleared) when the batch was not recorded."""
    if payout.status is not S.QUEUED or payout.batch_id is not None:
        raise PayoutdError(
            "invalid_transition", f"A {payout.status.value} payout cannot join a batch"
        )
    after = dataclasses.replace(payout, batch_id=batch_id, version=payout.version + 1)
    return Change(before=payout, after=after, funds=Funds.NONE)


@dataclass(frozen=True, slots=True)
class DialectRecord:
    """A payout a provider dialect created (payoutd.dialects): the dialect, the API key
    that created it (whose secret signs the provider's webhooks), and what the provider
    shows that the payout itself does not keep (Bitclear's price)."""

    payout_id: str
    dialect: str
    key_id: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


# -- ramp payouts (Sphere: bank account <-> stablecoin wallet) ------------------------


class RampStatus(StrEnum):
    PENDING = "pending"  # waiting for the customer's funds, nothing held
    FUNDED = "funded"  # the funds arrived and were credited to the merchant's balance
    PROCESSING = "processing"  # the other leg travels (a native payout, a bank payment)
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"  # the bank returned the payment: the hold is voided


class RampType(StrEnum):
    ON_RAMP = "onRamp"  # bank account -> wallet
    OFF_RAMP = "offRamp"  # wallet -> bank account


R = RampStatus
ON, OFF = RampType.ON_RAMP, RampType.OFF_RAMP

# (type, from, to) -> what happens to the merchant's money. Both kinds are credited when
# funded (on-ramp: the fiat received at the bank; off-ramp: the stablecoin received on
# chain). An on-ramp's stablecoin leg is a native payout that holds and posts its own
# funds, so its ramp moves no money afterwards; an off-ramp's bank payment holds the
# credited stablecoin and posts it (converted) when the bank confirms, or voids it when
# the payment comes back. Cancelling is only possible before any money arrived.
RAMP_TRANSITIONS: dict[tuple[RampType, RampStatus, RampStatus], Funds] = {
    (ON, R.PENDING, R.FUNDED): Funds.CREDIT,
    (ON, R.PENDING, R.CANCELLED): Funds.NONE,
    (ON, R.FUNDED, R.PROCESSING): Funds.NONE,
    # the native payout could not be placed (the wallet's address refused at the chain)
    (ON, R.FUNDED, R.FAILED): Funds.NONE,
    (ON, R.PROCESSING, R.SUCCEEDED): Funds.NONE,
    (ON, R.PROCESSING, R.FAILED): Funds.NONE,
    (OFF, R.PENDING, R.FUNDED): Funds.CREDIT,
    (OFF, R.PENDING, R.CANCELLED): Funds.NONE,
    (OFF, R.FUNDED, R.PROCESSING): Funds.HOLD,
    # the bank payment could not be built (the amount converted to nothing after fees)
    (OFF, R.FUNDED, R.FAILED): Funds.NONE,
    (OFF, R.PROCESSING, R.SUCCEEDED): Funds.POST,
    (OFF, R.PROCESSING, R.REFUNDED): Funds.VOID,
}

RAMP_FINAL: frozenset[RampStatus] = frozenset({R.SUCCEEDED, R.FAILED, R.CANCELLED, R.REFUNDED})


@dataclass(frozen=True, slots=True)
class RampPayout:
    """A ramp payout (Sphere's payout object). The parties it names are kept by id and, for
    what moving the money needs, by value as they were at creation: the wallet address an
    on-ramp pays, the sender an off-ramp's deposit must come from, the bank account an
    off-ramp pays."""

    id: str
    merchant_id: str
    customer_id: str
    number: int  # the customer's payouts counted 1, 2, ...
    type: RampType
    status: RampStatus
    amount: Decimal  # what the customer sends, in `source_currency`
    source_id: str
    source_currency: str  # usd/eur (on-ramp) or usdc/usdt (off-ramp), Sphere's spelling
    source_network: str
    funding_id: str
    destination_id: str
    destination_currency: str
    destination_network: str
    memo: str
    human: str
    created_at: datetime
    updated_at: datetime
    # on-ramp: the wallet paid; off-ramp: the wallet the deposit must come from
    wallet_address: str = ""
    # off-ramp: the bank account paid (domain.banking.BankAccountRef's fields)
    bank: dict[str, Any] = field(default_factory=dict)
    final_amount: Decimal | None = None  # what the customer receives, once known
    fee: Decimal | None = None  # the operator's service fee, in the currency it was taken
    rate: Decimal | None = None  # one source unit in the destination currency, if converted
    third_party: bool = False
    third_party_message: str | None = None
    wire_message: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    lookup_key: str | None = None
    payout_id: str | None = None  # on-ramp: the native payout carrying the stablecoin
    funded_by: str | None = None  # the statement line or chain deposit that funded it
    failure_reason: str | None = None
    version: int = 1

    @property
    def is_final(self) -> bool:
        return self.status in RAMP_FINAL


@dataclass(frozen=True, slots=True)
class RampChange:
    before: RampPayout
    after: RampPayout
    funds: Funds

    @property
    def new(self) -> RampStatus:
        return self.after.status


def ramp_transition(
    ramp: RampPayout, to: RampStatus, *, now: datetime, **changes: Any
) -> RampChange:
    """The only way a ramp payout changes status (the table above)."""
    funds = RAMP_TRANSITIONS.get((ramp.type, ramp.status, to))
    if funds is None:
        if to is R.CANCELLED:
            raise PayoutdError(
                "payout_not_cancellable",
                f"The payout is {ramp.status.value} and can no longer be cancelled",
            )
        raise PayoutdError(
            "invalid_transition", f"A {ramp.status.value} payout cannot become {to.value}"
        )
    after = dataclasses.replace(
        ramp, status=to, updated_at=now, version=ramp.version + 1, **changes
    )
    return RampChange(before=ramp, after=after, funds=funds)
