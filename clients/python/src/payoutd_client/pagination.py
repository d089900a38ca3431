"""Lists: iterate a `Pager` to walk every item, fetching the next page (by its
`next_cursor`) only when the items of the previous one are used up; `.page()` fetches
one page."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Generic, TypeVar

from payoutd_client.models import Page

T = TypeVar("T")


class Pager(Generic[T]):
    def __init__(self, fetch: Callable[[str | None], Page[T]]) -> None:
        self._fetch = fetch

    def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first, or the one `cursor` (a page's `next_cursor`) points to."""
        return self._fetch(cursor)

    def __iter__(self) -> Iterator[T]:
        cursor: str | None = None
        while True:
            page = self._fetch(cursor)
            yield from page.data
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


class AsyncPager(Generic[T]):
    def __init__(self, fetch: Callable[[str | None], Awaitable[Page[T]]]) -> None:
        self._fetch = fetch

    async def page(self, cursor: str | None = None) -> Page[T]:
        """One page: the first, or the one `cursor` (a page's `next_cursor`) points to."""
        return await self._fetch(cursor)

    async def _walk(self) -> AsyncIterator[T]:
        cursor: str | None = None
        while True:
            page = await self._fetch(cursor)
            for item in page.data:
                yield item
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def __aiter__(self) -> AsyncIterator[T]:
        return self._walk()
