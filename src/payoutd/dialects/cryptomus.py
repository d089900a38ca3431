"""Cryptomus's (and Spark's, the same shape) payout wire format, as translation only:
the status words, the result object, the error words, the `sign` rule and the webhook
body (../shared/seeds/002_…, 000_…; DESIGN §3 and §9)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payoutd.domain.events import PAYOUT_CREATED, PAYOUT_STATUS_CHANGED
from payoutd.domain.payout import DialectRecord

# DESIGN §3: native status -> the word Cryptomus and Spark show
STATUS_WORDS: Mapping[str, str] = {
    "pending_approval": "check",
    "scheduled": "process",
    "queued": "process",
    "sending": "process",
    "confirming": "process",
    "paid": "paid",
    "failed": "fail",
    "cancelled": "cancel",
    "expired": "cancel",
    "needs_review": "check",
}
# The seed's sixth word, `system_fail` ("a system error has occurred"), names a payout the
# provider lost to its own fault. payoutd never ends a payout that way: a payout it could
# not send is `failed` with its funds returned (`fail`), and one whose outcome is unclear
# waits for an operator (`check`).
SYSTEM_FAIL = "system_fail"

# native error code -> the seed's message, word for word. Codes whose native message is
# already the seed's, with the figures filled in (`Minimum amount 0.5 USDT`), say None:
# the native message is shown as it is.
MESSAGES: Mapping[str, str | None] = {
    "payouts_forbidden": "You are forbidden",
    "currency_not_found": "The currency was not found",
    "service_not_found": "The service was not found",
    "withdrawal_too_small": "The withdrawal amount is too small",
    "wallet_not_found": "Wallet not found",
    "insufficient_funds": "Not enough funds",
    "rate_unavailable": "Error convert to_currency",
    "amount_too_small": None,
    "amount_too_large": None,
    "network_unavailable": "The terminal was not found",
}
NOT_FOUND_SERVICE_TO_CURRENCY = "Not found service to_currency"
# The seed's `from_currency`: "only USDT" converts. payoutd lets any balance pay; the
# provider's clients keep the provider's rule.
FROM_CURRENCY = "USDT"
INVALID_SIGN = "Invalid Sign"
PAYOUT_NOT_FOUND = "Payout not found"
SERVER_ERROR: Mapping[str, Any] = {"message": "Server error, #1", "code": 500, "error": None}

# native request field -> the Cryptomus parameter it comes from
FIELDS: Mapping[str, str] = {
    "payout_currency": "to_currency",
    "balance_currency": "from_currency",
    "rate_source": "course_source",
    "callback_url": "url_callback",
    "fee_mode": "is_subtract",
}
# native error code -> the Laravel validation rule a field-level refusal is named by
RULES: Mapping[str, str] = {
    "validation_error": "validation.invalid",
    "invalid_amount": "validation.numeric",
    "invalid_address": "validation.regex",
    "invalid_memo": "validation.max.string",
    "network_required": "validation.required",
    "payout_currency_required": "validation.required",
    "priority_not_supported": "validation.prohibited",
    "rate_source_not_available": "validation.in",
    "address_not_allowed": "validation.not_in",
}


def from_currency_served(from_currency: str | None, currency: str, to_currency: str | None) -> bool:
    """Whether the seed serves this `from_currency`: none, the balance of the currency
    sent itself, or USDT (anything else is "The service was not found")."""
    if from_currency is None:
        return True
    paying = from_currency.upper()
    return paying in (FROM_CURRENCY, (to_currency or currency).upper())


def heard(event: Mapping[str, Any]) -> bool:
    """Whether a payout's callback_url hears this event in the provider's format: its
    creation, and each change of its status as the provider words it (queued, sending
    and confirming are all `process`: one webhook, not three; payout.paid and
    payout.failed repeat a status change the receiver already got)."""
    if event["type"] == PAYOUT_CREATED:
        return True
    if event["type"] != PAYOUT_STATUS_CHANGED:
        return False
    payload = event["payload"]
    return bool(STATUS_WORDS[payload["old_status"]] != STATUS_WORDS[payload["new_status"]])


def sign(body: bytes, key: str) -> str:
    """md5(base64(body) + payout key), hex: over the bytes as they travel."""
    return hashlib.md5(base64.b64encode(body) + key.encode()).hexdigest()


def signed_by(body: bytes, given: str, key: str) -> bool:
    return hmac.compare_digest(sign(body, key), given.strip().lower())


def php_json(value: Any) -> str:
    """What PHP's `json_encode($value, JSON_UNESCAPED_UNICODE)` makes: compact, `/`
    escaped as `\\/`, other non-ASCII kept as UTF-8, except U+2028 and U+2029, which PHP
    escapes unless also told JSON_UNESCAPED_LINE_TERMINATORS."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("/", "\\/").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def result(view: Mapping[str, Any], balance: str | None) -> dict[str, Any]:
    """A payout as the seed's result object, from its native view (services.views)."""
    return {
        "uuid": view["id"],
        "amount": view["amount"],
        "currency": view["currency"],
        "network": view["network"],
        "address": view["address"],
        "txid": view["txid"],
        "status": STATUS_WORDS[view["status"]],
        "is_final": view["status"] in ("paid", "failed", "cancelled", "expired"),
        "balance": balance,
        "payer_currency": view["payout_currency"],
        "payer_amount": view["final_amount"],
    }


def listed(view: Mapping[str, Any]) -> dict[str, Any]:
    """A payout as an item of `payout/list`: the result object with its times, in the
    provider's "YYYY-MM-DD HH:mm:ss" (UTC)."""
    item = result(view, None)
    del item["balance"]  # the merchant's balance is the create's and info's answer
    return {
        **item,
        "order_id": view["order_id"],
        "created_at": _time(view["created_at"]),
        "updated_at": _time(view["updated_at"]),
    }


def _time(stamp: str | None) -> str | None:
    """`2030-01-02T03:04:05.123456Z` -> `2030-01-02 03:04:05`."""
    return None if stamp is None else stamp.replace("T", " ")[:19]


def webhook(view: Mapping[str, Any]) -> dict[str, Any]:
    """The seed's payout webhook, before its `sign`."""
    return {
        "type": "payout",
        "uuid": view["id"],
        "order_id": view["order_id"],
        "amount": view["amount"],
        "merchant_amount": view["debit"]["amount"],
        "commission": view["fees"]["total"],
        "is_final": view["status"] in ("paid", "failed", "cancelled", "expired"),
        "status": STATUS_WORDS[view["status"]],
        "txid": view["txid"],
        "currency": view["currency"],
        "network": view["network"],
        "payer_currency": view["payout_currency"],
        "payer_amount": view["final_amount"],
    }


def signed_webhook(view: Mapping[str, Any], key: str) -> str:
    """The body a receiver gets: the webhook with `sign` inside it, md5(base64(the body
    without `sign`, as PHP's json_encode writes it) + payout key)."""
    body = webhook(view)
    body["sign"] = sign(php_json(body).encode(), key)
    return php_json(body)


@dataclass(frozen=True, slots=True)
class CallbackFormat:
    """How the worker speaks to a callback_url of a payout this dialect created
    (services.ports.CallbackFormat)."""

    def wants(self, event: Mapping[str, Any]) -> bool:
        return heard(event)

    def render(
        self, event: Mapping[str, Any], secret: str, record: DialectRecord
    ) -> tuple[dict[str, str], str]:
        return {"content-type": "application/json"}, signed_webhook(
            event["payload"]["payout"], secret
        )
