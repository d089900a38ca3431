"""The batch arithmetic of domain/batching.py."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from payoutd.domain.batching import (
    Output,
    batch_priority,
    build_outputs,
    fee_shares,
    output_index,
)
from payoutd.domain.payout import Payout, Status

NOW = datetime(2026, 1, 1, tzinfo=UTC)
A1, A2 = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"


def payout(
    pid: str,
    amount: str,
    address: str = A1,
    *,
    memo: str | None = None,
    fee: str = "0.0001",
    priority: str | None = None,
) -> Payout:
    return Payout(
        id=pid,
        merchant_id="m1",
        order_id=None,
        status=Status.QUEUED,
        amount=Decimal(amount),
        currency="BTC",
        payout_amount=Decimal(amount),
        payout_currency="BTC",
        network="BTC",
        address=address,
        memo=memo,
        fee_mode="from_amount",
        priority=priority,
        fee_network=Decimal(fee),
        fee_service=Decimal(0),
        final_amount=Decimal(amount) - Decimal(fee),
        debit_amount=Decimal(amount),
        debit_currency="BTC",
        rate_value=None,
        rate_source=None,
        rate_expires_at=None,
        approval="auto",
        execute_at=None,
        expires_at=None,
        callback_url=None,
        comment=None,
        metadata={},
        created_at=NOW,
        updated_at=NOW,
    )


def test_payouts_to_one_address_and_memo_share_an_output_in_first_payout_order() -> None:
    ps = [
        payout("a", "1", A2),
        payout("b", "2", A1),
        payout("c", "3", A2),
        payout("d", "1", A2, memo="x"),
    ]
    assert build_outputs(ps, subtract=False) == [
        Output(A2, Decimal("3.9998")),
        Output(A1, Decimal("1.9999")),
        Output(A2, Decimal("0.9999"), "x"),
    ]
    assert output_index(ps) == {"a": 0, "b": 1, "c": 0, "d": 2}
    # subtracting: each output carries the payouts' gross (final + the fee estimate)
    assert build_outputs(ps, subtract=True)[0] == Output(A2, Decimal("4"), subtract_fee=True)


def test_a_batch_goes_at_the_highest_priority_paid_for() -> None:
    assert batch_priority([payout("a", "1"), payout("b", "1")]) is None
    assert (
        batch_priority(
            [
                payout("a", "1", priority="economy"),
                payout("b", "1", priority="high"),
                payout("c", "1", priority="recommended"),
            ]
        )
        == "high"
    )


@settings(max_examples=300, deadline=None)
@given(
    amounts=st.lists(st.integers(min_value=10_000, max_value=10**10), min_size=1, max_size=6),
    addresses=st.lists(st.sampled_from([A1, A2]), min_size=6, max_size=6),
    taken=st.lists(st.integers(min_value=0, max_value=9_999), min_size=2, max_size=2),
)
def test_fee_shares_add_up_to_what_each_output_paid(
    amounts: list[int], addresses: list[str], taken: list[int]
) -> None:
    sat = Decimal("0.00000001")
    ps = [
        dataclasses.replace(
            payout(str(i), str(a * sat), addresses[i], fee="0"), final_amount=a * sat
        )
        for i, a in enumerate(amounts)
    ]
    outputs = build_outputs(ps, subtract=True)
    carried = [o.amount - taken[i] * sat for i, o in enumerate(outputs)]
    index = output_index(ps)
    shares = fee_shares(ps, outputs, carried, index, True, 8)
    for o, output in enumerate(outputs):
        members = [p for p in ps if index[p.id] == o]
        assert sum(shares[p.id]["fee_network"] for p in members) == output.amount - carried[o]
        assert sum(shares[p.id]["final_amount"] for p in members) == carried[o]
        assert all(shares[p.id]["fee_network"] >= 0 for p in members)


def test_no_shares_when_nothing_was_subtracted() -> None:
    ps = [payout("a", "1")]
    assert fee_shares(ps, build_outputs(ps, False), (), output_index(ps), False, 8) == {}
