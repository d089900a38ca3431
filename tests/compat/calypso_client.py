"""A Calypso payout client written from the provider's documentation
(../shared/seeds/004_… and the issue that summarises its signing), never from payoutd's
code: it must not import payoutd. As Calypso's clients do, it sends every call as

    POST <base>/<call>, headers Key = the API key's id, Sign = hex HMAC-SHA512(body, secret)
    body {"account": <merchant id>, "timestamp": <unix ms>, "payload": {...}}

and it checks a webhook as a merchant's server would: `Sign` over the raw body with the
secret of the subscription named by `Key`.

It also runs a webhook receiver: a real HTTP server on 127.0.0.1 that records what
arrives and whether its signature holds."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

BASE = "/compat/calypso/api/v1"


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha512).hexdigest()


def split_key(api_key: str) -> tuple[str, str]:
    """An API key `pk_<prefix>_<secret>` as Calypso's pair: (key id, secret)."""
    head, middle, secret = api_key.split("_", 2)
    return f"{head}_{middle}", secret


class CalypsoClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        account: str,
        api_key: str,
        now_ms: Any = None,
    ) -> None:
        self.http = http
        self.account = account
        self.key_id, self.secret = split_key(api_key)
        # where the client's clock comes from (the test moves the engine's; Calypso's
        # clients read their own)
        self.now_ms = now_ms or (lambda: int(time.time() * 1000))

    def envelope(self, payload: dict[str, Any], *, timestamp: int | None = None) -> bytes:
        body = {
            "account": self.account,
            "timestamp": self.now_ms() if timestamp is None else timestamp,
            "payload": payload,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    async def send(
        self, call: str, body: bytes, *, signed_body: bytes | None = None
    ) -> httpx.Response:
        """POST `body`, signed over `signed_body` (the body itself unless a test alters
        what it sends after signing)."""
        headers = {
            "Key": self.key_id,
            "Sign": sign(body if signed_body is None else signed_body, self.secret),
            "Content-Type": "application/json",
        }
        return await self.http.post(f"{BASE}/{call}", content=body, headers=headers)

    async def call(self, call: str, payload: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.send(call, self.envelope(payload, **kw))

    async def create(self, **payload: Any) -> httpx.Response:
        return await self.call("payout/create", payload)

    async def payout(self, **by: str) -> httpx.Response:
        return await self.call("payout", by)

    async def subscribe(self, url: str, **more: Any) -> httpx.Response:
        return await self.call("subscription/webhook/create", {"url": url, **more})

    async def subscriptions(self) -> httpx.Response:
        return await self.call("subscription/webhook/list", {})

    async def unsubscribe(self, subscription_id: str) -> httpx.Response:
        return await self.call("subscription/webhook/delete", {"id": subscription_id})


@dataclass(frozen=True)
class Hook:
    key: str
    sign: str
    raw: bytes
    body: dict[str, Any]
    genuine: bool  # Sign holds over the raw body with the secret of the subscription Key


class HookReceiver:
    """Answers 200 to every POST; `trust(key, secret)` names a subscription's key pair."""

    def __init__(self) -> None:
        self.secrets: dict[str, str] = {}
        self.hooks: list[Hook] = []
        self._lock = threading.Lock()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port: int = probe.getsockname()[1]
        probe.close()

    def url(self, path: str = "/calypso") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def trust(self, key: str, secret: str) -> None:
        self.secrets[key] = secret

    def received(self, kind: str | None = None) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks if kind is None or h.body.get("type") == kind]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                key = self.headers.get("Key", "")
                secret = receiver.secrets.get(key)
                given = self.headers.get("Sign", "")
                genuine = secret is not None and hmac.compare_digest(sign(raw, secret), given)
                with receiver._lock:
                    receiver.hooks.append(Hook(key, given, raw, json.loads(raw), genuine))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler

    @contextmanager
    def running(self) -> Iterator[HookReceiver]:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        server.daemon_threads = True
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(5)
