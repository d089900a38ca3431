"""Bitclear's v3 payout wire format, as translation only: the payout object, its states
and the notification body (../shared/seeds/003_…; DESIGN §3 and §9).

Bitclear writes amounts as JSON numbers (`"transferAmount": 0.1`). payoutd keeps them
exact: a number here is written from the amount's decimal text, never through a float
(an 18-decimal ETH amount would not survive one)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from payoutd.domain.events import PAYOUT_CREATED, PAYOUT_STATUS_CHANGED
from payoutd.domain.payout import DialectRecord

# DESIGN §3: native status -> Bitclear's state
STATES: Mapping[str, str] = {
    "pending_approval": "NEW",
    "scheduled": "QUEUED",
    "queued": "QUEUED",
    "sending": "QUEUED",
    "confirming": "QUEUED",
    "needs_review": "QUEUED",
    "paid": "SENT",
    "failed": "FAILED",
    "expired": "EXPIRED",
    # Bitclear has no cancel; a payout cancelled through payoutd's own API was never
    # sent, and Bitclear's word for an approved payout that was not sent is FAILED
    "cancelled": "FAILED",
}
NOTIFICATION_TYPE = "v3/payouts"

# A refusal names the field the client sent: payoutd's request field -> Bitclear's, by how
# the payout was asked for. Bitclear has no network nor balance field: the currency sent
# picks the one, the statement's currency (priceCurrency) the other.
_FIELDS_EXACT: Mapping[str, str] = {
    "amount": "transferAmount",
    "currency": "transferCurrency",
    "payout_currency": "transferCurrency",
    "network": "transferCurrency",
    "balance_currency": "priceCurrency",
    "callback_url": "notificationUrl",
}
_FIELDS_PRICED: Mapping[str, str] = {
    **_FIELDS_EXACT,
    "amount": "priceAmount",
    "currency": "priceCurrency",
}


def fields(native: Mapping[str, list[str]], priced: bool) -> dict[str, list[str]]:
    """A refusal's fields in Bitclear's names; `priced`: asked as `priceAmount`."""
    names = _FIELDS_PRICED if priced else _FIELDS_EXACT
    named: dict[str, list[str]] = {}
    for field, problems in native.items():
        named.setdefault(names.get(field, field), []).extend(problems)
    return named


class Number(str):
    """A decimal amount written as a JSON number, digit for digit."""


def number(text: str | None) -> Number | None:
    return None if text is None else Number(text)


def dumps(value: Any) -> str:
    """JSON text with `Number`s written as numbers; everything else as json.dumps
    (compact) writes it."""
    if isinstance(value, Number):
        Decimal(value)  # a number's text, or this raises: never written unchecked
        return str(value)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def payout(view: Mapping[str, Any], merchant_id: str, price: Mapping[str, Any]) -> dict[str, Any]:
    """A payout as Bitclear's object, from its native view and the price its dialect
    record keeps (`priceCurrency`, `priceAmount`: what the merchant's statement shows)."""
    return {
        "payoutId": view["id"],
        "address": view["address"],
        "transferAmount": number(view["payout_amount"]),
        "transferCurrency": view["payout_currency"],
        "priceCurrency": price.get("priceCurrency"),
        "priceAmount": number(price.get("priceAmount")),
        "merchantId": merchant_id,
        "comment": view["comment"],
        "expirationTime": _millis(view["expires_at"]),
        "createdTime": _millis(view["created_at"]),
        "status": STATES[view["status"]],
    }


def _millis(stamp: str | None) -> str | None:
    """`2018-03-05T12:38:50.246123Z` -> `2018-03-05T12:38:50.246Z`, as the seed shows."""
    if stamp is None:
        return None
    head, _, rest = stamp.removesuffix("Z").partition(".")
    return f"{head}.{(rest + '000')[:3]}Z"


def heard(event: Mapping[str, Any]) -> bool:
    """A payout's notificationUrl hears its creation and each change of its state as
    Bitclear names them."""
    if event["type"] == PAYOUT_CREATED:
        return True
    if event["type"] != PAYOUT_STATUS_CHANGED:
        return False
    payload = event["payload"]
    return bool(STATES[payload["old_status"]] != STATES[payload["new_status"]])


def notification(event: Mapping[str, Any], price: Mapping[str, Any]) -> str:
    """What a notificationUrl receives: `{"timestamp", "notificationType": "v3/payouts",
    "body": <the payout as GET returns it>}`, the payout as it was at the event."""
    body = payout(event["payload"]["payout"], event["merchant_id"], price)
    stamp = event["created_at"]
    when = stamp if isinstance(stamp, str) else stamp.isoformat().replace("+00:00", "Z")
    return dumps({"timestamp": _millis(when), "notificationType": NOTIFICATION_TYPE, "body": body})


@dataclass(frozen=True, slots=True)
class CallbackFormat:
    """How the worker speaks to the notificationUrl of a payout this dialect created
    (services.ports.CallbackFormat). Bitclear does not sign its notifications."""

    def wants(self, event: Mapping[str, Any]) -> bool:
        return heard(event)

    def render(
        self, event: Mapping[str, Any], secret: str, record: DialectRecord
    ) -> tuple[dict[str, str], str]:
        return {"content-type": "application/json"}, notification(event, record.details)
