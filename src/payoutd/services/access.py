"""Access rules: payout keys behind two-factor, the cooldown a new payout key starts,
address allowlists, and the audit trail of every such change.

Two-factor belongs to the account's owner: the operator enrols and resets it (Spark binds
2FA in the account's settings), never an API key, so a stolen key cannot bind a device of
its own. Wrong codes are counted in the database and lock the merchant out for a while."""

from __future__ import annotations

import math
import secrets as secrets_module
from datetime import datetime, timedelta

import pyotp

from payoutd.domain.access import ApiKey, MerchantPolicy, Totp
from payoutd.domain.assets import NETWORKS
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.services.context import Context
from payoutd.services.merchants import IssuedKey, issue_key
from payoutd.services.ports import UnitOfWork

TOTP_ISSUER = "payoutd"
TOTP_WINDOW = 1  # one 30 s step either side, for clock drift


async def first_use_of_signature(
    uow: UnitOfWork, key_id: str, signature: str, *, expires_at: datetime, now: datetime
) -> bool:
    """Whether this signed request is new; it is remembered in the database until
    `expires_at`, so another API process, or this one after a restart, refuses it too."""
    return await uow.signatures.first_use(key_id, signature, expires_at=expires_at, now=now)


def ensure_payouts_allowed(policy: MerchantPolicy | None, now: datetime) -> None:
    """Creating or approving a payout is refused during a new payout key's cooldown."""
    if policy and policy.payouts_forbidden_until and now < policy.payouts_forbidden_until:
        raise PayoutdError("payouts_forbidden")


async def enrol_totp(
    uow: UnitOfWork, ctx: Context, merchant_id: str, *, actor: str, source: str | None
) -> tuple[str, str]:
    """The operator binds two-factor to a merchant that has none: (secret, otpauth://
    URI), shown once."""
    current = await _merchant_totp(uow, merchant_id)
    if current.secret is not None:
        raise PayoutdError("totp_already_enrolled")
    return await _new_totp_secret(
        uow, ctx, merchant_id, "totp.enrolled", actor=actor, source=source
    )


async def reset_totp(
    uow: UnitOfWork, ctx: Context, merchant_id: str, *, actor: str, source: str | None
) -> tuple[str, str]:
    """The operator replaces a merchant's TOTP secret (a lost device, a lockout to end):
    the old secret stops working and past wrong codes are forgotten."""
    await _merchant_totp(uow, merchant_id)
    await uow.merchants.clear_totp_failures(merchant_id)
    return await _new_totp_secret(uow, ctx, merchant_id, "totp.reset", actor=actor, source=source)


async def _merchant_totp(uow: UnitOfWork, merchant_id: str) -> Totp:
    if await uow.merchants.get(merchant_id) is None:
        raise PayoutdError("merchant_not_found")
    return await uow.merchants.totp(merchant_id, for_update=True)


async def _new_totp_secret(
    uow: UnitOfWork, ctx: Context, merchant_id: str, action: str, *, actor: str, source: str | None
) -> tuple[str, str]:
    secret = pyotp.random_base32()
    await uow.merchants.set_totp(
        merchant_id, totp_secret=ctx.secrets.seal(secret), totp_last_step=None
    )
    await uow.audit.record(
        actor=actor,
        action=action,
        now=ctx.clock.now(),
        merchant_id=merchant_id,
        subject_id=merchant_id,
        source=source,
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=merchant_id, issuer_name=TOTP_ISSUER)
    return secret, uri


async def verify_totp(uow: UnitOfWork, ctx: Context, merchant_id: str, code: str | None) -> None:
    """A current code, used at most once: the accepted time step is remembered and no
    code of that step or an earlier one is accepted again (RFC 6238 §5.2). During a
    lockout every code is refused, the right one too: otherwise guessing goes on.

    A refusal rolls the caller's transaction back; the caller then records it with
    `record_totp_refusal` in a transaction of its own."""
    current = await uow.merchants.totp(merchant_id, for_update=True)
    if current.secret is None:
        raise field_error(
            "totp_required",
            "totp_code",
            "Two-factor authentication is not enrolled: the operator enrols "
            "it (payoutd merchant totp enrol)",
        )
    if not code:
        raise field_error("totp_required", "totp_code")
    locked = await _lockout(uow, ctx, merchant_id)
    if locked is not None:
        raise locked
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


