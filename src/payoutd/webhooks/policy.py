"""When to try a delivery again, and which events an endpoint wants. Pure rules."""

from __future__ import annotations

from datetime import datetime, timedelta

from payoutd.domain import events

# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
# (Svix's schedule, which the Standard Webhooks authors run).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=14), timedelta(hours=20),
    timedelta(hours=24),
)
MAX_RETRY_AFTER = timedelta(hours=24)
TIMEOUT_SECONDS = 15.0

# Calypso's `notificationServiceTypes`: a service names a family of events. Batch events
# belong to the operator (a batch carries several merchants' payouts), so no merchant
# subscribes to them.
SERVICES: dict[str, tuple[str, ...]] = {
    "PAYOUT": tuple(t for t in events.ALL if t.startswith("payout.")),
}
MERCHANT_EVENTS: tuple[str, ...] = SERVICES["PAYOUT"]
ALL = "*"


def next_attempt(attempts_made: int, now: datetime,
                 retry_after: timedelta | None = None) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None when retries are
    exhausted. A receiver's Retry-After is honoured when it asks for longer than the
    schedule (up to a day)."""
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[attempts_made - 1]
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait


def expand(event_types: list[str] | None, services: list[str] | None) -> list[str]:
    """An endpoint's subscription as event types; nothing named means every event.
    Raises ValueError naming what is unknown."""
    wanted: list[str] = []
    for t in event_types or []:
        if t != ALL and t not in MERCHANT_EVENTS:
            raise ValueError(f"unknown event type {t!r}: one of {', '.join(MERCHANT_EVENTS)}")
        wanted.append(t)
    for s in services or []:
        if s.upper() not in SERVICES:
            raise ValueError(f"unknown service {s!r}: one of {', '.join(SERVICES)}")
        wanted.extend(SERVICES[s.upper()])
    if not wanted or ALL in wanted:
        return [ALL]
    return sorted(set(wanted))


def wants(subscription: list[str], event_type: str) -> bool:
    return ALL in subscription or event_type in subscription
