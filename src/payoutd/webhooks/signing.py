"""Standard Webhooks signatures, made with the `standardwebhooks` package."""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks.webhooks import Webhook

PREFIX = "whsec_"


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def headers(secrets_in_use: list[str], msg_id: str, at: datetime, body: str) -> dict[str, str]:
    """The three Standard Webhooks headers. During a secret rotation every secret in use
    signs, space separated, so receivers verifying with either one accept it."""
    signatures = " ".join(Webhook(s).sign(msg_id, at, body) for s in secrets_in_use)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signatures,
        "content-type": "application/json",
        "user-agent": "payoutd-webhooks/1",
    }
