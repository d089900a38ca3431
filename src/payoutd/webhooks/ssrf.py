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

Resolver = Callable[[str, int], Awaitable[list[str]]]

# Cloud metadata services that sit on addresses the categories below may not all catch.
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
            ipaddress.ip_address("100.100.100.200")}


class UnsafeDestination(Exception):
    pass


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return forbidden(ip.ipv4_mapped)
    if ip in METADATA:
        return "a cloud metadata address"
    for attr, what in (("is_loopback", "loopback"), ("is_private", "private"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_unspecified", "unspecified"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return f"a {what} address"
    if ip in ipaddress.ip_network("100.64.0.0/10"):  # carrier-grade NAT
        return "a shared (CGNAT) address"
    return None


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
                raise UnsafeDestination(f"{host} resolves to {a}, {reason}")
    return addresses[0]
