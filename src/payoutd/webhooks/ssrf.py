"""The SSRF guard: webhooks go to the merchant's public servers, never into the
operator's own network.

The host is resolved once, every address it resolves to is checked, and the request is
then made to that checked address (so a second DNS answer cannot point elsewhere).
Redirects are never followed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from payoutd.domain.webhook_policy import ALLOW_PRIVATE_HINT, forbidden

Resolver = Callable[[str, int], Awaitable[list[str]]]


class UnsafeDestination(Exception):
    pass


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def resolve_checked(url: str, resolver: Resolver, *, allow_private: bool) -> str:
    """The address to connect to for `url`, or UnsafeDestination."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeDestination("only http and https URLs with a host")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
        addresses = [str(literal)]
    except ValueError:
        try:
            addresses = await resolver(host, port)
        except OSError as exc:
            raise UnsafeDestination(f"cannot resolve {host}: {exc}") from exc
    if not addresses:
        raise UnsafeDestination(f"{host} resolves to nothing")
    if not allow_private:
        for a in addresses:
            reason = forbidden(ipaddress.ip_address(a))
            if reason:
                raise UnsafeDestination(f"{host} resolves to {a}, {reason}; {ALLOW_PRIVATE_HINT}")
    return addresses[0]
