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
# IPv6 prefixes whose last 32 bits are an IPv4 address reached through them: NAT64's
# well-known prefix, and the IPv4-compatible form (deprecated, but still parsed).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
# Not globally routable, though Python's `is_global` (3.11) does not say so.
NOT_ROUTABLE = (
    (ipaddress.ip_network("100.64.0.0/10"), "a shared (CGNAT) address"),
    (ipaddress.ip_network("fec0::/10"), "a site-local address"),
    (ipaddress.ip_network("64:ff9b:1::/48"), "a NAT64 address for local use"),
)
ALLOW_PRIVATE_HINT = ("PAYOUTD_WEBHOOK_ALLOW_PRIVATE=true allows private addresses "
                      "(for development only)")


class UnsafeDestination(Exception):
    pass


async def system_resolver(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def embedded(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries traffic to: IPv4-mapped and
    -compatible, NAT64, 6to4, and Teredo (its server and its client)."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip in NAT64 or (ip in IPV4_COMPATIBLE and int(ip) > 1):
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    return found


def forbidden(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why a webhook may not go to `ip`, or None when it is globally routable."""
    if isinstance(ip, ipaddress.IPv6Address):
        for inner in embedded(ip):
            reason = forbidden(inner)
            if reason:
                return reason
        if ip.ipv4_mapped is not None or ip in NAT64:
            return None  # a translation of the public IPv4 address just checked
    if ip in METADATA:
        return "a cloud metadata address"
    for network, what in NOT_ROUTABLE:
        if ip in network:
            return what
    for attr, what in (("is_loopback", "loopback"), ("is_private", "private"),
                       ("is_link_local", "link-local"), ("is_multicast", "multicast"),
                       ("is_unspecified", "unspecified"), ("is_reserved", "reserved")):
        if getattr(ip, attr):
            return f"a {what} address"
    if not ip.is_global:
        return "an address that is not globally routable"
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
                raise UnsafeDestination(f"{host} resolves to {a}, {reason}; "
                                        f"{ALLOW_PRIVATE_HINT}")
    return addresses[0]
