"""Access rules: payout keys behind two-factor, the cooldown a new payout key starts,
address allowlists, and the audit trail of every such change."""

from __future__ import annotations

import secrets as secrets_module
from datetime import datetime, timedelta

import pyotp

from payoutd.domain.assets import NETWORKS
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.services.context import Context
from payoutd.services.merchants import IssuedKey, issue_key
from payoutd.store.merchants import ApiKey, MerchantPolicy
from payoutd.store.uow import UnitOfWork

TOTP_ISSUER = "payoutd"
TOTP_WINDOW = 1  # one 30 s step either side, for clock drift


def ensure_payouts_allowed(policy: MerchantPolicy | None, now: datetime) -> None:
    """Creating or approving a payout is refused during a new payout key's cooldown."""
    if policy and policy.payouts_forbidden_until and now < policy.payouts_forbidden_until:
        raise PayoutdError("payouts_forbidden")


async def enrol_totp(uow: UnitOfWork, ctx: Context, merchant_id: str, *, actor: str,
                     source: str | None) -> tuple[str, str]:
    """(secret, otpauth:// URI), shown once."""
    current = await uow.merchants.totp(merchant_id, for_update=True)
    if current.secret is not None:
        raise PayoutdError("totp_already_enrolled")
    secret = pyotp.random_base32()
    await uow.merchants.set_totp(merchant_id, totp_secret=ctx.secrets.seal(secret),
                                 totp_last_step=None)
    await uow.audit.record(actor=actor, action="totp.enrolled", now=ctx.clock.now(),
                           merchant_id=merchant_id, subject_id=merchant_id, source=source)
    uri = pyotp.TOTP(secret).provisioning_uri(name=merchant_id, issuer_name=TOTP_ISSUER)
    return secret, uri


async def verify_totp(uow: UnitOfWork, ctx: Context, merchant_id: str,
                      code: str | None) -> None:
    """A current code, used at most once: the accepted time step is remembered and no
    code of that step or an earlier one is accepted again (RFC 6238 §5.2)."""
    current = await uow.merchants.totp(merchant_id, for_update=True)
    if current.secret is None:
        raise field_error("totp_required", "totp_code",
                          "Enrol two-factor authentication first (POST /v1/totp)")
    if not code:
        raise field_error("totp_required", "totp_code")
    given = code.strip()
    if not (given.isascii() and given.isdigit()):
        # compare_digest refuses non-ASCII str (TypeError): such a code is simply wrong
        raise field_error("totp_invalid", "totp_code")
    totp = pyotp.TOTP(ctx.secrets.open(current.secret))
    now = ctx.clock.now()
    step_now = totp.timecode(now)
    matched = None
    for offset in range(-TOTP_WINDOW, TOTP_WINDOW + 1):
        step = step_now + offset
        if secrets_module.compare_digest(totp.generate_otp(step), given):
            matched = step
            break
    if matched is None:
        raise field_error("totp_invalid", "totp_code")
    if current.last_step is not None and matched <= current.last_step:
        raise field_error("totp_invalid", "totp_code", "This code was already used")
    await uow.merchants.set_totp(merchant_id, totp_last_step=matched)


async def create_key(uow: UnitOfWork, ctx: Context, merchant_id: str, *,
                     scopes: frozenset[str], name: str | None, totp_code: str | None,
                     ip_allowlist: list[str] | None, rate_limit_per_minute: int | None,
                     signed_requests: bool, actor: str, source: str | None) -> IssuedKey:
    """A `payouts` key needs a current TOTP code and blocks payouts for the cooldown
    (Spark, Cryptomus): a stolen session cannot mint a key and pay out at once."""
    if "admin" in scopes:
        raise field_error("forbidden_scope", "scopes", "A merchant key cannot have `admin`")
    if "payouts" in scopes:
        await verify_totp(uow, ctx, merchant_id, totp_code)
    issued = issue_key(merchant_id, scopes, name, ctx, ip_allowlist=ip_allowlist,
                       rate_limit_per_minute=rate_limit_per_minute,
                       signed_requests=signed_requests)
    await uow.merchants.add_key(issued.key)
    now = ctx.clock.now()
    if "payouts" in scopes:
        until = now + timedelta(hours=ctx.settings.payout_key_cooldown_hours)
        await uow.merchants.forbid_payouts_until(merchant_id, until)
    await uow.audit.record(actor=actor, action="api_key.created", now=now,
                           merchant_id=merchant_id, subject_id=issued.key.id, source=source,
                           details={"prefix": issued.key.prefix, "scopes": sorted(scopes),
                                    "ip_allowlist": ip_allowlist,
                                    "signed_requests": signed_requests})
    return issued


