"""A Bitclear v3 payout client written from Bitclear's documentation
(../shared/seeds/003_…) and issue 20, never from payoutd's code: it must not import
payoutd.

What it does as Bitclear's clients do:
- HTTP Basic: the username is the API key's id (`pk_<prefix>`), the password the secret
  after it (a key reads `pk_<prefix>_<secret>`; the secret may itself contain `_`);
- amounts go out as JSON numbers (`"transferAmount": 0.1`), and answers are read with
  numbers kept exact (Decimal), so a test sees what the wire carried;
- a notification is `{"timestamp", "notificationType": "v3/payouts", "body": <payout>}`.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

BASE = "/compat/bitclear/v3"
NOTIFICATION_TYPE = "v3/payouts"
STATES = ("NEW", "QUEUED", "SENT", "EXPIRED", "FAILED")
PAYOUT_FIELDS = (
    "payoutId",
    "address",
    "transferAmount",
    "transferCurrency",
    "priceCurrency",
    "priceAmount",
    "merchantId",
    "comment",
    "expirationTime",
    "createdTime",
    "status",
)


def credentials(api_key: str) -> tuple[str, str]:
    """(username, password) of a key `pk_<prefix>_<secret>`: its id, then its secret."""
    scheme, _, rest = api_key.partition("_")
    prefix, _, secret = rest.partition("_")
    return f"{scheme}_{prefix}", secret


def encode(value: Any) -> str:
    """JSON text with every Decimal written as a number, digit for digit (a float would
    already be rounded); the rest as json.dumps writes it."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value)


def parse(raw: str | bytes) -> Any:
    """An answer or a notification, its numbers exact: a JSON number becomes a Decimal
    (or an int), a JSON string stays a str, so a number sent as a string shows."""
    return json.loads(raw, parse_float=Decimal)


class BitclearClient:
    def __init__(self, http: httpx.AsyncClient, api_key: str, base: str = BASE) -> None:
        self.http = http
        self.auth = httpx.BasicAuth(*credentials(api_key))
        self.base = base

    async def _post(self, path: str, body: dict[str, Any] | None) -> httpx.Response:
        return await self.http.post(
            f"{self.base}{path}",
            content=b"" if body is None else encode(body).encode(),
            headers={"Content-Type": "application/json"},
            auth=self.auth,
        )

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.get(f"{self.base}{path}", params=params, auth=self.auth)

    async def create(self, **fields: Any) -> httpx.Response:
        """POST /v3/payouts: `transferAmount` or `priceAmount`, `transferCurrency`,
        `priceCurrency`, `address`, `comment`, `notificationUrl`, `autoApprove`."""
        return await self._post("/payouts", fields)

    async def approve(self, payout_id: str) -> httpx.Response:
        """POST /v3/payouts/approve with `{"payoutId": ...}` (the seed's first way)."""
        return await self._post("/payouts/approve", {"payoutId": payout_id})

    async def approve_by_path(self, payout_id: str) -> httpx.Response:
        """POST /v3/payouts/{id}/approve with an empty body (the seed's second way)."""
        return await self._post(f"/payouts/{payout_id}/approve", None)

    async def get(self, payout_id: str) -> httpx.Response:
        return await self._get(f"/payouts/{payout_id}")

    async def list(self, cursor: str | None = None, limit: int | None = None) -> httpx.Response:
        params: dict[str, Any] = {}
        if cursor is not None:
            params["cursor"] = cursor
        if limit is not None:
            params["limit"] = limit
        return await self._get("/payouts", params or None)

    async def limits(self, currency: str | None = None) -> httpx.Response:
        return await self._get(
            "/payout-limits", None if currency is None else {"currency": currency}
        )


@dataclass(frozen=True)
class Notification:
    """One request that reached the merchant's notificationUrl, and what it answered."""

    path: str
    headers: dict[str, str]
    raw: bytes
    answered: int

    @property
    def data(self) -> Any:
        return parse(self.raw)


class Inbox:
    """The merchant's notificationUrl: an HTTP server on 127.0.0.1 that keeps every POST
    in arrival order. Bitclear does not sign notifications, so nothing is verified here;
    `answers` are the statuses for the next requests (then 200), to make the sender
    retry."""

    def __init__(self) -> None:
        self.received: list[Notification] = []
        self.answers: list[int] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                with inbox._lock:
                    status = inbox.answers.pop(0) if inbox.answers else 200
                    inbox.received.append(
                        Notification(
                            self.path, {k.lower(): v for k, v in self.headers.items()}, raw, status
                        )
                    )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def url(self, path: str = "/bitclear") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def accepted(self, path: str | None = None) -> list[Notification]:
        """Notifications answered 200, in arrival order."""
        with self._lock:
            return [
                n for n in self.received if n.answered == 200 and (path is None or n.path == path)
            ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
