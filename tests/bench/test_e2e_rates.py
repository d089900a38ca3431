"""The end-to-end benchmark's backlog slope: 0 for a backlog that only rises and falls
with each batch, the gap between the two rates for one that grows."""

from __future__ import annotations

import pytest
from bench.e2e import _backlog_growth


def _samples(accept_rate: float, pay_rate: float, seconds: int = 60) -> list[dict[str, float]]:
    # payouts are paid a batch at a time, every 3 s
    return [
        {"t": float(t), "accepted": accept_rate * t, "paid": pay_rate * (t - t % 3)}
        for t in range(seconds)
    ]


def test_a_worker_that_keeps_up_grows_no_backlog() -> None:
    assert _backlog_growth(_samples(300, 300), 6, 54) == pytest.approx(0, abs=3)


def test_a_slower_worker_grows_the_backlog_by_the_difference() -> None:
    assert _backlog_growth(_samples(300, 250), 6, 54) == pytest.approx(50, abs=3)


def test_too_few_samples_give_no_slope() -> None:
    assert _backlog_growth(_samples(300, 300), 6, 7) is None
