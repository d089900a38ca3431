"""The hold rule (domain/ledger.py `grant_holds`), its all-or-nothing form, and the
per-account sums the PostgreSQL intake's one statement computes in SQL."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from payoutd.domain.ledger import HoldRefusal, all_holds_fit, grant_holds, held_by_account

ACCOUNTS = ["a", "b", "c"]
amounts = st.integers(min_value=1, max_value=1000).map(lambda n: Decimal(n) / 100)
availables = st.dictionaries(
    st.sampled_from(ACCOUNTS[:2]),
    st.integers(min_value=0, max_value=3000).map(lambda n: Decimal(n) / 100),
)
wanteds = st.lists(st.tuples(st.sampled_from(ACCOUNTS), amounts), max_size=12)


def test_holds_are_granted_in_order_and_a_refused_one_takes_nothing() -> None:
    available = {"a": Decimal("10")}
    wanted = [("a", Decimal("6")), ("a", Decimal("5")), ("a", Decimal("4")), ("b", Decimal(1))]
    assert grant_holds(available, wanted) == [None, HoldRefusal.SHORT, None, HoldRefusal.NO_ACCOUNT]
    assert available == {"a": Decimal("10")}  # not consumed
    assert not all_holds_fit(available, wanted)
    assert all_holds_fit(available, wanted[:1] + wanted[2:3])


@settings(max_examples=500, deadline=None)
@given(available=availables, wanted=wanteds)
def test_what_is_granted_never_overdraws(
    available: dict[str, Decimal], wanted: list[tuple[str, Decimal]]
) -> None:
    verdicts = grant_holds(available, wanted)
    granted = [w for w, v in zip(wanted, verdicts, strict=True) if v is None]
    for account, held in held_by_account(granted).items():
        assert held <= available[account]


@settings(max_examples=500, deadline=None)
@given(available=availables, wanted=wanteds)
def test_all_fit_is_every_account_covering_its_sum(
    available: dict[str, Decimal], wanted: list[tuple[str, Decimal]]
) -> None:
    """The SQL's form: no account wanted is missing or short of the sum wanted of it."""
    sums = held_by_account(wanted)
    sql_form = all(
        account in available and available[account] >= amount for account, amount in sums.items()
    )
    assert all_holds_fit(available, wanted) == sql_form
