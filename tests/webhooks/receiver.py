"""A real webhook receiver for the tests: an HTTP server on 127.0.0.1 that verifies every
request it gets with the `standardwebhooks` package, as a merchant's server would, and
records what arrived in arrival order.

The test switches how it behaves: answering 200, 500, 503, 410, 429 with Retry-After, a
302, answering slowly, hanging past the sender's timeout, or being down altogether (its
listening socket closed, so connections are refused). It runs in its own threads, so it
answers while the test's event loop is busy sending to it."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from payoutd.worker import jobs
from tests import support
from tests.support import Harness, Merchant

BEHAVIOURS = ("ok", "500", "503", "410", "429", "302", "slow", "hang")


@dataclass(frozen=True)
class Arrival:
    """One request as the receiver saw it."""

    path: str
    webhook_id: str
    type: str
    event_id: str
    payout_id: str | None
    payout_status: str | None
    body: dict[str, Any]
    headers: dict[str, str]
    signatures: tuple[str, ...]  # the `v1,...` entries of webhook-signature
    verified_by: tuple[str, ...]  # the secrets this receiver knows that verify it
    answered: int | None  # the status the receiver answered; None: it hung
    at: float  # wall clock when it arrived

    @property
    def ok(self) -> bool:
        return self.answered is not None and 200 <= self.answered < 300

    @property
    def signed_at(self) -> int:
        return int(self.headers["webhook-timestamp"])


class Receiver:
    """`trust(path, *secrets)` says which secrets sign what arrives at a path; a request
    no trusted secret verifies is answered 400 and kept in `unverified` (tests assert it
    stays empty)."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[str]] = {}
        self.behaviour = "ok"
        self.by_path: dict[str, str] = {}  # a path's own behaviour, over `behaviour`
        self.script: list[str] = []  # behaviours for the next requests, then `behaviour`
        self.retry_after: str | None = None
        self.slow_seconds = 0.3
        self.hang_seconds = 5.0
        self.arrivals: list[Arrival] = []
        self.unverified: list[tuple[str, str]] = []
        self.requests = 0  # every POST, verified or not
        self.paths: list[tuple[str, str]] = []  # (method, path) of every request
        self.in_flight = 0
        self._lock = threading.Lock()
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()

    # -- the test's knobs ---------------------------------------------------------------

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def trust(self, path: str, *secrets: str) -> None:
        self.secrets[path] = list(secrets)

    def set(
        self, behaviour: str, *, path: str | None = None, retry_after: str | None = None
    ) -> None:
        assert behaviour in BEHAVIOURS, behaviour
        if path is None:
            self.behaviour = behaviour
        else:
            self.by_path[path] = behaviour
        self.retry_after = retry_after

    def then(self, *behaviours: str) -> None:
        """The next requests get these behaviours, one each, before `behaviour` again."""
        assert all(b in BEHAVIOURS for b in behaviours)
        self.script.extend(behaviours)

    @property
    def is_up(self) -> bool:
        return self._server is not None

    def up(self) -> None:
        if self._server is not None:
            return
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def down(self) -> None:
        """Close the listening socket: connections are refused until `up()`."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def close(self) -> None:
        self._release.set()  # hung handlers answer now
        self.down()

    # -- what arrived -------------------------------------------------------------------

    def delivered(self, path: str | None = None) -> list[Arrival]:
        """Requests answered 2xx, in arrival order."""
        with self._lock:
            return [a for a in self.arrivals if a.ok and (path is None or a.path == path)]

    def at(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self.arrivals if a.path == path]

    def duplicates(self, path: str | None = None) -> int:
        counts = Counter(a.webhook_id for a in self.delivered(path))
        return sum(n - 1 for n in counts.values())

    # -- the server -----------------------------------------------------------------------

    def _next_behaviour(self, path: str) -> str:
        with self._lock:
            if self.script:
                return self.script.pop(0)
            return self.by_path.get(path, self.behaviour)

    def _verify(
        self, path: str, raw: bytes, headers: dict[str, str]
    ) -> tuple[tuple[str, ...], str | None]:
        trusted = self.secrets.get(path)
        if trusted is None:
            return (), f"no secret is trusted for {path}"
        good, why = [], None
        for secret in trusted:
            try:
                Webhook(secret).verify(raw, headers)
            except WebhookVerificationError as exc:
                why = str(exc)
                continue
            good.append(secret)
        return tuple(good), (None if good else why)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, headers: dict[str, str] | None = None) -> None:
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the sender gave up (timed out, or was killed) meanwhile

            def _other(self) -> None:
                with receiver._lock:
                    receiver.paths.append((self.command, self.path))
                self._answer(405)

            do_GET = do_PUT = do_HEAD = do_DELETE = _other

            def do_POST(self) -> None:
                with receiver._lock:
                    receiver.paths.append(("POST", self.path))
                    receiver.requests += 1
                    receiver.in_flight += 1
                try:
                    self._post()
                finally:
                    with receiver._lock:
                        receiver.in_flight -= 1

            def _post(self) -> None:
                arrived = time.time()
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path
                verified_by, why = receiver._verify(path, raw, headers)
                if not verified_by:
                    with receiver._lock:
                        receiver.unverified.append((path, why or "?"))
                    self._answer(400)
                    return
                body = json.loads(raw)
                payout = (body.get("data") or {}).get("payout") or {}
                behaviour = receiver._next_behaviour(path)
                status: int | None = {
                    "ok": 200,
                    "500": 500,
                    "503": 503,
                    "410": 410,
                    "429": 429,
                    "302": 302,
                    "slow": 200,
                }.get(behaviour)
                arrival = Arrival(
                    path=path,
                    webhook_id=headers["webhook-id"],
                    type=body["type"],
                    event_id=body["id"],
                    payout_id=payout.get("id"),
                    payout_status=payout.get("status"),
                    body=body,
                    headers=headers,
                    signatures=tuple(headers["webhook-signature"].split(" ")),
                    verified_by=verified_by,
                    answered=status,
                    at=arrived,
                )
                if behaviour == "hang":
                    with receiver._lock:
                        receiver.arrivals.append(arrival)
                    receiver._release.wait(receiver.hang_seconds)
                    self._answer(200)  # far too late: the sender has given up
                    return
                if behaviour == "slow":
                    time.sleep(receiver.slow_seconds)
                with receiver._lock:
                    receiver.arrivals.append(arrival)
                extra: dict[str, str] = {}
                if behaviour == "429" and receiver.retry_after is not None:
                    extra["retry-after"] = receiver.retry_after
                if behaviour == "302":
                    extra["location"] = receiver.url("/redirected")
                assert status is not None
                self._answer(status, extra)

        return Handler


@asynccontextmanager
async def running(*, up: bool = True) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    if up:
        receiver.up()
    try:
        yield receiver
    finally:
        receiver.close()


@asynccontextmanager
async def open_harness(
    database_url: str | None, tmp_path: Path, **overrides: Any
) -> AsyncIterator[support.Harness]:
    """The test harness with webhooks allowed to loopback (where the receiver listens)."""
    values: dict[str, Any] = {"webhook_allow_private": True, **overrides}
    settings = support.test_settings(tmp_path, database_url, **values)
    async with support.harness(settings, truncate=database_url is not None) as h:
        yield h


async def pump(h: support.Harness) -> int:
    """One pass of the webhook loop of the worker: fan out new events, attempt what is
    due. Returns the number of attempts made."""
    await jobs.dispatch_events(h.rt.db, h.rt.ctx)
    return await jobs.deliver_webhooks(h.rt.db, h.rt.ctx, h.rt.sender)


async def drive(h: support.Harness, rounds: int = 5) -> None:
    """The whole worker, step by step: each round moves payouts one step (a job pass and
    a block) and delivers the events that step wrote."""
    await pump(h)
    for _ in range(rounds):
        await h.tick()
        await pump(h)
        await h.mine()
        await pump(h)
    await h.tick()
    await pump(h)


# -- what the webhook tests share: a subscription, a payout ------------------------------

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"


async def subscribe(
    h: Harness, m: Merchant, rx: Receiver, path: str = "/hooks", **body: Any
) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/webhook-endpoints", headers=m.headers, json={"url": rx.url(path), **body}
    )
    assert r.status_code == 201, r.text
    ep: dict[str, Any] = r.json()
    rx.trust(path, ep["secret"])
    return ep


async def pay(
    h: Harness, m: Merchant, amount: str = "0.01", address: str = BTC_ADDR, **more: Any
) -> dict[str, Any]:
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": amount, "currency": "BTC", "address": address, **more},
    )
    assert r.status_code == 201, r.text
    payout: dict[str, Any] = r.json()
    return payout
