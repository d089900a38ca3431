"""Webhook subscriptions and deliveries: fan-out from the outbox, attempts, retries.

Delivery is at least once and lives in the database: an event is fanned out to
deliveries in the same transaction that marks it dispatched, and a delivery is leased
before each attempt, so neither a restart nor a crash loses one."""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from payoutd.domain import webhook_policy
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.domain.webhooks import (
    AttemptResult,
    Delivery,
    Endpoint,
    Lane,
    Outcome,
    Prepared,
    new_secret,
)
from payoutd.ids import new_id
from payoutd.services.context import Context
from payoutd.services.merchants import payout_key
from payoutd.services.ports import CallbackFormat, EndpointFormat, UnitOfWork
from payoutd.services.views import ts

# A claimed delivery's lease: longer than one attempt's timeout, and renewed while the
# worker holds it (worker.jobs.Deliveries), so a queue may outlive it.
LEASE = timedelta(seconds=60)


MAX_URL_LENGTH = 2048  # the column's size
_LABEL = re.compile(r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)")
_UNSAFE_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")


def check_url(url: str, *, allow_private: bool, field: str = "url") -> str:
    """The one rule for every URL payoutd sends webhooks to (endpoints' and payouts'
    callback_url): syntax, host, port, no credentials, length, and an address written
    into the URL itself, refused at once rather than at every attempt (host names are
    checked by the guard when each attempt resolves them)."""

    def refuse(message: str) -> PayoutdError:
        return field_error("validation_error", field, f"{field} {message}")

    if len(url) > MAX_URL_LENGTH:
        raise refuse(f"must be at most {MAX_URL_LENGTH} characters")
    if _UNSAFE_CHARACTERS.search(url):
        raise refuse("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        if "port" in str(exc).lower():
            raise refuse("port must be a number from 1 to 65535") from exc
        raise refuse(f"is not a valid URL ({exc})") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse("must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not carry credentials")
    if port == 0:
        raise refuse("port must be a number from 1 to 65535")
    host = parts.hostname
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        address = None
        if not _valid_name(host):
            raise refuse(f"has an invalid host name {host!r}") from None
    if not allow_private:
        reason = webhook_policy.forbidden(address) if address is not None else None
        if reason or host.lower() in ("localhost", "localhost.localdomain"):
            raise field_error(
                "validation_error",
                field,
                f"webhooks cannot go to {reason or 'localhost'}; "
                f"{webhook_policy.ALLOW_PRIVATE_HINT}",
            )
    return url


def _valid_name(host: str) -> bool:
    """A DNS name (an internationalized one in its ASCII form), not a malformed IPv4
    address such as 999.1.1.1."""
    try:
        ascii_host = host.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return False
    labels = ascii_host.split(".")
    return (
        len(ascii_host) <= 253
        and all(_LABEL.fullmatch(label) for label in labels)
        and not labels[-1].isdigit()
    )


async def create_endpoint(
    uow: UnitOfWork,
    ctx: Context,
    merchant_id: str,
    url: str,
    *,
    event_types: list[str] | None,
    services: list[str] | None,
    description: str | None,
    format: str | None = None,
) -> Endpoint:
    """A new endpoint. `format`: a provider dialect's webhook format its deliveries are
    sent in (ctx.endpoint_formats); None for payoutd's own."""
    if format is not None:
        _endpoint_format(ctx, format)  # a name this build speaks, or LookupError
    try:
        subscription = webhook_policy.expand(event_types, services)
    except ValueError as exc:
        raise field_error("validation_error", "event_types", str(exc)) from exc
    now = ctx.clock.now()
    endpoint = Endpoint(
        id=new_id(),
        merchant_id=merchant_id,
        url=check_url(url, allow_private=ctx.settings.webhook_allow_private),
        event_types=subscription,
        description=description,
        secret=ctx.secrets.seal(new_secret()),
        previous_secret=None,
        previous_secret_expires_at=None,
        status="enabled",
        disabled_reason=None,
        failing_since=None,
        created_at=now,
        updated_at=now,
        format=format,
    )
    await uow.webhooks.add_endpoint(endpoint)
    return endpoint


async def endpoint(uow: UnitOfWork, merchant_id: str, endpoint_id: str) -> Endpoint:
    found = await uow.webhooks.endpoint(merchant_id, endpoint_id)
    if found is None:
        raise PayoutdError("not_found", "Webhook endpoint not found")
    return found


async def delete_endpoint(
    uow: UnitOfWork, ctx: Context, merchant_id: str, endpoint_id: str
) -> None:
    await endpoint(uow, merchant_id, endpoint_id)
    await uow.webhooks.update_endpoint(endpoint_id, ctx.clock.now(), status="deleted")
    await uow.webhooks.cancel_pending(endpoint_id)


async def rotate_secret(
    uow: UnitOfWork, ctx: Context, merchant_id: str, endpoint_id: str, overlap_seconds: int | None
) -> Endpoint:
    """A new secret; the old one keeps signing too until the overlap ends, so receivers
    can switch without dropping a delivery."""
    current = await endpoint(uow, merchant_id, endpoint_id)
    now = ctx.clock.now()
    overlap = timedelta(
        seconds=ctx.settings.webhook_rotation_overlap_seconds
        if overlap_seconds is None
        else overlap_seconds
    )
    secret = ctx.secrets.seal(new_secret())
    await uow.webhooks.update_endpoint(
        endpoint_id,
        now,
        secret=secret,
        previous_secret=current.secret,
        previous_secret_expires_at=now + overlap,
    )
    return replace(
        current,
        secret=secret,
        previous_secret=current.secret,
        previous_secret_expires_at=now + overlap,
        updated_at=now,
    )


async def enable(uow: UnitOfWork, ctx: Context, merchant_id: str, endpoint_id: str) -> Endpoint:
    current = await endpoint(uow, merchant_id, endpoint_id)
    now = ctx.clock.now()
    await uow.webhooks.update_endpoint(
        endpoint_id, now, status="enabled", disabled_reason=None, failing_since=None
    )
    return replace(current, status="enabled", disabled_reason=None, failing_since=None)


async def merchant_secret(
    uow: UnitOfWork, ctx: Context, merchant_id: str, *, rotate: bool = False
) -> str:
    """The secret that signs deliveries to payouts' own callback_url (made when first
    needed)."""
    sealed = await uow.merchants.webhook_secret(merchant_id)
    if sealed is not None and not rotate:
        return ctx.secrets.open(sealed)
    secret = new_secret()
    await uow.merchants.set_webhook_secret(merchant_id, ctx.secrets.seal(secret))
    return secret


# -- fan-out --------------------------------------------------------------------------


async def dispatch(uow: UnitOfWork, ctx: Context, limit: int = 500) -> int:
    """Turn new outbox events into deliveries: one per subscribed endpoint, and one to
    the payout's own callback_url."""
    events = await uow.webhooks.undispatched(limit)
    if not events:
        return 0
    now = ctx.clock.now()
    merchants = {e["merchant_id"] for e in events if e["merchant_id"]}
    by_merchant: dict[str, list[Endpoint]] = {}
    for ep in await uow.webhooks.enabled_endpoints(merchants):
        by_merchant.setdefault(ep.merchant_id, []).append(ep)
    rows: list[dict[str, Any]] = []

    def add(
        event: dict[str, Any], url: str, endpoint_id: str | None, payout_id: str | None = None
    ) -> None:
        rows.append(
            {
                "id": new_id(),
                "merchant_id": event["merchant_id"],
                "endpoint_id": endpoint_id,
                "payout_id": payout_id,
                "url": url,
                "event_id": event["id"],
                "event_seq": event["seq"],
                "event_type": event["type"],
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )

    called = [e["subject_id"] for e in events if _callback(e)]
    records = await uow.payouts.dialect_records(called) if called else {}
    for event in events:
        if not event["merchant_id"]:
            continue  # operator events (batch.broadcast) reach no merchant
        for ep in by_merchant.get(event["merchant_id"], []):
            if webhook_policy.wants(ep.event_types, event["type"]) and (
                ep.format is None or _endpoint_format(ctx, ep.format).wants(event)
            ):
                add(event, ep.url, ep.id)
        callback = _callback(event)
        if callback:
            record = records.get(event["subject_id"])
            if record is not None and not _format(ctx, record.dialect).wants(event):
                continue  # the provider's format has no webhook for this event
            add(event, callback, None, event["subject_id"])  # the subject: the payout
    await uow.webhooks.add_deliveries(rows)
    await uow.webhooks.mark_dispatched([e["seq"] for e in events], now)
    return len(rows)


def _callback(event: dict[str, Any]) -> str | None:
    url: str | None = (event["payload"].get("payout") or {}).get("callback_url")
    return url


def _format(ctx: Context, dialect: str) -> CallbackFormat:
    found = ctx.callback_formats.get(dialect)
    if found is None:  # a payout made by a dialect this build no longer speaks
        raise LookupError(f"no callback format for the {dialect!r} dialect")
    return found


def _endpoint_format(ctx: Context, name: str) -> EndpointFormat:
    found = ctx.endpoint_formats.get(name)
    if found is None:  # an endpoint of a dialect this build no longer speaks
        raise LookupError(f"no endpoint format {name!r}")
    return found


def body(event: dict[str, Any]) -> str:
    """What the receiver gets: the event as it was when it happened."""
    return json.dumps(
        {
            "id": event["id"],
            "type": event["type"],
            "created_at": ts(event["created_at"]),
            "data": event["payload"],
        },
        separators=(",", ":"),
        sort_keys=True,
    )


async def prepare_attempts(
    uow: UnitOfWork, ctx: Context, due: Sequence[Delivery], now: datetime
) -> list[Prepared | None]:
    """For each delivery, what its next attempt sends (domain.webhooks.Prepared): the
    secrets in use at `now` (the engine's clock, which also set the rotation's end) and
    the event's body, signed by the worker right before sending; or, to the callback_url
    of a payout a provider dialect created, that provider's body signed with the key that
    created it. None when the delivery has no event or its endpoint is gone (then it is
    cancelled). Reads each event, endpoint and key once for all of them."""
    events = await uow.webhooks.events([d.event_id for d in due])
    endpoints = await uow.webhooks.endpoints_by_id(
        [d.endpoint_id for d in due if d.endpoint_id is not None]
    )
    records = await uow.payouts.dialect_records(
        [d.payout_id for d in due if d.endpoint_id is None and d.payout_id is not None]
    )
    merchant_secrets: dict[str, str] = {}
    key_secrets: dict[str | None, str] = {}
    prepared: list[Prepared | None] = []
    for d in due:
        event = events.get(d.event_id)
        ep = endpoints.get(d.endpoint_id) if d.endpoint_id is not None else None
        if event is None or (d.endpoint_id is not None and (ep is None or ep.status != "enabled")):
            prepared.append(None)
            continue
        record = records.get(d.payout_id or "") if ep is None else None
        if record is not None:
            key_id = record.key_id
            if key_id not in key_secrets:
                key_secrets[key_id] = await _signing_key(uow, ctx, d.merchant_id, key_id)
            headers, text = _format(ctx, record.dialect).render(event, key_secrets[key_id], record)
            prepared.append(Prepared([], text, headers))
            continue
        if ep is not None and ep.format is not None:
            # a provider's subscription: its body, signed with the endpoint's own key
            fmt = _endpoint_format(ctx, ep.format)
            headers, text = fmt.render(event, ep.id, ctx.secrets.open(ep.secret))
            prepared.append(Prepared([], text, headers))
            continue
        if ep is not None:
            secrets_in_use = [ctx.secrets.open(s) for s in ep.secrets_at(now)]
        else:
            if d.merchant_id not in merchant_secrets:
                merchant_secrets[d.merchant_id] = await merchant_secret(uow, ctx, d.merchant_id)
            secrets_in_use = [merchant_secrets[d.merchant_id]]
        prepared.append(Prepared(secrets_in_use, body(event)))
    return prepared


async def _signing_key(uow: UnitOfWork, ctx: Context, merchant_id: str, key_id: str | None) -> str:
    """The payout key (the whole API key) that created the payout; when it was deleted since,
    the merchant's newest payouts key, as the provider signs with its current payout key.
    Empty when the merchant has none left: the receiver then refuses the signature, and
    the delivery log shows its failures."""
    keys = [
        k
        for k in await uow.merchants.keys(merchant_id)
        if k.revoked_at is None and "payouts" in k.scopes and k.secret_sealed is not None
    ]
    chosen = next((k for k in keys if k.id == key_id), None)
    if chosen is None and keys:
        chosen = max(keys, key=lambda k: k.created_at)
    # the whole key, as the requests the dialect verifies are signed with it
    token = None if chosen is None else payout_key(ctx, chosen)
    return token or ""


async def claim_due(
    uow: UnitOfWork,
    ctx: Context,
    now: datetime,
    until: datetime,
    limit: int,
    *,
    skip_lanes: Sequence[str] = (),
) -> list[tuple[Delivery, Prepared | None]]:
    """The due deliveries, leased until `until`, each with what its attempt needs
    (`prepare_attempts`); None for those cancelled here, their endpoint disabled or
    deleted meanwhile."""
    due = await uow.webhooks.claim_due(now, until, limit, skip_lanes=skip_lanes)
    attempts = list(zip(due, await prepare_attempts(uow, ctx, due, now), strict=True))
    await uow.webhooks.record_many(
        [
            Outcome(d, now, "cancelled", None, None, None, "endpoint disabled or deleted")
            for d, prepared in attempts
            if prepared is None
        ]
    )
    return attempts


async def renew_leases(uow: UnitOfWork, held: dict[str, datetime], until: datetime) -> list[str]:
    """Extend to `until` the leases this worker still holds; returns their deliveries."""
    return await uow.webhooks.renew_leases(held, until)


async def record_delivered(
    uow: UnitOfWork, ctx: Context, delivered: Sequence[tuple[Delivery, AttemptResult, datetime]]
) -> None:
    """Successful attempts (each with when it was answered), recorded together: the
    deliveries are done and their endpoints no longer failing."""
    if not delivered:
        return
    await uow.webhooks.record_many(
        [
            Outcome(d, at, "delivered", None, result.status_code, result.latency_ms, None)
            for d, result, at in delivered
        ]
    )
    endpoints = await uow.webhooks.endpoints_by_id(
        [d.endpoint_id for d, _, _ in delivered if d.endpoint_id is not None]
    )
    now = ctx.clock.now()
    for ep in endpoints.values():
        if ep.failing_since is not None:
            await uow.webhooks.update_endpoint(ep.id, now, failing_since=None)


async def record(uow: UnitOfWork, ctx: Context, d: Delivery, result: AttemptResult) -> str:
    """What one attempt means for the delivery and its endpoint. Returns the delivery's
    new status."""
    now = ctx.clock.now()
    if result.ok:
        await record_delivered(uow, ctx, [(d, result, now)])
        return "delivered"
    ep = await uow.webhooks.endpoint(None, d.endpoint_id) if d.endpoint_id else None
    if result.gone and ep is not None:
        await uow.webhooks.record(
            d,
            at=now,
            status="cancelled",
            next_attempt_at=None,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error="410 Gone",
        )
        await _disable(uow, ep, now, "the receiver answered 410 Gone")
        return "cancelled"
    retry = webhook_policy.next_attempt(d.attempts + 1, now, result.retry_after)
    status = "pending" if retry is not None else "failed"
    error = result.error or f"HTTP {result.status_code}"
    await uow.webhooks.record(
        d,
        at=now,
        status=status,
        next_attempt_at=retry,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=error,
    )
    if ep is not None:
        failing_since = ep.failing_since or now
        if ep.failing_since is None:
            await uow.webhooks.update_endpoint(ep.id, now, failing_since=now)
        limit = timedelta(hours=ctx.settings.webhook_disable_after_hours)
        if now - failing_since >= limit:
            await _disable(uow, ep, now, f"every delivery failed for {limit} (last: {error})")
            return "cancelled"
    return status


async def _disable(uow: UnitOfWork, ep: Endpoint, now: datetime, reason: str) -> None:
    await uow.webhooks.update_endpoint(ep.id, now, status="disabled", disabled_reason=reason)
    await uow.webhooks.cancel_pending(ep.id)


async def own_lane(uow: UnitOfWork, merchant_id: str, lane: Lane) -> None:
    """not_found unless the endpoint, or the payout, whose deliveries these are is the
    merchant's."""
    if lane.endpoint_id is not None:
        await endpoint(uow, merchant_id, lane.endpoint_id)
    elif lane.payout_id is None or await uow.payouts.get(merchant_id, lane.payout_id) is None:
        raise PayoutdError("not_found", "Payout not found")


async def redeliver(
    uow: UnitOfWork, ctx: Context, merchant_id: str, lane: Lane, delivery_id: str
) -> Delivery:
    """Send a delivery again now: one of an endpoint's, or of a payout's callback_url."""
    await own_lane(uow, merchant_id, lane)
    d = await uow.webhooks.delivery(lane, delivery_id)
    if d is None:
        raise PayoutdError("not_found", "Delivery not found")
    now = ctx.clock.now()
    await uow.webhooks.redeliver(d.id, now)
    return replace(d, status="pending", next_attempt_at=now)
