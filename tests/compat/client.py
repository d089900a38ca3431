"""A Cryptomus (and Spark) payout client written from the provider's documentation
(../shared/seeds/002_… and its English summary), never from payoutd's code: it must not
import payoutd. It signs as the provider's clients in the wild do, each serialising the
body its own way before signing the bytes it sends:

    headers: merchant = the merchant's uuid, sign = md5(base64(body) + payout key), hex

and it checks webhooks as the documentation tells a merchant to: take `sign` out of the
JSON body, encode the rest as PHP's json_encode($data, JSON_UNESCAPED_UNICODE) would,
and compare md5(base64(that) + payout key)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx


def _compact(data: Any) -> bytes:
    # Python's json with compact separators, UTF-8 kept (many Python and Go clients)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def _spaced(data: Any) -> bytes:
    # Python's json.dumps defaults: ", " and ": " separators, non-ASCII escaped as \\uXXXX
    return json.dumps(data).encode()


def _php_unescaped_unicode(data: Any) -> bytes:
    # PHP: json_encode($data, JSON_UNESCAPED_UNICODE): compact, "/" written as "\\/"
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).replace("/", "\\/").encode()


def _php_default(data: Any) -> bytes:
    # PHP: json_encode($data): compact, "/" as "\\/", non-ASCII as \\uXXXX
    return json.dumps(data, separators=(",", ":")).replace("/", "\\/").encode()


SERIALISATIONS: dict[str, Callable[[Any], bytes]] = {
    "compact": _compact,
    "spaced": _spaced,
    "escaped-slashes": _php_unescaped_unicode,
    "escaped-non-ascii": _php_default,
}


def sign(body: bytes, payout_key: str) -> str:
    return hashlib.md5(base64.b64encode(body) + payout_key.encode()).hexdigest()


def webhook_is_genuine(raw: bytes, payout_key: str) -> bool:
    """The documented check of a webhook: its `sign` over the rest of its body, encoded
    as PHP's json_encode with JSON_UNESCAPED_UNICODE."""
    data = json.loads(raw)
    given = data.pop("sign", None)
    if not isinstance(given, str):
        return False
    return sign(_php_unescaped_unicode(data), payout_key) == given


class CryptomusClient:
    """POSTs signed calls to one mount (`/compat/cryptomus/v1` or `/compat/spark/v1`)."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        merchant: str,
        payout_key: str,
        base: str = "/compat/cryptomus/v1",
        serialise: str = "compact",
    ) -> None:
        self.http = http
        self.merchant = merchant
        self.payout_key = payout_key
        self.base = base
        self.serialise = serialise

    async def call(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        serialise: str | None = None,
        body: bytes | None = None,
        signature: str | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        """`body` sends those bytes as they are (signed unless `signature` is given);
        otherwise `data` is serialised the client's way. No data: an empty body, signed
        as the empty string."""
        if body is None:
            body = b"" if data is None else SERIALISATIONS[serialise or self.serialise](data)
        headers = {
            "merchant": self.merchant,
            "sign": signature if signature is not None else sign(body, self.payout_key),
            "Content-Type": "application/json",
        }
        return await self.http.post(
            f"{self.base}/{path}", content=body, headers=headers, params=params
        )

    async def payout(self, **fields: Any) -> httpx.Response:
        return await self.call("payout", fields)

    async def info(self, **fields: Any) -> httpx.Response:
        return await self.call("payout/info", fields)

    async def list(self, cursor: str | None = None, **fields: Any) -> httpx.Response:
        return await self.call(
            "payout/list", fields or None, params={"cursor": cursor} if cursor else None
        )

    async def services(self) -> httpx.Response:
        return await self.call("payout/services")

    async def balance(self) -> httpx.Response:
        return await self.call("balance")
