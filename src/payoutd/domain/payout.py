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
