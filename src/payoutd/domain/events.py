"""Event types written to the outbox in the same transaction as the change."""

from __future__ import annotations

from typing import Any

from payoutd.domain.payout import Change, Status

# One outbox event: (type, merchant_id, subject_id, payload)
Event = tuple[str, str | None, str | None, dict[str, Any]]

PAYOUT_CREATED = "payout.created"
PAYOUT_STATUS_CHANGED = "payout.status_changed"
PAYOUT_PAID = "payout.paid"
PAYOUT_FAILED = "payout.failed"
PAYOUT_VALIDATION_ERROR = "payout.validation_error"
BATCH_BROADCAST = "batch.broadcast"
# ramp payouts: one event per status they reach, `ramp_payout.<status>`
RAMP_CREATED = "ramp_payout.created"
RAMP_STATUS_EVENTS: tuple[str, ...] = tuple(
    f"ramp_payout.{s}"
    for s in ("funded", "processing", "succeeded", "failed", "cancelled", "refunded")
)

ALL: tuple[str, ...] = (
    PAYOUT_CREATED,
    PAYOUT_STATUS_CHANGED,
    PAYOUT_PAID,
    PAYOUT_FAILED,
    PAYOUT_VALIDATION_ERROR,
    BATCH_BROADCAST,
    RAMP_CREATED,
    *RAMP_STATUS_EVENTS,
)


def for_change(change: Change) -> list[str]:
    """The event types one transition emits, in the order they are written."""
    types = [PAYOUT_STATUS_CHANGED]
    if change.new is Status.PAID:
        types.append(PAYOUT_PAID)
    elif change.new is Status.FAILED:
        types.append(PAYOUT_FAILED)
    return types
