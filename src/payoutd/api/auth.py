"""Bearer API keys: scopes, IP allowlists, rate limits and optional request signing."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from fastapi import Request

from payoutd.api import reads
from payoutd.bootstrap import Runtime
from payoutd.domain.access import ApiKey, MerchantPolicy
from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import ServiceFee
from payoutd.services import access, merchants

SIGNATURE_HEADER = "x-payoutd-signature"
TIMESTAMP_HEADER = "x-payoutd-timestamp"
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is kept to the minute, not per request


@dataclass(frozen=True, slots=True)
class Principal:
    key: ApiKey
    policy: MerchantPolicy | None = None
    source: str | None = None  # the client's address, for the audit trail
    fees: Mapping[str, ServiceFee] = field(default_factory=dict)  # the merchant's service fees

    @property
    def merchant_id(self) -> str:
        if self.key.merchant_id is None:
            raise PayoutdError("forbidden_scope", "An operator key acts for no merchant")
        return self.key.merchant_id

    @property
    def actor(self) -> str:
        return f"key:{self.key.prefix}"


def signature(secret: str, timestamp: str, method: str, path: str, body: bytes) -> str:
    """HMAC-SHA256 over timestamp, method, path (with query) and body, hex."""
    message = b"\n".join([timestamp.encode(), method.upper().encode(), path.encode(), body])
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _client(request: Request) -> str | None:
    return request.client.host if request.client else None


async def _check_signature(request: Request, rt: Runtime, key: ApiKey) -> None:
    assert key.signing_secret is not None
    stamp = request.headers.get(TIMESTAMP_HEADER, "")
    given = request.headers.get(SIGNATURE_HEADER, "").removeprefix("v1=")
    if not stamp.isdigit() or not given:
        raise PayoutdError(
            "signature_invalid",
            f"This key requires signed requests: send {TIMESTAMP_HEADER} and {SIGNATURE_HEADER}",
        )
    window = rt.settings.request_signature_window_seconds
    if abs(rt.ctx.clock.now().timestamp() - int(stamp)) > window:
        raise PayoutdError("signature_invalid", "The request timestamp is outside the window")
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    expected = signature(
        rt.ctx.secrets.open(key.signing_secret), stamp, request.method, path, await request.body()
    )
    if not hmac.compare_digest(expected, given):
        raise PayoutdError("signature_invalid")
    async with rt.db.unit() as uow:
        first = await access.first_use_of_signature(
            uow,
            key.id,
            given,
            expires_at=datetime.fromtimestamp(int(stamp) + window, UTC),
            now=rt.ctx.clock.now(),
        )
    if not first:
        raise PayoutdError("signature_invalid", "This signed request was already used")


def require(scope: str) -> Callable[[Request], Awaitable[Principal]]:
    async def dependency(request: Request) -> Principal:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise PayoutdError("unauthorized", "Missing API key: send Authorization: Bearer <key>")
        prefix, secret = merchants.key_prefix(token.strip())
        row = await reads.key_row(request, prefix) if secret else None
        key, policy = merchants.verify_key(None if row is None else (row.key, row.policy), secret)
        return await admit(request, key, policy, row, scope)

    return dependency


async def admit(
    request: Request,
    key: ApiKey,
    policy: MerchantPolicy | None,
    row: reads.KeyRow | None,
    scope: str,
    *,
    signed_requests: bool = True,
) -> Principal:
    """The rules every request with a verified key passes, however the key was shown (a
    bearer token, or a provider dialect's signature made with it): the key's IP
    allowlist, its rate limit, payoutd's request signature when the key asks for one
    (`signed_requests`: a dialect's own signature stands for it), the scope. Touches the
    key's last_used_at."""
    rt: Runtime = request.app.state.runtime
    source = _client(request)
    if key.ip_allowlist:
        try:
            ip = ipaddress.ip_address(source or "")
        except ValueError:
            ip = None
        if ip is None or not any(ip in ipaddress.ip_network(n) for n in key.ip_allowlist):
            raise PayoutdError("ip_not_allowed")
    wait = await rt.rate_limits.take(
        key.id, key.rate_limit_per_minute or rt.settings.api_rate_limit_per_minute
    )
    if wait is not None:
        raise PayoutdError("rate_limited", headers={"Retry-After": str(math.ceil(wait))})
    if signed_requests and key.signing_secret is not None:
        await _check_signature(request, rt, key)
    if scope not in key.scopes and not (scope == "read" and "payouts" in key.scopes):
        raise PayoutdError("forbidden_scope", f"This key lacks the `{scope}` scope")
    now = rt.ctx.clock.now()
    # the row may be a cached one: remember this process's own touches too
    touched: dict[str, datetime] = request.app.state.touched
    last = max(filter(None, (key.last_used_at, touched.get(key.id))), default=None)
    if last is None or now - last >= TOUCH_EVERY:
        touched[key.id] = now
        async with rt.db.unit() as uow:
            await merchants.touch_key(uow, key.id, now)
    return Principal(key, policy, source, row.fees if row is not None else {})
