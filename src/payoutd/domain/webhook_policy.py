"""When to try a delivery again, which events an endpoint wants, and which addresses a
webhook may never go to (payoutd.webhooks.ssrf resolves and checks them). Pure rules."""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from payoutd.domain import events

# After the first attempt: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h
# (Svix's schedule, which the Standard Webhooks authors run).
RETRY_SCHEDULE: tuple[timedelta, ...] = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_RETRY_AFTER = timedelta(hours=24)
TIMEOUT_SECONDS = 15.0

# Calypso's `notificationServiceTypes`: a service names a family of events. Batch events
# belong to the operator (a batch carries several merchants' payouts), so no merchant
# subscribes to them.
SERVICES: dict[str, tuple[str, ...]] = {
    "PAYOUT": tuple(t for t in events.ALL if t.startswith("payout.")),
    "RAMP": tuple(t for t in events.ALL if t.startswith("ramp_payout.")),
}
MERCHANT_EVENTS: tuple[str, ...] = SERVICES["PAYOUT"] + SERVICES["RAMP"]
ALL = "*"


def next_attempt(
    attempts_made: int, now: datetime, retry_after: timedelta | None = None
) -> datetime | None:
    """When to try again after `attempts_made` failed attempts; None when retries are
    exhausted. A receiver's Retry-After is honoured when it asks for longer than the
    schedule (up to a day)."""
    if attempts_made > len(RETRY_SCHEDULE):
        return None
    wait = RETRY_SCHEDULE[attempts_made - 1]
    if retry_after is not None:
        wait = max(wait, min(retry_after, MAX_RETRY_AFTER))
    return now + wait


def expand(event_types: list[str] | None, services: list[str] | None) -> list[str]:
    """An endpoint's subscription as event types; nothing named means every event.
    Raises ValueError naming what is unknown."""
    wanted: list[str] = []
    for t in event_types or []:
        if t != ALL and t not in MERCHANT_EVENTS:
            raise ValueError(f"unknown event type {t!r}: one of {', '.join(MERCHANT_EVENTS)}")
        wanted.append(t)
    for s in services or []:
        if s.upper() not in SERVICES:
            raise ValueError(f"unknown service {s!r}: one of {', '.join(SERVICES)}")
        wanted.extend(SERVICES[s.upper()])
    if not wanted or ALL in wanted:
        return [ALL]
    return sorted(set(wanted))


def wants(subscription: list[str], event_type: str) -> bool:
    return ALL in subscription or event_type in subscription


# Cloud metadata services that sit on addresses the categories below may not all catch.
METADATA = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
    ipaddress.ip_address("100.100.100.200"),
}
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
ALLOW_PRIVATE_HINT = (
    "PAYOUTD_WEBHOOK_ALLOW_PRIVATE=true allows private addresses (for development only)"
)


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
    for attr, what in (
        ("is_loopback", "loopback"),
        ("is_private", "private"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_unspecified", "unspecified"),
        ("is_reserved", "reserved"),
    ):
        if getattr(ip, attr):
            return f"a {what} address"
    if not ip.is_global:
        return "an address that is not globally routable"
    return None
