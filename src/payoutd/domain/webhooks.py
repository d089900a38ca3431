"""Webhook endpoints, deliveries and what an attempt came to: the records the services
and the worker pass around (payoutd.store keeps them)."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

SECRET_PREFIX = "whsec_"  # Standard Webhooks' form of a signing secret


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    merchant_id: str
    url: str
    event_types: list[str]
    description: str | None
    secret: str  # sealed, as previous_secret (payoutd.secretbox)
    previous_secret: str | None
    previous_secret_expires_at: datetime | None
    status: str
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    updated_at: datetime
    # a provider dialect's webhook format (services.ports.EndpointFormat); None: payoutd's
    # own, Standard Webhooks
    format: str | None = None

    def secrets_at(self, now: datetime) -> list[str]:
        """The secrets that sign right now: the current one, and the previous one while
        its rotation overlap lasts."""
        found = [self.secret]
        if (
            self.previous_secret
            and self.previous_secret_expires_at
            and now < self.previous_secret_expires_at
        ):
            found.append(self.previous_secret)
        return found


@dataclass(frozen=True, slots=True)
class Delivery:
    id: str
    merchant_id: str
    endpoint_id: str | None
    payout_id: str | None  # set for a payout's callback_url
    url: str
    event_id: str
    event_seq: int
    event_type: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_latency_ms: int | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt of a delivery came to."""

    delivery: Delivery
    at: datetime
    status: str
    next_attempt_at: datetime | None
    status_code: int | None
    latency_ms: int | None
    error: str | None


@dataclass(frozen=True, slots=True)
class Lane:
    """Whose deliveries: an endpoint's, or those to a payout's callback_url."""

    endpoint_id: str | None = None
    payout_id: str | None = None


@dataclass(frozen=True, slots=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    retry_after: timedelta | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self) -> bool:
        """410 Gone: the receiver asks for the endpoint to be disabled."""
        return self.status_code == 410


class Prepared(NamedTuple):
    """What a delivery's next attempt sends: its body, and either the secrets that sign
    it with Standard Webhooks' headers when it is sent, or (a provider's format, signed
    inside its body) the headers it is sent with as they are."""

    secrets: list[str]
    body: str
    headers: dict[str, str] | None = None
