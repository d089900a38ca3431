"""Per-key request rate limits, through the `limits` library (a sliding window counter
per key). Where the counts live decides where a limit holds: in this process's memory
(`memory://`, the default: one API process) or in shared storage such as Redis
(`redis://host:6379`) when several API processes serve."""

from __future__ import annotations

import time
from functools import lru_cache

import structlog
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

NAMESPACE = "payoutd-api-key"
log = structlog.get_logger("payoutd.api")


@lru_cache(maxsize=64)
def _per_minute(limit: int) -> RateLimitItem:
    # every request asks for one of a handful of limits: each item is built once
    return RateLimitItemPerMinute(limit)


class RateLimits:
    def __init__(self, storage_url: str) -> None:
        # the `limits` library names its asyncio storages async+<scheme>://
        url = storage_url if storage_url.startswith("async+") else f"async+{storage_url}"
        self.limiter = SlidingWindowCounterRateLimiter(
            storage_from_string(url, wrap_exceptions=True)
        )

    async def take(self, key_id: str, per_minute: int) -> float | None:
        """None when the key may make this request (which then counts); else the seconds
        until it may make another."""
        item = _per_minute(per_minute)
        try:
            if await self.limiter.hit(item, NAMESPACE, key_id):
                return None
            stats = await self.limiter.get_window_stats(item, NAMESPACE, key_id)
        except StorageError as err:
            # the storage (Redis) is out of reach: limits wait until it is back rather
            # than every request failing; keys, scopes and signatures are checked as ever
            log.error("rate_limit.storage_unavailable", error=str(err.storage_error))
            return None
        return max(stats.reset_time - time.time(), 1.0)