async def delete_key(uow: UnitOfWork, ctx: Context, merchant_id: str, key_id: str, *,
                     actor: str, source: str | None) -> ApiKey:
    key = await uow.merchants.key(merchant_id, key_id)
    if key is None:
        raise PayoutdError("not_found", "API key not found")
    now = ctx.clock.now()
    await uow.merchants.revoke_key(key_id, now)
    await uow.audit.record(actor=actor, action="api_key.deleted", now=now,
                           merchant_id=merchant_id, subject_id=key_id, source=source,
                           details={"prefix": key.prefix})
    return key


async def set_address_allowlist(uow: UnitOfWork, ctx: Context, merchant_id: str,
                                enabled: bool, totp_code: str | None, *, actor: str,
                                source: str | None) -> None:
    await _second_factor(uow, ctx, merchant_id, totp_code)
    await uow.merchants.set_address_allowlist(merchant_id, enabled)
    await uow.audit.record(actor=actor, action=f"address_allowlist.{'on' if enabled else 'off'}",
                           now=ctx.clock.now(), merchant_id=merchant_id,
                           subject_id=merchant_id, source=source)


async def add_address(uow: UnitOfWork, ctx: Context, merchant_id: str, network: str,
                      address: str, label: str | None, totp_code: str | None, *,
                      actor: str, source: str | None) -> str:
    """Saving an address needs a TOTP code once the merchant has enrolled two-factor."""
    net = network.upper()
    if net not in NETWORKS:
        raise field_error("service_not_found", "network")
    try:
        normalized = ctx.chain(net).validate_address(address)
    except ValueError as exc:
        raise field_error("invalid_address", "address", str(exc)) from exc
    await _second_factor(uow, ctx, merchant_id, totp_code)
    now = ctx.clock.now()
    address_id = await uow.merchants.add_address(merchant_id, net, normalized, label, now)
    if address_id is None:
        raise field_error("validation_error", "address", "This address is saved already")
    await uow.audit.record(actor=actor, action="address.added", now=now,
                           merchant_id=merchant_id, subject_id=address_id, source=source,
                           details={"network": net, "address": normalized, "label": label})
    return address_id


async def remove_address(uow: UnitOfWork, ctx: Context, merchant_id: str, address_id: str, *,
                         actor: str, source: str | None) -> None:
    removed = await uow.merchants.remove_address(merchant_id, address_id)
    if removed is None:
        raise PayoutdError("not_found", "Address not found")
    await uow.audit.record(actor=actor, action="address.removed", now=ctx.clock.now(),
                           merchant_id=merchant_id, subject_id=address_id, source=source,
                           details={"network": removed["network"],
                                    "address": removed["address"]})


async def _second_factor(uow: UnitOfWork, ctx: Context, merchant_id: str,
                         code: str | None) -> None:
    if (await uow.merchants.totp(merchant_id)).secret is not None:
        await verify_totp(uow, ctx, merchant_id, code)


async def ensure_address_allowed(uow: UnitOfWork, policy: MerchantPolicy | None,
                                 merchant_id: str, network: str, address: str) -> None:
    if policy and policy.address_allowlist and not await uow.merchants.address_saved(
            merchant_id, network, address):
        raise field_error("address_not_allowed", "address")
