"""The rows every request reads: its API key with the merchant's access policy and
service fees.

They are read for many concurrent requests at once (payoutd.coalesce: one read serves
every request that arrived while the previous one ran) and then kept for
`auth_cache_seconds` (default 1 s; 0 turns the cache off). A change made through this
process's API (a key created or deleted, two-factor, the address allowlist, fees) clears
the cache as it is answered; a change made through another process is seen here within
`auth_cache_seconds`. A key that is not found is never cached, so a new key works at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from functools import partial

from fastapi import FastAPI, Request

from payoutd.bootstrap import Runtime
from payoutd.coalesce import Coalescer
from payoutd.domain.fees import ServiceFee
from payoutd.store.merchants import ApiKey, MerchantPolicy


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    policy: MerchantPolicy | None
    fees: Mapping[str, ServiceFee] = field(default_factory=dict)  # the merchant's, by currency


class KeyCache:
    """Rows by key prefix, each kept `ttl` seconds. `clear` also turns away rows from
    reads that began before it (they may predate the change that cleared it)."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.generation = 0
        self._rows: dict[str, tuple[float, KeyRow]] = {}

    def get(self, prefix: str) -> KeyRow | None:
        found = self._rows.get(prefix)
        if found is None:
            return None
        if time.monotonic() >= found[0]:
            del self._rows[prefix]
            return None
        return found[1]

    def put(self, prefix: str, row: KeyRow, generation: int, read_at: float) -> None:
        """Keep a row read at `read_at` (monotonic, taken before the read was asked for):
        its age counts from then, so nothing older than `ttl` is ever served."""
        if self.ttl > 0 and generation == self.generation:
            if len(self._rows) > 100_000:  # a bound, not a policy: start over
                self._rows.clear()
            self._rows[prefix] = (read_at + self.ttl, row)

    def clear(self) -> None:
        self.generation += 1
        self._rows.clear()


def install(app: FastAPI, runtime: Runtime) -> None:
    app.state.keys = Coalescer(partial(_read_keys, runtime))
    app.state.key_cache = KeyCache(runtime.settings.auth_cache_seconds)


async def key_row(request: Request, prefix: str) -> KeyRow | None:
    cache: KeyCache = request.app.state.key_cache
    row = cache.get(prefix)
    if row is None:
        generation, read_at = cache.generation, time.monotonic()
        row = await request.app.state.keys.get(prefix)
        if row is not None:
            cache.put(prefix, row, generation, read_at)
    return row


async def forget_after_changes(request: Request) -> AsyncIterator[None]:
    """Router dependency for the calls that change keys, policies or fees: once such a
    call has run, and before it is answered, this process reads them afresh (installed
    with scope="function" so it runs before the response goes out)."""
    try:
        yield
    finally:
        if request.method != "GET":
            request.app.state.key_cache.clear()


async def _read_keys(runtime: Runtime, prefixes: list[str]) -> dict[str, KeyRow]:
    async with runtime.db.read() as uow:
        keys = await uow.merchants.keys_and_policies(prefixes)
        merchant_ids = sorted({k.merchant_id for k, _ in keys.values() if k.merchant_id})
        fees = await uow.service_fees.of_many(merchant_ids) if merchant_ids else {}
    return {prefix: KeyRow(key, policy, fees.get(key.merchant_id or "", {}))
            for prefix, (key, policy) in keys.items()}
