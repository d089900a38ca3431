"""The SSRF guard, tested at its decision: the Sender gets DNS answers from the test and
a transport that records every request and opens no connection except to loopback, so
a broken guard fails the test instead of sending traffic off this machine.

Webhooks go to the merchant's public servers, never into the operator's network:
loopback, private, link-local (cloud metadata), CGNAT, unspecified, IPv6 loopback and
IPv4-mapped IPv6 are refused, also behind a hostname, also when only one of a host's
addresses is private; the request goes to the address that was checked (with the
original Host), and a redirect is an answer, never followed."""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from payoutd.webhooks.delivery import Sender
from tests.support import Harness
from tests.webhooks.receiver import BTC_ADDR, Receiver, open_harness, pump, running

HEADERS = {
    "webhook-id": "msg_1",
    "webhook-timestamp": "1700000000",
    "webhook-signature": "v1,AAAA",
    "content-type": "application/json",
}
BODY = '{"type":"payout.paid"}'
PUBLIC = "93.184.215.14"  # a public address; no request is ever made to it
PUBLIC_2 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


class FakeDNS:
    """DNS answers the test decides; records every question."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    async def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append((host, port))
        if host not in self.answers:
            raise OSError(f"NXDOMAIN {host}")
        return list(self.answers[host])


class Guarded(httpx.AsyncBaseTransport):
    """Records each request. Never connects anywhere, except to loopback when
    `forward_loopback` (then the request really goes to 127.0.0.1 / ::1). Any other
    destination not in `expected` fails the test on the spot."""

    def __init__(
        self,
        *,
        expected: set[str] | None = None,
        status: int = 204,
        headers: dict[str, str] | None = None,
        forward_loopback: bool = False,
    ) -> None:
        self.expected = expected or set()
        self.status = status
        self.headers = headers or {}
        self.forward_loopback = forward_loopback
        self.requests: list[httpx.Request] = []
        self.strays: list[str] = []
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        host = request.url.host
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:  # a name, not the address the guard checked
            loopback = False
        if loopback and self.forward_loopback:
            return await self.real.handle_async_request(request)
        if host not in self.expected:
            self.strays.append(str(request.url))
            pytest.fail(f"the guard let a request through to {request.url}")
        return httpx.Response(self.status, headers=self.headers)

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.fixture
async def make() -> AsyncIterator[Any]:
    made: list[Sender] = []

    def build(
        answers: dict[str, list[str]] | None = None,
        *,
        allow_private: bool = False,
        **transport: Any,
    ) -> tuple[Sender, FakeDNS, Guarded]:
        dns, guarded = FakeDNS(answers or {}), Guarded(**transport)
        sender = Sender(allow_private=allow_private, resolver=dns, transport=guarded, timeout=5)
        made.append(sender)
        return sender, dns, guarded

    yield build
    for sender in made:
        await sender.aclose()


REFUSED = [
    ("http://127.0.0.1/hooks", {}, "loopback"),
    ("http://127.0.0.53:8080/hooks", {}, "loopback"),
    ("http://10.0.0.1/hooks", {}, "private"),
    ("http://172.16.5.4/", {}, "private"),
    ("http://192.168.1.1/", {}, "private"),
    ("http://169.254.169.254/latest/meta-data/", {}, "metadata"),
    ("http://100.100.100.200/", {}, "metadata"),
    ("http://[fd00:ec2::254]/", {}, "metadata"),
    ("http://0.0.0.0:8000/", {}, ""),
    ("http://100.64.1.1/", {}, "CGNAT"),
    ("http://100.127.255.254/", {}, "CGNAT"),
    ("http://[::1]/hooks", {}, "loopback"),
    ("http://[::ffff:127.0.0.1]/hooks", {}, "loopback"),
    ("http://[::ffff:10.0.0.1]/hooks", {}, "private"),
    ("http://[::ffff:169.254.169.254]/", {}, "metadata"),
    ("http://[::]/", {}, ""),
    ("http://[fe80::1]/", {}, ""),
    ("http://[fc00::1]/", {}, "private"),
    ("http://224.0.0.1/", {}, "multicast"),
    ("https://localhost/hooks", {"localhost": ["127.0.0.1"]}, "loopback"),
    ("https://hooks.merchant.test/in", {"hooks.merchant.test": ["127.0.0.1"]}, "loopback"),
    ("https://six.merchant.test/in", {"six.merchant.test": ["::1"]}, "loopback"),
    ("https://mapped.merchant.test/in", {"mapped.merchant.test": ["::ffff:127.0.0.1"]}, "loopback"),
    ("https://meta.merchant.test/", {"meta.merchant.test": ["169.254.169.254"]}, "metadata"),
    ("https://cgnat.merchant.test/", {"cgnat.merchant.test": ["100.64.0.7"]}, "CGNAT"),
    # one public and one private address: refused whichever comes first
    ("https://mixed.merchant.test/", {"mixed.merchant.test": [PUBLIC, "10.1.2.3"]}, "private"),
    ("https://mixed2.merchant.test/", {"mixed2.merchant.test": ["192.168.0.9", PUBLIC]}, "private"),
    ("https://mixed6.merchant.test/", {"mixed6.merchant.test": [PUBLIC_2, "::1"]}, "loopback"),
    # IPv4 addresses carried inside IPv6 ones are judged as the IPv4 address: 6to4,
    # Teredo (server and client), IPv4-compatible and NAT64
    ("http://[2002:7f00:1::]/", {}, "loopback"),
    ("http://[2002:a9fe:a9fe::]/", {}, "metadata"),
    ("http://[2002:a00:1::1]/", {}, "private"),
    (
        "https://sixtofour.merchant.test/",
        {"sixtofour.merchant.test": ["2002:7f00:1::"]},
        "loopback",
    ),
    ("http://[2001:0:7f00:1:8000:63bf:a2e5:2831]/", {}, "loopback"),  # Teredo server
    ("http://[2001:0:5db8:d70e:8000:63bf:f5ff:fffe]/", {}, "private"),  # client 10.0.0.1
    ("http://[::7f00:1]/", {}, "loopback"),
    ("http://[::a9fe:a9fe]/", {}, "metadata"),
    ("http://[64:ff9b::7f00:1]/", {}, "loopback"),
    ("http://[64:ff9b::a00:1]/", {}, "private"),
    ("https://nat64.merchant.test/", {"nat64.merchant.test": ["64:ff9b::a9fe:a9fe"]}, "metadata"),
    # not globally routable, though Python's is_private does not say so
    ("http://[fec0::1]/", {}, "site-local"),
    ("https://site.merchant.test/", {"site.merchant.test": ["fec0::1"]}, "site-local"),
    ("http://[64:ff9b:1::1]/", {}, "local use"),  # NAT64 for local use (RFC 8215)
    ("http://[ff0e::1]/", {}, "multicast"),
    ("http://239.1.2.3/", {}, "multicast"),
    ("http://192.0.2.1/", {}, ""),  # documentation
    ("http://[2001:db8::1]/", {}, ""),
]


@pytest.mark.parametrize(("url", "answers", "why"), REFUSED, ids=[u for u, _, _ in REFUSED])
async def test_private_destinations_are_refused(
    make: Any, url: str, answers: dict[str, list[str]], why: str
) -> None:
    sender, dns, guarded = make(answers)
    result = await sender.send(url, HEADERS, BODY)
    assert guarded.requests == [] and guarded.strays == []
    assert result.status_code is None and not result.ok
    assert result.error is not None and result.error.startswith("refused"), result.error
    assert why.lower() in result.error.lower(), result.error
    # a literal address is never looked up; a name is looked up once
    assert len(dns.asked) == (1 if answers else 0)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/hooks", "http://10.0.0.1/", "http://[2002:7f00:1::]/", "http://[fec0::1]/"],
)
async def test_a_refusal_names_the_development_setting(make: Any, url: str) -> None:
    sender, _, _ = make()
    result = await sender.send(url, HEADERS, BODY)
    assert result.error is not None and "PAYOUTD_WEBHOOK_ALLOW_PRIVATE" in result.error


async def test_6to4_of_a_public_address_goes_out_pinned(make: Any) -> None:
    """6to4 and NAT64 addresses of public IPv4 addresses are public: not refused."""
    six_to_four, nat64 = "2002:5db8:d70e::1", "64:ff9b::5db8:d70e"
    sender, _, guarded = make(expected={six_to_four, nat64})
    assert (await sender.send(f"http://[{six_to_four}]/h", HEADERS, BODY)).ok
    assert (await sender.send(f"http://[{nat64}]/h", HEADERS, BODY)).ok
    assert [r.url.host for r in guarded.requests] == [six_to_four, nat64]


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.test/hooks",
        "file:///etc/passwd",
        "gopher://example.test/",
        "http:///nohost",
        "https://unknown.merchant.test/",
        "https://empty.merchant.test/",
    ],
)
async def test_what_cannot_be_checked_is_refused(make: Any, url: str) -> None:
    sender, _, guarded = make({"empty.merchant.test": []})
    result = await sender.send(url, HEADERS, BODY)
    assert guarded.requests == []
    assert result.error is not None and result.error.startswith("refused"), result.error


async def test_a_public_address_is_sent_to_the_checked_ip_with_the_original_host(make: Any) -> None:
    sender, dns, guarded = make(
        {"hooks.merchant.test": [PUBLIC, "93.184.215.15"]}, expected={PUBLIC}
    )
    result = await sender.send("https://hooks.merchant.test:8443/in/bound?x=1", HEADERS, BODY)
    assert result.ok and result.status_code == 204 and result.error is None
    [request] = guarded.requests
    assert dns.asked == [("hooks.merchant.test", 8443)]  # asked once, and never again
    assert (request.url.scheme, request.url.host, request.url.port) == ("https", PUBLIC, 8443)
    assert request.url.raw_path == b"/in/bound?x=1"
    assert request.headers["host"] == "hooks.merchant.test:8443"
    assert request.extensions["sni_hostname"] == "hooks.merchant.test"  # TLS checks the name
    assert request.method == "POST" and request.content == BODY.encode()
    assert request.headers["webhook-id"] == "msg_1"


async def test_public_literals_and_ipv6_go_out_pinned(make: Any) -> None:
    sender, dns, guarded = make({"v6.merchant.test": [PUBLIC_2]}, expected={PUBLIC, PUBLIC_2})
    assert (await sender.send(f"http://{PUBLIC}/h", HEADERS, BODY)).ok
    assert (await sender.send("http://v6.merchant.test/h", HEADERS, BODY)).ok
    assert [(r.url.host, r.headers["host"]) for r in guarded.requests] == [
        (PUBLIC, PUBLIC),
        (PUBLIC_2, "v6.merchant.test"),
    ]
    assert dns.asked == [("v6.merchant.test", 80)]


async def test_a_redirect_is_not_followed(make: Any) -> None:
    sender, _, guarded = make(
        {"hooks.merchant.test": [PUBLIC]},
        expected={PUBLIC},
        status=302,
        headers={"location": "http://169.254.169.254/latest/"},
    )
    result = await sender.send("https://hooks.merchant.test/in", HEADERS, BODY)
    assert result.status_code == 302 and not result.ok and not result.gone
    assert len(guarded.requests) == 1


async def test_allow_private_lets_loopback_through(make: Any) -> None:
    async with running() as rx:
        rx.trust("/hooks")  # the receiver here only needs to answer; nothing is signed
        # refused by default...
        sender, _, guarded = make({"localhost": ["127.0.0.1"]}, forward_loopback=True)
        assert (await sender.send(rx.url(), HEADERS, BODY)).error.startswith("refused")
        assert guarded.requests == [] and rx.requests == 0
        # ...allowed when the operator says so, by address and by name
        sender, _, guarded = make(
            {"localhost": ["127.0.0.1"]}, allow_private=True, forward_loopback=True
        )
        assert (await sender.send(rx.url(), HEADERS, BODY)).status_code == 400  # unsigned
        result = await sender.send(f"http://localhost:{rx.port}/hooks", HEADERS, BODY)
        assert result.status_code == 400 and result.latency_ms >= 0
        assert [r.url.host for r in guarded.requests] == ["127.0.0.1", "127.0.0.1"]
        assert guarded.requests[1].headers["host"] == f"localhost:{rx.port}"
        assert rx.requests == 2
        rx.unverified.clear()  # unsigned on purpose


# -- the whole path: an endpoint on loopback, without and with the allowance ---------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hooks",
        "http://10.0.0.1/hooks",
        "http://169.254.169.254/latest",
        "http://localhost/hooks",
        "http://[::1]/hooks",
        "http://[2002:7f00:1::]/hooks",
        "http://[2002:a9fe:a9fe::]/",
        "http://[fec0::1]/hooks",
        "http://[64:ff9b::7f00:1]/",
        "http://[::ffff:10.0.0.1]/",
    ],
)
async def test_an_address_written_into_the_url_is_refused_at_creation(
    database_url: str | None, tmp_path: Path, url: str
) -> None:
    async with open_harness(database_url, tmp_path, webhook_allow_private=False) as h:
        m = await h.merchant(BTC="1")
        r = await h.client.post("/v1/webhook-endpoints", headers=m.headers, json={"url": url})
        assert r.status_code == 422, r.text
        [message] = r.json()["error"]["fields"]["url"]
        assert message.startswith("webhooks cannot go to"), message
        assert "PAYOUTD_WEBHOOK_ALLOW_PRIVATE" in message
        listed = await h.client.get("/v1/webhook-endpoints", headers=m.headers)
        assert listed.json()["data"] == []
        # a payout's callback_url is held to the same rule
        r = await h.client.post(
            "/v1/payouts",
            headers=m.headers,
            json={"amount": "0.01", "currency": "BTC", "address": BTC_ADDR, "callback_url": url},
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["fields"]["callback_url"] == [message]
        listed = await h.client.get("/v1/payouts", headers=m.headers)
        assert listed.json()["data"] == []


async def subscribed(h: Harness, rx: Receiver) -> tuple[Any, dict[str, Any]]:
    m = await h.merchant(BTC="1")
    r = await h.client.post(
        "/v1/webhook-endpoints",
        headers=m.headers,
        json={"url": rx.url(), "event_types": ["payout.created"]},
    )
    assert r.status_code == 201, r.text
    rx.trust("/hooks", r.json()["secret"])
    r2 = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.01", "currency": "BTC", "address": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"},
    )
    assert r2.status_code == 201, r2.text
    return m, r.json()


@pytest.mark.parametrize("allowed", [False, True], ids=["default", "allowed"])
async def test_an_endpoint_on_loopback_gets_nothing_unless_allowed(
    database_url: str | None, tmp_path: Path, allowed: bool
) -> None:
    # The endpoint is saved while the allowance is on (a URL naming a loopback address
    # is refused outright at creation otherwise: see the next test); then the guard
    # alone decides at delivery time, as for a host name that resolves to loopback.
    async with (
        running() as rx,
        open_harness(database_url, tmp_path, webhook_allow_private=True) as h,
    ):
        m, ep = await subscribed(h, rx)
        h.rt.sender.allow_private = allowed
        assert await pump(h) == 1
        r = await h.client.get(f"/v1/webhook-endpoints/{ep['id']}/deliveries", headers=m.headers)
        [d] = r.json()["data"]
        assert rx.unverified == []
        if allowed:
            assert [a.type for a in rx.delivered()] == ["payout.created"]
            assert d["status"] == "delivered"
            return
        assert d["status"] == "pending" and d["last_status_code"] is None
        assert d["last_error"].startswith("refused") and "loopback" in d["last_error"]
        assert rx.requests == 0 and rx.paths == []
