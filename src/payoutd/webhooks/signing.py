"""Standard Webhooks signatures, made with the `standardwebhooks` package."""

from __future__ import annotations

from datetime import datetime

from standardwebhooks.webhooks import Webhook


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
