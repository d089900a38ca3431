"""Per-key request rate limits, through the `limits` library (a sliding window counter
per key). Where the counts live decides where a limit holds: in this process's memory
(`memory://`, the default: one API process) or in shared storage such as Redis
(`redis://host:6379`) when several API processes serve."""

from __future__ import annotations

import time

from limits import RateLimitItemPerMinute
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

NAMESPACE = "payoutd-api-key"


class RateLimits:
    def __init__(self, storage_url: str) -> None:
        # the `limits` library names its asyncio storages async+<scheme>://
        url = storage_url if storage_url.startswith("async+") else f"async+{storage_url}"
        self.limiter = SlidingWindowCounterRateLimiter(storage_from_string(url))

    async def take(self, key_id: str, per_minute: int) -> float | None:
        """None when the key may make this request (which then counts); else the seconds
        until it may make another."""
        item = RateLimitItemPerMinute(per_minute)
        if await self.limiter.hit(item, NAMESPACE, key_id):
            return None
        stats = await self.limiter.get_window_stats(item, NAMESPACE, key_id)
        return max(stats.reset_time - time.time(), 1.0)
