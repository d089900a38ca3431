"""Concurrent lookups of many keys answered by one query.

Under load the API reads the same kinds of small rows for every request (the API key
and its merchant's policy, the merchant's service fees). Asked one by one, each costs a
round trip and, on SQLite, a trip through the driver's thread; asked together they cost
one. A lookup joins the next query that has not started yet, never one already under
way, so it sees every change committed before it was asked: coalescing saves work
without serving anything older than an uncoalesced read would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Coalescer(Generic[K, V]):
    def __init__(self, fetch: Callable[[list[K]], Awaitable[Mapping[K, V]]]) -> None:
        self._fetch = fetch
        self._asked: dict[K, list[asyncio.Future[V | None]]] = {}
        self._running: asyncio.Task[None] | None = None

    async def get(self, key: K) -> V | None:
        """The value for `key`, or None when there is none."""
        return await self._ask(key)

    async def get_many(self, keys: list[K]) -> dict[K, V | None]:
        """`get` for several keys, in the same query."""
        answers = [self._ask(key) for key in keys]
        return dict(zip(keys, await asyncio.gather(*answers), strict=True))

    def _ask(self, key: K) -> asyncio.Future[V | None]:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[V | None] = loop.create_future()
        self._asked.setdefault(key, []).append(answer)
        if self._running is None:
            self._running = loop.create_task(self._run())
        return answer

    async def _run(self) -> None:
        try:
            while self._asked:
                asked, self._asked = self._asked, {}
                try:
                    found = await self._fetch(list(asked))
                except Exception as exc:
                    for waiting in asked.values():
                        for answer in waiting:
                            if not answer.done():
                                answer.set_exception(exc)
                    continue
                for key, waiting in asked.items():
                    value = found.get(key)
                    for answer in waiting:
                        if not answer.done():  # its request may have gone
                            answer.set_result(value)
        finally:
            self._running = None
