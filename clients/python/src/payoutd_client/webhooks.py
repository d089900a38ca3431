"""Verifying the webhooks payoutd sends (Standard Webhooks, https://www.standardwebhooks.com).

payoutd signs `{webhook-id}.{webhook-timestamp}.{body}` with HMAC-SHA256 under the
endpoint's secret (`whsec_` + base64) and sends `v1,<base64 signature>` in
`webhook-signature`, several space separated while a secret is being rotated.

Written with the standard library (hmac, base64) rather than the `standardwebhooks`
package: the check is a dozen lines, and that package would bring attrs, dateutil and
Deprecated along into every application using the SDK."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

from payoutd_client.models import WebhookEvent

TOLERANCE_SECONDS = 300  # how far webhook-timestamp may be from now, either way
SECRET_PREFIX = "whsec_"


class WebhookVerificationError(Exception):
    """The webhook is not proven to come from payoutd: refuse it (answer 400)."""


def _header(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if value is None:  # a plain dict with other capitalisation
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    if not value:
        raise WebhookVerificationError(f"missing header {name}")
    return value


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not a whsec_ base64 secret") from None


def sign(msg_id: str, timestamp: int, payload: bytes, secret: str) -> str:
    """The `v1,...` signature of a message, as payoutd makes it."""
    signed = f"{msg_id}.{timestamp}.".encode() + payload
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    payload: bytes | str,
    headers: Mapping[str, str],
    secret: str,
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """The event in a webhook, once its signature proves payoutd sent it; raises
    WebhookVerificationError otherwise (a wrong or missing signature, a timestamp more
    than `tolerance` seconds away, a body that is not an event).

    Pass the body exactly as received (bytes), before any JSON parsing: a re-encoded body
    does not match its signature."""
    body = payload.encode() if isinstance(payload, str) else bytes(payload)
    msg_id = _header(headers, "webhook-id")
    stamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    expected = sign(msg_id, timestamp, body, secret).encode()
    for candidate in signatures.split():
        if candidate.startswith("v1,") and hmac.compare_digest(candidate.encode(), expected):
            break
    else:
        raise WebhookVerificationError("no matching signature")
    try:
        event: Any = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    if not isinstance(event, dict):
        raise WebhookVerificationError("the body is not an event object")
    return WebhookEvent.from_json(event)