def is_totp_refusal(err: PayoutdError) -> bool:
    """A code was given and refused: an attempt `record_totp_refusal` keeps."""
    return err.code in ("totp_invalid", "totp_locked")


async def record_totp_refusal(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    refused: PayoutdError,
    *,
    actor: str,
    source: str | None,
) -> PayoutdError:
    """Keep a refused code (`verify_totp`'s transaction was rolled back): a wrong code
    counts towards the lockout, and every refusal is audited and counted in the metrics.
    Returns the answer to give, `totp_locked` when concurrent requests filled the window
    meanwhile: one merchant's refusals are recorded one at a time (its row is locked), so
    no more wrong codes are answered `totp_invalid` than the limit allows."""
    await uow.merchants.totp(merchant_id, for_update=True)
    now = ctx.clock.now()
    answer = refused
    if refused.code == "totp_invalid":
        answer = await _lockout(uow, ctx, merchant_id) or refused
    if answer.code == "totp_locked":
        await uow.audit.record(
            actor=actor,
            action="totp.refused",
            now=now,
            merchant_id=merchant_id,
            subject_id=merchant_id,
            source=source,
            details={"reason": "locked"},
        )
        if ctx.metrics:
            ctx.metrics.totp_failure("locked")
        return answer
    window = timedelta(seconds=ctx.settings.totp_failure_window_seconds)
    await uow.merchants.add_totp_failure(merchant_id, now, forget_before=now - window)
    await uow.audit.record(
        actor=actor,
        action="totp.failed",
        now=now,
        merchant_id=merchant_id,
        subject_id=merchant_id,
        source=source,
        details={"reason": answer.message},
    )
    if ctx.metrics:
        ctx.metrics.totp_failure("invalid")
    locked = await _lockout(uow, ctx, merchant_id)
    if locked is not None:
        await uow.audit.record(
            actor=actor,
            action="totp.locked",
            now=now,
            merchant_id=merchant_id,
            subject_id=merchant_id,
            source=source,
            details={
                "failures": ctx.settings.totp_max_failures,
                "retry_after_seconds": int(locked.headers["Retry-After"]),
            },
        )
        if ctx.metrics:
            ctx.metrics.totp_lockout()
    return answer


async def _lockout(uow: UnitOfWork, ctx: Context, merchant_id: str) -> PayoutdError | None:
    """`totp_locked` while the merchant's wrong codes within the window reach the limit;
    it lifts when the oldest of those that count leaves the window."""
    limit = ctx.settings.totp_max_failures
    window = timedelta(seconds=ctx.settings.totp_failure_window_seconds)
    now = ctx.clock.now()
    failures = await uow.merchants.totp_failures(merchant_id, since=now - window)
    if len(failures) < limit:
        return None
    wait = math.ceil((failures[-limit] + window - now).total_seconds())
    err = field_error("totp_locked", "totp_code")
    err.headers["Retry-After"] = str(max(wait, 1))
    return err


async def create_key(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    *,
    scopes: frozenset[str],
    name: str | None,
    totp_code: str | None,
    ip_allowlist: list[str] | None,
    rate_limit_per_minute: int | None,
    signed_requests: bool,
    actor: str,
    source: str | None,
) -> tuple[IssuedKey, datetime | None]:
    """A `payouts` key needs a current TOTP code and blocks payouts for the cooldown
    (Spark, Cryptomus): a stolen session cannot mint a key and pay out at once. Returns
    the key and, for a payout key, when the merchant's payouts are blocked until."""
    if "admin" in scopes:
        raise field_error("forbidden_scope", "scopes", "A merchant key cannot have `admin`")
    if "payouts" in scopes:
        await verify_totp(uow, ctx, merchant_id, totp_code)
    issued = issue_key(
        merchant_id,
        scopes,
        name,
        ctx,
        ip_allowlist=ip_allowlist,
        rate_limit_per_minute=rate_limit_per_minute,
        signed_requests=signed_requests,
    )
    await uow.merchants.add_key(issued.key)
    now = ctx.clock.now()
    blocked_until = None
    if "payouts" in scopes:
        blocked_until = await uow.merchants.forbid_payouts_until(
            merchant_id, now + timedelta(hours=ctx.settings.payout_key_cooldown_hours)
        )
    await uow.audit.record(
        actor=actor,
        action="api_key.created",
        now=now,
        merchant_id=merchant_id,
        subject_id=issued.key.id,
        source=source,
        details={
            "prefix": issued.key.prefix,
            "scopes": sorted(scopes),
            "ip_allowlist": ip_allowlist,
            "signed_requests": signed_requests,
        },
    )
    return issued, blocked_until


