"""Merchants, API keys and operator deposits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from payoutd.domain.access import ApiKey, Merchant, MerchantPolicy
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.fees import ServiceFee
from payoutd.domain.ledger import deposit as deposit_entries
from payoutd.domain.money import decimals_of
from payoutd.ids import new_id
from payoutd.services.context import Context
from payoutd.services.ports import UnitOfWork

SCOPES = frozenset({"read", "payouts", "admin"})
KEY_PREFIX = "pk"


def hash_secret(secret: str) -> str:
    # The secret is 32 random bytes, so a plain SHA-256 cannot be brute-forced; a slow
    # password hash would only slow every request down.
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    plaintext: str  # shown once, stored only sealed
    signing_secret: str | None = None  # likewise


def issue_key(
    merchant_id: str | None,
    scopes: frozenset[str],
    name: str | None,
    ctx: Context,
    *,
    ip_allowlist: list[str] | None = None,
    rate_limit_per_minute: int | None = None,
    signed_requests: bool = False,
) -> IssuedKey:
    unknown = scopes - SCOPES
    if unknown or not scopes:
        raise field_error(
            "validation_error", "scopes", f"scopes must be some of {', '.join(sorted(SCOPES))}"
        )
    networks = []
    for cidr in ip_allowlist or []:
        try:
            networks.append(str(ipaddress.ip_network(cidr, strict=False)))
        except ValueError:
            raise field_error(
                "validation_error", "ip_allowlist", f"{cidr!r} is not an IP address or network"
            ) from None
    prefix = f"{KEY_PREFIX}_{secrets.token_hex(6)}"
    secret = secrets.token_urlsafe(32)
    signing_secret = secrets.token_urlsafe(32) if signed_requests else None
    key = ApiKey(
        id=new_id(),
        merchant_id=merchant_id,
        prefix=prefix,
        key_hash=hash_secret(secret),
        scopes=scopes,
        name=name,
        created_at=ctx.clock.now(),
        last_used_at=None,
        revoked_at=None,
        ip_allowlist=networks or None,
        rate_limit_per_minute=rate_limit_per_minute,
        signing_secret=signing_secret and ctx.secrets.seal(signing_secret),
        secret_sealed=ctx.secrets.seal(secret),
    )
    return IssuedKey(key, f"{prefix}_{secret}", signing_secret)


def key_secret(ctx: Context, key: ApiKey) -> str | None:
    """The secret part of a key, for checking signatures made with it (provider dialects);
    None for a key made before payoutd kept a sealed copy (migration 0007)."""
    return None if key.secret_sealed is None else ctx.secrets.open(key.secret_sealed)


def payout_key(ctx: Context, key: ApiKey) -> str | None:
    """The whole key as its holder has it (`pk_<prefix>_<secret>`): a provider's "payout
    key", which signs the dialect's requests and its webhooks alike; None as for
    key_secret."""
    secret = key_secret(ctx, key)
    return None if secret is None else f"{key.prefix}_{secret}"


async def create_merchant(uow: UnitOfWork, ctx: Context, name: str) -> tuple[Merchant, IssuedKey]:
    """A merchant and its first key (scope `payouts` and `read`)."""
    if not name.strip():
        raise field_error("validation_error", "name", "name must not be empty")
    merchant = Merchant(new_id(), name.strip(), ctx.clock.now())
    await uow.merchants.add(merchant)
    issued = issue_key(merchant.id, frozenset({"read", "payouts"}), "first key", ctx)
    await uow.merchants.add_key(issued.key)
    return merchant, issued


async def create_operator_key(uow: UnitOfWork, ctx: Context, name: str | None) -> IssuedKey:
    issued = issue_key(None, frozenset({"admin", "read"}), name, ctx)
    await uow.merchants.add_key(issued.key)
    return issued


def key_prefix(presented: str) -> tuple[str, str]:
    """(prefix, secret) of a presented key: the prefix finds the row."""
    # pk_<12 hex>_<secret>; the secret itself may contain "_"
    head, _, rest = presented.partition("_")
    middle, _, secret = rest.partition("_")
    return f"{head}_{middle}", (secret if middle else "")


def verify_key(
    found: tuple[ApiKey, MerchantPolicy | None] | None, secret: str
) -> tuple[ApiKey, MerchantPolicy | None]:
    """The row the prefix found, if it is live and the secret matches (compared in
    constant time); else 401."""
    if (
        found is None
        or not secret
        or found[0].revoked_at is not None
        or not hmac.compare_digest(found[0].key_hash, hash_secret(secret))
    ):
        raise PayoutdError("unauthorized", "Invalid or missing API key")
    return found


async def set_service_fee(
    uow: UnitOfWork, ctx: Context, merchant_id: str, currency_code: str, fee: ServiceFee
) -> str:
    """The merchant's own fee for one currency, in place of the operator's default.
    Returns the currency's code."""
    code = ctx.currency(currency_code).code
    if await uow.merchants.get(merchant_id) is None:
        raise PayoutdError("merchant_not_found")
    await uow.service_fees.set(merchant_id, code, fee, ctx.clock.now())
    return code


async def touch_key(uow: UnitOfWork, key_id: str, now: datetime) -> None:
    """Remember when the key was last used (shown with the key)."""
    await uow.merchants.touch_key(key_id, now)


async def deposit(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    currency_code: str,
    amount: Decimal,
    *,
    actor: str = "operator",
    source: str | None = None,
) -> str:
    """Credit a merchant's balance through the ledger (money that arrived from outside)."""
    if await uow.merchants.get(merchant_id) is None:
        raise PayoutdError("merchant_not_found")
    # fiat too (USD, EUR and any the rates file prices): a payout may be paid from it
    cur = ctx.currency(currency_code)
    if decimals_of(amount) > cur.decimals:
        raise field_error(
            "invalid_amount", "amount", f"{cur.code} amounts have at most {cur.decimals} decimals"
        )
    now = ctx.clock.now()
    tx_id = await uow.ledger.post(
        "deposit", merchant_id, deposit_entries(merchant_id, cur.code, amount), now
    )
    await uow.audit.record(
        actor=actor,
        action="deposit",
        now=now,
        merchant_id=merchant_id,
        subject_id=tx_id,
        source=source,
        details={"currency": cur.code, "amount": format(amount, "f")},
    )
    return tx_id
