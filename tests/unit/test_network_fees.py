"""Quotes' network fee estimates: kept `ttl` seconds, refreshed behind the quotes that use
them, never used past `max_age`."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from payoutd.domain.assets import ASSETS, Asset
from payoutd.services.network_fees import NetworkFees
from payoutd.services.ports import ChainUnavailable

BTC = ASSETS[("BTC", "BTC")]


class Node:
    """Answers estimates from a list; counts the calls; can be made to fail."""

    def __init__(self) -> None:
        self.fee = Decimal("0.0001")
        self.calls = 0
        self.down = False

    async def estimate_fee(self, asset: Asset, priority: str | None) -> Decimal:
        self.calls += 1
        await asyncio.sleep(0)
        if self.down:
            raise ChainUnavailable("node down")
        return self.fee


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_an_estimate_is_kept_then_refreshed_behind_the_quotes() -> None:
    clock, node = Clock(), Node()
    fees = NetworkFees(ttl=10, max_age=300, clock=clock)
    assert await fees.estimate(node, BTC, None) == Decimal("0.0001")
    node.fee = Decimal("0.0002")
    clock.t = 9
    assert await fees.estimate(node, BTC, None) == Decimal("0.0001")
    assert node.calls == 1
    clock.t = 11  # stale: served as it was while one refresh asks the node
    assert await fees.estimate(node, BTC, None) == Decimal("0.0001")
    assert await fees.estimate(node, BTC, None) == Decimal("0.0001")
    await asyncio.sleep(0.01)
    assert node.calls == 2
    assert await fees.estimate(node, BTC, None) == Decimal("0.0002")
    # per priority
    assert await fees.estimate(node, BTC, "high") == Decimal("0.0002")
    assert node.calls == 3


async def test_an_estimate_past_its_max_age_is_never_used() -> None:
    clock, node = Clock(), Node()
    fees = NetworkFees(ttl=10, max_age=60, clock=clock)
    await fees.estimate(node, BTC, None)
    node.down = True
    clock.t = 30  # the refresh fails; the kept estimate still serves
    assert await fees.estimate(node, BTC, None) == Decimal("0.0001")
    await asyncio.sleep(0.01)
    clock.t = 61
    with pytest.raises(ChainUnavailable):
        await fees.estimate(node, BTC, None)


async def test_ttl_zero_asks_the_node_every_time() -> None:
    node = Node()
    fees = NetworkFees(ttl=0, max_age=0)
    for _ in range(3):
        await fees.estimate(node, BTC, None)
    assert node.calls == 3