async def delete_key(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    key_id: str,
    totp_code: str | None,
    *,
    actor: str,
    source: str | None,
) -> ApiKey:
    """A TOTP code once the merchant has enrolled: a stolen key must not revoke the
    owner's other keys."""
    key = await uow.merchants.key(merchant_id, key_id)
    if key is None:
        raise PayoutdError("not_found", "API key not found")
    await _second_factor(uow, ctx, merchant_id, totp_code)
    now = ctx.clock.now()
    await uow.merchants.revoke_key(key_id, now)
    await uow.audit.record(
        actor=actor,
        action="api_key.deleted",
        now=now,
        merchant_id=merchant_id,
        subject_id=key_id,
        source=source,
        details={"prefix": key.prefix},
    )
    return key


async def lift_cooldown(
    uow: UnitOfWork, ctx: Context, merchant_id: str, *, actor: str, source: str | None
) -> datetime | None:
    """The operator ends a merchant's payout cooldown; the end it had, when one was
    running."""
    if await uow.merchants.get(merchant_id) is None:
        raise PayoutdError("merchant_not_found")
    now = ctx.clock.now()
    was = await uow.merchants.lift_cooldown(merchant_id)
    running = was if was is not None and was > now else None
    await uow.audit.record(
        actor=actor,
        action="cooldown.lifted",
        now=now,
        merchant_id=merchant_id,
        subject_id=merchant_id,
        source=source,
        details={"was_until": running.isoformat() if running else None},
    )
    return running


async def set_address_allowlist(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    enabled: bool,
    totp_code: str | None,
    *,
    actor: str,
    source: str | None,
) -> None:
    await _second_factor(uow, ctx, merchant_id, totp_code)
    await uow.merchants.set_address_allowlist(merchant_id, enabled)
    await uow.audit.record(
        actor=actor,
        action=f"address_allowlist.{'on' if enabled else 'off'}",
        now=ctx.clock.now(),
        merchant_id=merchant_id,
        subject_id=merchant_id,
        source=source,
    )


async def add_address(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    network: str,
    address: str,
    label: str | None,
    totp_code: str | None,
    *,
    actor: str,
    source: str | None,
) -> str:
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
    await uow.audit.record(
        actor=actor,
        action="address.added",
        now=now,
        merchant_id=merchant_id,
        subject_id=address_id,
        source=source,
        details={"network": net, "address": normalized, "label": label},
    )
    return address_id


async def remove_address(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    address_id: str,
    *,
    actor: str,
    source: str | None,
) -> None:
    removed = await uow.merchants.remove_address(merchant_id, address_id)
    if removed is None:
        raise PayoutdError("not_found", "Address not found")
    await uow.audit.record(
        actor=actor,
        action="address.removed",
        now=ctx.clock.now(),
        merchant_id=merchant_id,
        subject_id=address_id,
        source=source,
        details={"network": removed["network"], "address": removed["address"]},
    )


async def _second_factor(uow: UnitOfWork, ctx: Context, merchant_id: str, code: str | None) -> None:
    if (await uow.merchants.totp(merchant_id)).secret is not None:
        await verify_totp(uow, ctx, merchant_id, code)


async def ensure_address_allowed(
    uow: UnitOfWork, policy: MerchantPolicy | None, merchant_id: str, network: str, address: str
) -> None:
    if (
        policy
        and policy.address_allowlist
        and not await uow.merchants.address_saved(merchant_id, network, address)
    ):
        raise field_error("address_not_allowed", "address")
