"""Sphere's payout object and its webhooks, as translation only (../shared/seeds/001_…):
payoutd's ramp payout (services.ramps.view, the same JSON its events carry) in Sphere's
field names, ids and amounts; the webhook of an endpoint subscribed in Sphere's format,
signed `signature` = hex HMAC-SHA256 of the body with the endpoint's secret."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from payoutd.dialects.sphere import timestamp

FORMAT = "sphere"
PAYOUT_PREFIX = "payout_"
_HEX_ID = re.compile(r"[0-9a-f]{32}")
FIAT = frozenset({"usd", "eur"})


def payout_id(native_id: str) -> str:
    """`payout_` and the 32 hex digits of payoutd's id."""
    return PAYOUT_PREFIX + native_id.replace("-", "")


def native_payout_id(sphere_id: str) -> str | None:
    """payoutd's id of a Sphere payout id; None when it is not one."""
    digits = sphere_id.removeprefix(PAYOUT_PREFIX)
    if not sphere_id.startswith(PAYOUT_PREFIX) or not _HEX_ID.fullmatch(digits):
        return None
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def amount(value: str | None, currency: str) -> str | None:
    """Dollars and euros with their cents ("10.00", as the seed's payouts), stablecoins as
    few digits as they need."""
    if value is None:
        return None
    number = Decimal(value)
    if currency.lower() in FIAT:
        return format(number.quantize(Decimal("0.01")), "f")
    text = format(number.normalize(), "f")
    return text


def _iso(value: str | None) -> str | None:
    return timestamp(datetime.fromisoformat(value)) if value else None


def payout(view: Mapping[str, Any], resource: Mapping[str, Any] | None) -> dict[str, Any]:
    """Sphere's payout object of a ramp payout's view; `resource` the funding bankAccount
    (on-ramp) or wallet (off-ramp) in Sphere's form."""
    src, dst = view["source"], view["destination"]
    return {
        "id": payout_id(view["id"]),
        "number": view["number"],
        "type": view["type"],
        "status": view["status"],
        "thirdParty": view["third_party"],
        "thirdPartyMessage": view["third_party_message"],
        "meta": view["meta"],
        "lookupKey": view["lookup_key"],
        "amount": amount(view["amount"], src["currency"]),
        "finalAmount": amount(view["final_amount"], dst["currency"]),
        "source": dict(src),
        "funding": dict(view["funding"]),
        "destination": dict(dst),
        "instructions": {
            "memo": view["instructions"]["memo"],
            "imad": None,
            "omad": None,
            "human": view["instructions"]["human"],
            "machine": "",
            "resource": dict(resource) if resource is not None else None,
        },
        "mock": False,
        "customer": view["customer"],
        "updated": _iso(view["updated_at"]),
        "created": _iso(view["created_at"]),
    }


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class EndpointFormat:
    """Webhooks to an endpoint subscribed in Sphere's format (services.ports.EndpointFormat):
    each ramp payout event as `{"id", "type", "created", "data": {"payout": ...}}`, the
    header `signature` = hex HMAC-SHA256 of the body with the endpoint's secret."""

    def wants(self, event: Mapping[str, Any]) -> bool:
        return str(event["type"]).startswith("ramp_payout.")

    def render(
        self, event: Mapping[str, Any], key_id: str, secret: str
    ) -> tuple[dict[str, str], str]:
        body = {
            "id": event["id"],
            "type": "payout." + str(event["type"]).removeprefix("ramp_payout."),
            "created": timestamp(event["created_at"]) if event.get("created_at") else None,
            "data": {"payout": payout(event["payload"]["ramp_payout"], None)},
        }
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return {"content-type": "application/json", "signature": sign(text.encode(), secret)}, text
