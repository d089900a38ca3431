"""The plain `POST /v1/payouts`, answered before FastAPI's routing (the intake's hot path).

Under load most requests are this one call: a JSON payout, a bearer key, no
Idempotency-Key, no signature. FastAPI spends more CPU routing it, solving its
dependencies and decoding its body twice (json, then pydantic) than payoutd spends
pricing and placing it (bench/README.md, "Where the time goes"). This ASGI middleware
answers exactly that shape with the same parts the route uses (the key check of
`auth.require`, `payouts.accept`, the error renderer) and hands every other request to
FastAPI unchanged, so there is one behaviour: anything it does not take (another
header, a body that does not validate, text that needs the storable check) is
answered by the route, which produces the canonical error. The body is validated by the
route's own model (`PayoutCreate`, payoutd.api.v1.schemas): the lane only decides
whether it may answer, never what is valid. Bodies over the size limit never reach it
(payoutd.api.body_limit runs first).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pydantic import ValidationError
from starlette.requests import Request

from payoutd import json_text
from payoutd.api import errors, idempotency
from payoutd.api.auth import SIGNATURE_HEADER, require
from payoutd.api.body_limit import replay
from payoutd.api.v1 import payouts
from payoutd.api.v1.schemas import PayoutCreate

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PATH = "/v1/payouts"
# headers that send the request to the route (they need its other code paths)
ROUTE_HEADERS = frozenset({idempotency.HEADER.lower().encode(), SIGNATURE_HEADER.encode()})
JSON_HEADERS = [(b"content-type", b"application/json")]


class PayoutLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.authenticate = require("payouts")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or scope["path"] != PATH
            or scope.get("query_string")
            or not _json_only(scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        body = await read_body(receive)
        if body is None:  # the client went away
            return
        answered = await self._answer(scope, receive, body)
        if answered is None:
            await self.app(scope, replay(body, receive), send)
            return
        status, content, headers = answered
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    *JSON_HEADERS,
                    (b"content-length", str(len(content)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": content})

    async def _answer(
        self, scope: Scope, receive: Receive, body: bytes
    ) -> tuple[int, bytes, list[tuple[bytes, bytes]]] | None:
        """(status, body, extra headers), or None for the route to answer."""
        # an escaped NUL or surrogate needs the storable check (api.inputs) first
        if b"\\u" in body:
            return None
        try:
            form = PayoutCreate.model_validate_json(body)
        except ValidationError:
            return None  # the route words the validation error
        request = Request(scope, replay(body, receive))
        try:
            principal = await self.authenticate(request)
            status, view, _ = await payouts.accept(request, principal, form)
        except Exception as exc:  # rendered exactly as the route's handlers render it
            response = errors.response_for(request, exc)
            if response is None:
                raise
            return (
                response.status_code,
                bytes(response.body),
                [
                    (k, v)
                    for k, v in response.raw_headers
                    if k not in (b"content-type", b"content-length")
                ],
            )
        # rendered as the route renders it (payoutd.api.responses.JSONResponse), byte for
        # byte, without building the response object
        return status, json_text.dumps(view), []


def _json_only(headers: list[tuple[bytes, bytes]]) -> bool:
    """The header set the lane takes: a JSON body and none of the route-only headers."""
    content_types = []
    for name, value in headers:
        if name in ROUTE_HEADERS:
            return False
        if name == b"content-type":
            content_types.append(value)
    # (with several Content-Type headers, the route decides which one counts)
    return (
        len(content_types) == 1
        and content_types[0].split(b";", 1)[0].strip().lower() == b"application/json"
    )


async def read_body(receive: Receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
