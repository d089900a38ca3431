"""The request body limit: a body longer than `request_body_max_bytes` is answered 413
`payload_too_large` before it is read whole, on every route and ahead of the payout lane.

A request that states its Content-Length is judged by it, before a byte of the body is
read (the server frames the body by that length, so no more can arrive). One that does
not (chunked transfer encoding) is read here chunk by chunk, and refused as soon as the
chunks pass the limit; a body within it is handed on as it was read. After a 413 the
server closes the connection rather than read the rest of the body."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from payoutd import json_text
from payoutd.api.errors import error_json
from payoutd.domain.errors import PayoutdError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

DEFAULT_MAX_BYTES = 64 * 1024


class BodyLimit:
    """`paths`: the routes that take larger bodies (a mass payout's file), with their own
    limit."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = DEFAULT_MAX_BYTES,
        paths: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.paths = dict(paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.paths.get(scope["path"], self.max_bytes)
        length = _content_length(scope["headers"])
        if length is not None:
            if length > max_bytes:
                await self._refuse(send, max_bytes)
            else:
                await self.app(scope, receive, send)
            return
        # no length stated: count the chunks as they come, at most max_bytes of them
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > max_bytes:
                await self._refuse(send, max_bytes)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        await self.app(scope, replay(b"".join(chunks), receive), send)

    async def _refuse(self, send: Send, max_bytes: int) -> None:
        err = PayoutdError(
            "payload_too_large", f"The request body is larger than {max_bytes} bytes"
        )
        content = json_text.dumps(error_json(err))
        await send(
            {
                "type": "http.response.start",
                "status": err.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(content)).encode()),
                    # the rest of the body is never read: the connection cannot carry
                    # another request
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The stated Content-Length; None when there is none, or none that can be trusted
    (several, or not a number: then the body is counted as it comes)."""
    found = [value for name, value in headers if name == b"content-length"]
    if len(found) != 1 or not found[0].strip().isdigit():
        return None
    return int(found[0])


def replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body already read, then the connection's own messages."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again
