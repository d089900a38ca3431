"""Calypso's payout wire format, as translation only: its currency codes, states, the
payout object, the request signature and the webhook bodies of its subscriptions
(../shared/seeds/004_…; DESIGN §3 and §9).

Calypso signs with `Sign` = hex HMAC-SHA512 of the raw body, keyed by a secret whose id
travels in `Key`: requests with an API key's secret, webhooks with the subscription's
own."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from payoutd.domain import events

FORMAT = "calypso"  # the webhook endpoints' `format` of Calypso's subscriptions

# Calypso's currency code -> payoutd's (currency, network). Polygon's coin is POL since
# the MATIC migration; Calypso still calls it MATIC. XDG is Calypso's Dogecoin.
CURRENCIES: Mapping[str, tuple[str, str]] = {
    "BTC": ("BTC", "BTC"),
    "ETH": ("ETH", "ETH"),
    "USDT": ("USDT", "ETH"),
    "USDC": ("USDC", "ETH"),
    "DAI": ("DAI", "ETH"),
    "FRAX": ("FRAX", "ETH"),
    "BUSD_ETH": ("BUSD", "ETH"),
    "TRX": ("TRX", "TRON"),
    "USDT_TRX": ("USDT", "TRON"),
    "BNB": ("BNB", "BSC"),
    "BUSD": ("BUSD", "BSC"),
    "MATIC": ("POL", "POLYGON"),
    "USDT_MATIC": ("USDT", "POLYGON"),
    "XDG": ("DOGE", "DOGE"),
}
CODES: Mapping[tuple[str, str], str] = {asset: code for code, asset in CURRENCIES.items()}

# DESIGN §3: native status -> Calypso's state. Calypso's API never makes an offer; a
# payout offered through payoutd's own API (pending_approval: nothing held, not yet
# being processed) is CREATED, which Calypso shows for a payout not yet in processing.
STATES: Mapping[str, str] = {
    "pending_approval": "CREATED",
    "scheduled": "IN_PROGRESS",
    "queued": "IN_PROGRESS",
    "sending": "IN_PROGRESS",
    "confirming": "IN_PROGRESS",
    "needs_review": "IN_PROGRESS",
    "paid": "COMPLETED",
    "failed": "FAILED",
    "cancelled": "CANCELED",
    "expired": "CANCELED",
}
# what PAYOUT_CHANGE_STATUS reports ("In Progress, Canceled, Failed or Completed")
PAYOUT_STATUSES = ("IN_PROGRESS", "CANCELED", "FAILED", "COMPLETED")

PAYOUT_CHANGE_STATUS = "PAYOUT_CHANGE_STATUS"
PAYOUT_VALIDATION_ERROR = "PAYOUT_VALIDATION_ERROR"
# Calypso's event type -> the native events it is made from. A payout enters
# IN_PROGRESS when it is created (native: payout.created), then changes state
# (payout.status_changed).
EVENT_TYPES: Mapping[str, tuple[str, ...]] = {
    PAYOUT_CHANGE_STATUS: (events.PAYOUT_CREATED, events.PAYOUT_STATUS_CHANGED),
    PAYOUT_VALIDATION_ERROR: (events.PAYOUT_VALIDATION_ERROR,),
}
# Calypso's `notificationServiceTypes`: a service names its event types
SERVICES: Mapping[str, tuple[str, ...]] = {
    "PAYOUT": (PAYOUT_CHANGE_STATUS, PAYOUT_VALIDATION_ERROR),
}


def currency_code(currency: str, network: str) -> str:
    """Calypso's code of a payoutd asset; an asset Calypso does not list (a payout made
    through another API) keeps payoutd's `CURRENCY_NETWORK`."""
    return CODES.get((currency, network)) or f"{currency}_{network}"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def signed_by(body: bytes, given: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(sign(body, secret), given.strip().lower())


def event_types(calypso_types: list[str], services: list[str]) -> list[str]:
    """A subscription's Calypso event types (named, or by service), in Calypso's order.
    Raises ValueError naming what is unknown."""
    wanted: set[str] = set()
    for t in calypso_types:
        if t not in EVENT_TYPES:
            raise ValueError(f"unknown event type {t!r}: one of {', '.join(EVENT_TYPES)}")
        wanted.add(t)
    for s in services:
        if s.upper() not in SERVICES:
            raise ValueError(f"unknown service type {s!r}: one of {', '.join(SERVICES)}")
        wanted.update(SERVICES[s.upper()])
    return [t for t in EVENT_TYPES if t in wanted]


def native_types(calypso_types: list[str]) -> list[str]:
    return sorted({n for t in calypso_types for n in EVENT_TYPES[t]})


def calypso_types(native: list[str]) -> list[str]:
    """The Calypso event types a native subscription carries whole."""
    return [t for t, ns in EVENT_TYPES.items() if all(n in native for n in ns)]


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def payout(view: Mapping[str, Any], merchant_id: str, fee_percentage: str | None) -> dict[str, Any]:
    """A payout as Calypso's object, from its native view. `fee_percentage`: the
    merchant's service fee percent when the payout was made."""
    status = view["status"]
    reason = view["failure_reason"]
    return {
        "id": view["id"],
        "account": merchant_id,
        "depositAddress": view["address"],
        "amount": view["payout_amount"],
        "currency": currency_code(view["payout_currency"], view["network"]),
        "calypsoFee": view["fees"]["service"],
        "calypsoFeePercentage": fee_percentage,
        "state": STATES[status],
        "createdDate": view["created_at"],
        "transactionHash": view["txid"],
        "comment": view["comment"],
        "executionDate": view["execute_at"],
        "idempotencyKey": view["order_id"],
        "errors": [{"message": reason}] if reason and status == "failed" else [],
        "cancellation": (
            {"reason": status, "date": view["updated_at"]}
            if status in ("cancelled", "expired")
            else None
        ),
    }


def _stamp(event: Mapping[str, Any]) -> int:
    stamp = event["created_at"]
    when = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(stamp)
    return millis(when)


def heard(event: Mapping[str, Any]) -> bool:
    """Whether a Calypso subscription hears this native event: a payout entering one of
    the states PAYOUT_CHANGE_STATUS reports (its creation, or a change of the Calypso
    state word, not of the native status only), or a validation error."""
    payload = event["payload"]
    if event["type"] == events.PAYOUT_CREATED:
        return STATES[payload["payout"]["status"]] in PAYOUT_STATUSES
    if event["type"] == events.PAYOUT_STATUS_CHANGED:
        new = STATES[payload["new_status"]]
        return new != STATES[payload["old_status"]] and new in PAYOUT_STATUSES
    return bool(event["type"] == events.PAYOUT_VALIDATION_ERROR)


def webhook(event: Mapping[str, Any]) -> dict[str, Any]:
    """What a subscription receives: `{"type", "timestamp", "account", "payload"}`, the
    payload naming the payout (`id`, `idempotencyKey`) and, for PAYOUT_CHANGE_STATUS, its
    `payoutStatus`; for PAYOUT_VALIDATION_ERROR the failure in `errors`."""
    view = event["payload"]["payout"]
    payload: dict[str, Any] = {
        "id": view["id"],
        "idempotencyKey": view["order_id"],
        "depositAddress": view["address"],
        "amount": view["payout_amount"],
        "currency": currency_code(view["payout_currency"], view["network"]),
        "transactionHash": view["txid"],
    }
    if event["type"] == events.PAYOUT_VALIDATION_ERROR:
        kind = PAYOUT_VALIDATION_ERROR
        payload["errors"] = [{"message": event["payload"]["reason"]}]
    else:
        kind = PAYOUT_CHANGE_STATUS
        payload["payoutStatus"] = STATES[view["status"]]
    return {
        "type": kind,
        "timestamp": _stamp(event),
        "account": event["merchant_id"],
        "payload": payload,
    }


@dataclass(frozen=True, slots=True)
class EndpointFormat:
    """How the worker speaks to a Calypso webhook subscription
    (services.ports.EndpointFormat): headers `Key` (the subscription's key id) and `Sign`
    = hex HMAC-SHA512 of the body with its secret."""

    def wants(self, event: Mapping[str, Any]) -> bool:
        return heard(event)

    def render(
        self, event: Mapping[str, Any], key_id: str, secret: str
    ) -> tuple[dict[str, str], str]:
        text = json.dumps(webhook(event), separators=(",", ":"), ensure_ascii=False)
        headers = {
            "content-type": "application/json",
            "Key": key_id,
            "Sign": sign(text.encode(), secret),
        }
        return headers, text
