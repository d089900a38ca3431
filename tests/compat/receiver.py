"""A merchant's callback server as a Cryptomus integration runs one: an HTTP server on
127.0.0.1 that keeps every POST it gets (raw bytes and headers, in arrival order) and
answers 200. It checks nothing itself: the tests check what arrived with the client's
own webhook rule (tests/compat/client.py), as a merchant would. Like the client, it
never imports payoutd. It runs in its own thread, so it answers while the test's event
loop is busy sending to it."""

from __future__ import annotations

import json
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Hook:
    path: str
    raw: bytes
    headers: dict[str, str]

    @property
    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.raw)
        return data


class CallbackServer:
    def __init__(self) -> None:
        self.hooks: list[Hook] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def url(self, path: str = "/callback") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def at(self, path: str) -> list[Hook]:
        with self._lock:
            return [h for h in self.hooks if h.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                with server._lock:
                    server.hooks.append(Hook(self.path, raw, headers))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        return Handler


@asynccontextmanager
async def callback_server() -> AsyncIterator[CallbackServer]:
    server = CallbackServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
