"""The rows every request reads: its API key with the merchant's access policy and
service fees; and the balances a provider dialect's answers show.

They are read for many concurrent requests at once (payoutd.coalesce: one read serves
every request that arrived while the previous one ran) and then kept for
`auth_cache_seconds` (default 1 s; 0 turns the cache off). A change made through this
process's API (a key created or deleted, two-factor, the address allowlist, fees) clears
the cache as it is answered; a change made through another process is seen here within
`auth_cache_seconds`. A key that is not found is never cached, so a new key works at once.
A read for a row that has expired also renews the rows in use that are past half their
life, so many keys in use cost a read now and then, not one per key per lifetime.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from fastapi import FastAPI, Request

from payoutd.bootstrap import Runtime
from payoutd.coalesce import Coalescer
from payoutd.domain.access import ApiKey, MerchantPolicy
from payoutd.domain.fees import ServiceFee
from payoutd.domain.ledger import Balance
from payoutd.services import merchants


@dataclass(frozen=True, slots=True)
class KeyRow:
    key: ApiKey
    policy: MerchantPolicy | None
    fees: Mapping[str, ServiceFee] = field(default_factory=dict)  # the merchant's, by currency


class KeyCache:
    """Rows by key prefix, each kept `ttl` seconds. `clear` also turns away rows from
    reads that began before it (they may predate the change that cleared it)."""

    # How many other rows one read may renew (`renewable`): a bound on that read's size.
    RENEW_AT_MOST = 256

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self.clock = clock  # monotonic seconds
        self.generation = 0
        self._rows: dict[str, tuple[float, KeyRow]] = {}
        self._used: dict[str, float] = {}  # prefix -> when a request last found it here

    def get(self, prefix: str) -> KeyRow | None:
        found = self._rows.get(prefix)
        if found is None:
            return None
        now = self.clock()
        if now >= found[0]:
            del self._rows[prefix]
            return None
        self._used[prefix] = now
        return found[1]

    def renewable(self, now: float, besides: str) -> list[str]:
        """Rows in use (found by a request within the last `ttl`) that are past half
        their life: read together with a row that has expired, they do not expire one
        by one later, each a read of its own. With many keys in use (64 merchants in the
        benchmarks) those reads were a transaction per key per second in each process."""
        if len(self._rows) > 4 * self.RENEW_AT_MOST:  # a scan per read stays small
            self._forget_before(now)
            if len(self._rows) > 4 * self.RENEW_AT_MOST:
                return []
        used = self._used
        return [
            prefix
            for prefix, (expires, _) in self._rows.items()
            if prefix != besides
            and expires - now < self.ttl / 2
            and prefix in used
            and now - used[prefix] < self.ttl
        ][: self.RENEW_AT_MOST]

    def put(
        self, prefix: str, row: KeyRow, generation: int, read_at: float, *, used: bool = True
    ) -> None:
        """Keep a row read at `read_at` (monotonic, taken before the read was asked for):
        its age counts from then, so nothing older than `ttl` is ever served. `used`: a
        request asked for it (not only renewed with another)."""
        if self.ttl > 0 and generation == self.generation:
            if len(self._rows) > 100_000:  # a bound, not a policy: start over
                self._rows.clear()
                self._used.clear()
            self._rows[prefix] = (read_at + self.ttl, row)
            if used:
                self._used[prefix] = read_at

    def drop(self, prefix: str) -> None:
        """A key a read did not find (deleted): not served from here any longer."""
        self._rows.pop(prefix, None)
        self._used.pop(prefix, None)

    def _forget_before(self, now: float) -> None:
        self._rows = {p: v for p, v in self._rows.items() if v[0] > now}
        self._used = {p: t for p, t in self._used.items() if now - t < self.ttl}

    def clear(self) -> None:
        self.generation += 1
        self._rows.clear()
        self._used.clear()


def install(app: FastAPI, runtime: Runtime) -> None:
    app.state.keys = Coalescer(partial(_read_keys, runtime))
    app.state.key_cache = KeyCache(runtime.settings.auth_cache_seconds)
    app.state.signing_keys = SigningKeys(app.state.key_cache)
    app.state.balances = Coalescer(partial(_read_balances, runtime))


async def key_row(request: Request, prefix: str) -> KeyRow | None:
    cache: KeyCache = request.app.state.key_cache
    row = cache.get(prefix)
    if row is None:
        generation, read_at = cache.generation, cache.clock()
        keys: Coalescer[str, KeyRow] = request.app.state.keys
        found = await keys.get_many([prefix, *cache.renewable(read_at, prefix)])
        for each, got in found.items():
            if got is not None:
                cache.put(each, got, generation, read_at, used=each == prefix)
            else:
                cache.drop(each)
        row = found[prefix]
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
    return {
        prefix: KeyRow(key, policy, fees.get(key.merchant_id or "", {}))
        for prefix, (key, policy) in keys.items()
    }


@dataclass(frozen=True, slots=True)
class SigningKey:
    """One of a merchant's live payouts keys, as a provider dialect's client holds it: the
    whole key (`pk_<prefix>_<secret>`), the "payout key" its signatures are made with."""

    prefix: str
    token: str


class SigningKeys:
    """A merchant's payouts keys by merchant id, for dialects whose requests name the
    merchant and sign with its payout key (Cryptomus, Spark); kept like KeyCache's rows
    (`auth_cache_seconds`, and forgotten with it: `KeyCache.clear` after a key changes)."""

    def __init__(self, cache: KeyCache) -> None:
        self.cache = cache
        self._rows: dict[str, tuple[float, int, list[SigningKey]]] = {}

    async def of(self, runtime: Runtime, merchant_id: str) -> list[SigningKey]:
        now = self.cache.clock()
        found = self._rows.get(merchant_id)
        if found is not None and now < found[0] and found[1] == self.cache.generation:
            return found[2]
        generation = self.cache.generation
        async with runtime.db.read() as uow:
            keys = await uow.merchants.keys(merchant_id)
        live = []
        for key in keys:
            token = merchants.payout_key(runtime.ctx, key)
            if token and "payouts" in key.scopes and key.revoked_at is None:
                live.append(SigningKey(key.prefix, token))
        if self.cache.ttl > 0 and generation == self.cache.generation:
            if len(self._rows) > 100_000:  # a bound, not a policy: start over
                self._rows.clear()
            self._rows[merchant_id] = (now + self.cache.ttl, generation, live)
        return live


async def signing_keys(request: Request, merchant_id: str) -> list[SigningKey]:
    keys: SigningKeys = request.app.state.signing_keys
    return await keys.of(request.app.state.runtime, merchant_id)


async def available(request: Request, merchant_id: str, currency: str) -> Decimal:
    """The merchant's available balance in `currency` (0 without an account), as read
    after this call was made: a provider dialect answers its creates with it. Concurrent
    calls share one read (payoutd.coalesce), which never serves a value read before the
    call was made, so a create's answer always includes its own hold. One read per
    create was most of a dialect create's CPU on SQLite (bench/README.md, `compat`)."""
    balances: Coalescer[tuple[str, str], Balance] = request.app.state.balances
    found = await balances.get((merchant_id, currency))
    return found.available if found is not None else Decimal(0)


async def _read_balances(
    runtime: Runtime, asked: list[tuple[str, str]]
) -> dict[tuple[str, str], Balance]:
    async with runtime.db.read() as uow:
        return await uow.ledger.balances_of(asked)
