"""payoutd.coalesce: concurrent lookups share one fetch, and never one that began before
they were asked."""

from __future__ import annotations

import asyncio

import pytest

from payoutd.coalesce import Coalescer


class Table:
    """A fetch over a dict that records every call and can be held open."""

    def __init__(self) -> None:
        self.rows: dict[str, int] = {}
        self.calls: list[list[str]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.started = asyncio.Event()

    async def fetch(self, keys: list[str]) -> dict[str, int]:
        self.calls.append(sorted(keys))
        self.started.set()
        snapshot = {k: self.rows[k] for k in keys if k in self.rows}  # read when it starts
        await self.gate.wait()
        return snapshot


def held_open(**rows: int) -> tuple[Table, Coalescer[str, int]]:
    """A table whose fetches wait until the test opens the gate."""
    t = Table()
    t.rows = dict(rows)
    t.gate.clear()
    return t, Coalescer(t.fetch)


async def test_lookups_asked_together_share_one_fetch() -> None:
    t = Table()
    t.rows = {"a": 1, "b": 2}
    c = Coalescer(t.fetch)
    got = await asyncio.gather(c.get("a"), c.get("b"), c.get("a"), c.get("zzz"))
    assert list(got) == [1, 2, 1, None]
    assert t.calls == [["a", "b", "zzz"]]


async def test_a_lookup_asked_during_a_fetch_waits_for_the_next_one() -> None:
    t, c = held_open(k=1)
    first = asyncio.create_task(c.get("k"))
    await t.started.wait()  # the first fetch has read k = 1
    t.rows["k"] = 2  # a change committed after that fetch began
    second = asyncio.create_task(c.get("k"))
    for _ in range(5):
        await asyncio.sleep(0)
    assert t.calls == [["k"]]  # the second lookup did not start a fetch of its own yet
    t.gate.set()
    assert await first == 1
    assert await second == 2  # not the older answer of the fetch under way
    assert t.calls == [["k"], ["k"]]


async def test_a_failed_fetch_fails_its_lookups_only() -> None:
    calls = 0

    async def flaky(keys: list[str]) -> dict[str, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database went away")
        return {k: 7 for k in keys}

    c = Coalescer(flaky)
    with pytest.raises(ConnectionError):
        await c.get("x")
    assert await c.get("x") == 7


async def test_a_caller_that_goes_away_does_not_break_the_others() -> None:
    t, c = held_open(a=1)
    gone = asyncio.create_task(c.get("a"))
    stays = asyncio.create_task(c.get("a"))
    await asyncio.sleep(0)
    gone.cancel()
    t.gate.set()
    assert await stays == 1
    assert gone.cancelled()
