"""A small async JSON-RPC client for Bitcoin Core and the nodes that share its RPC
(Litecoin Core, Dogecoin Core).

Hand-written over httpx rather than a library: python-bitcoinrpc is synchronous and
unmaintained, and the async `bitcoinrpc` package parses amounts as floats. Here every
JSON number arrives as a `Decimal` and every `Decimal` leaves as a string (which the
nodes accept for amounts and fee rates), so no amount ever passes through a float.

Errors: a node that cannot be reached, times out, is still warming up or answers with
something that is not JSON-RPC raises `ChainUnavailable` (the outcome is unknown); an
error the node returns on purpose raises `RpcError` with its code and message.
"""

from __future__ import annotations

import functools
import itertools
import json
import ssl
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from payoutd.services.ports import ChainUnavailable

# Bitcoin Core's error codes this package reads (src/rpc/protocol.h)
METHOD_NOT_FOUND = -32601
MISC_ERROR = -1
INVALID_ADDRESS_OR_KEY = -5  # also: a transaction the wallet or mempool does not know
INVALID_PARAMETER = -8
WALLET_ERROR = -4
WALLET_INSUFFICIENT_FUNDS = -6
IN_WARMUP = -28
DESERIALIZATION_ERROR = -22
VERIFY_ERROR = -25
VERIFY_REJECTED = -26
VERIFY_ALREADY_IN_CHAIN = -27


class RpcError(Exception):
    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: {message} (code {code})")
        self.method = method
        self.code = code
        self.message = message


def _encode(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    raise TypeError(f"cannot send {type(value).__name__} to the node")


@functools.cache
def _tls() -> ssl.SSLContext:
    # built once: httpx would otherwise load the CA bundle, slowly, for every call
    return ssl.create_default_context()


class RpcClient:
    """One node, optionally one of its wallets (`/wallet/<name>`).

    A connection per call: the runtime has no hook that would close a pooled client, the
    node is normally on the same host, and nothing stays bound to an event loop."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None,
        password: str | None,
        wallet: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        base = url.rstrip("/")
        self.url = f"{base}/wallet/{quote(wallet, safe='')}" if wallet is not None else base
        self.auth = httpx.BasicAuth(username or "", password or "") if username else None
        self.timeout = httpx.Timeout(timeout, connect=min(timeout, 5.0))
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        body = json.dumps(
            {"jsonrpc": "1.0", "id": next(self._ids), "method": method, "params": list(params)},
            default=_encode,
        )
        try:
            async with httpx.AsyncClient(
                timeout=self.timeout, auth=self.auth, verify=_tls()
            ) as client:
                response = await client.post(
                    self.url, content=body, headers={"Content-Type": "application/json"}
                )
        except httpx.HTTPError as exc:
            # connect refused, timeouts, a connection cut mid-answer: whether the node
            # acted on the call is unknown
            raise ChainUnavailable(f"{method}: node unreachable: {exc!r}") from exc
        if response.status_code in (401, 403):
            raise ChainUnavailable(
                f"{method}: the node refused the RPC credentials (HTTP {response.status_code})"
            )
        try:
            answer = json.loads(response.text, parse_float=Decimal)
        except ValueError as exc:
            raise ChainUnavailable(
                f"{method}: HTTP {response.status_code} without JSON-RPC answer"
            ) from exc
        error = answer.get("error") if isinstance(answer, dict) else None
        if error:
            code, message = int(error.get("code", 0)), str(error.get("message", ""))
            if code == IN_WARMUP:
                raise ChainUnavailable(f"{method}: node is starting: {message}")
            raise RpcError(method, code, message)
        if response.status_code != 200 or not isinstance(answer, dict):
            raise ChainUnavailable(f"{method}: HTTP {response.status_code}")
        return answer.get("result")
