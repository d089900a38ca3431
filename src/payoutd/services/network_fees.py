"""The network fee a quote charges, as the chain last estimated it.

Every quote prices a network fee, and on a real node that is an RPC call (two on a
Bitcoin Core node). Asking the node for each request would put the node's answer time
on every payout's intake, however slow the node is at the moment; so an estimate is kept
for `ttl` seconds per network, asset and priority. Past that it still prices quotes
while one refresh asks the node (one at a time per key); only the first quote of a key,
or one whose estimate is older than `max_age` (the node has not answered that long),
waits for the node. The batch later pays the fee the chain really charges; what a quote
charged is an estimate either way (DESIGN §4).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Protocol

import structlog

from payoutd.domain.assets import Asset

log = structlog.get_logger("payoutd.network_fees")

_Key = tuple[str, str, str | None]


class FeeEstimator(Protocol):
    """The part of a chain (services.ports.Chain) a quote's fee estimate needs."""

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal: ...


class NetworkFees:
    def __init__(
        self, ttl: float, max_age: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.max_age = max(max_age, ttl)
        self._clock = clock
        self._known: dict[_Key, tuple[Decimal, float]] = {}
        self._refreshing: dict[_Key, asyncio.Task[None]] = {}

    async def estimate(self, chain: FeeEstimator, asset: Asset, priority: str | None) -> Decimal:
        key = (asset.network, asset.currency, priority)
        known = self._known.get(key)
        now = self._clock()
        if known is not None:
            fee, at = known
            if now - at < self.ttl:
                return fee
            if now - at < self.max_age:
                if key not in self._refreshing:
                    task = asyncio.create_task(self._refresh(key, chain, asset, priority))
                    self._refreshing[key] = task
                    task.add_done_callback(lambda _t: self._refreshing.pop(key, None))
                return fee
        fee = await chain.estimate_fee(asset, priority)
        self._known[key] = (fee, self._clock())
        return fee

    async def _refresh(
        self, key: _Key, chain: FeeEstimator, asset: Asset, priority: str | None
    ) -> None:
        try:
            fee = await chain.estimate_fee(asset, priority)
        except Exception as exc:  # the kept estimate serves until max_age
            log.warning("network_fee.refresh_failed", network=key[0], reason=str(exc))
            return
        self._known[key] = (fee, self._clock())
