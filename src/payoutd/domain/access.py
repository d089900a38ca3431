"""Merchants, their API keys and what the access rules know of them: the records the
services pass around (payoutd.store keeps them; secrets in them are sealed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Merchant:
    id: str
    name: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    merchant_id: str | None
    prefix: str
    key_hash: str
    scopes: frozenset[str]
    name: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    ip_allowlist: list[str] | None = None
    rate_limit_per_minute: int | None = None
    signing_secret: str | None = None  # sealed
    secret_sealed: str | None = None  # the key's own secret, sealed; None before 0007


@dataclass(frozen=True, slots=True)
class MerchantPolicy:
    """What the access rules need to know of a key's merchant on every request."""

    payouts_forbidden_until: datetime | None
    address_allowlist: bool
    totp_enrolled: bool


@dataclass(frozen=True, slots=True)
class Totp:
    secret: str | None  # sealed
    last_step: int | None
