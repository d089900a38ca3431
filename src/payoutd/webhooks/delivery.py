"""One HTTP attempt at delivering a webhook, through the SSRF guard."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx

from payoutd.domain.webhook_policy import TIMEOUT_SECONDS
from payoutd.domain.webhooks import AttemptResult
from payoutd.webhooks.ssrf import Resolver, UnsafeDestination, resolve_checked, system_resolver


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when - now, timedelta(0))


class WebhookSender(Protocol):
    """What the worker needs to deliver: one attempt at a URL (Sender in production)."""

    async def send(self, url: str, headers: dict[str, str], body: str) -> AttemptResult: ...


class Sender:
    """Sends to the address the guard checked, with the original Host (and TLS server
    name), never following redirects."""

    def __init__(
        self,
        *,
        allow_private: bool = False,
        timeout: float = TIMEOUT_SECONDS,
        resolver: Resolver = system_resolver,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow_private = allow_private
        self.resolver = resolver
        self.deadline = timeout  # for the whole attempt, not per read or write
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    async def send(self, url: str, headers: dict[str, str], body: str) -> AttemptResult:
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        try:
            address = await resolve_checked(url, self.resolver, allow_private=self.allow_private)
        except UnsafeDestination as exc:
            return AttemptResult(None, elapsed(), error=f"refused: {exc}")
        parts = urlsplit(url)
        host = f"[{address}]" if ":" in address else address
        netloc = f"{host}:{parts.port}" if parts.port else host
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        request_headers = {**headers, "host": parts.netloc.rsplit("@", 1)[-1]}
        try:
            # httpx's timeout applies to each read; a receiver that trickles bytes would
            # never hit it, so the whole attempt has a deadline too
            response = await asyncio.wait_for(
                self.client.post(
                    pinned,
                    content=body.encode(),
                    headers=request_headers,
                    extensions={"sni_hostname": parts.hostname or ""},
                ),
                self.deadline,
            )
        except (httpx.TimeoutException, TimeoutError):
            return AttemptResult(None, elapsed(), error="timed out")
        except httpx.HTTPError as exc:
            return AttemptResult(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:500])
        return AttemptResult(
            response.status_code,
            elapsed(),
            retry_after(response.headers.get("retry-after"), datetime.now(UTC)),
        )

    async def aclose(self) -> None:
        await self.client.aclose()
