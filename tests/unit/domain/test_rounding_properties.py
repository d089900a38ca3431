"""Property: rounding never favours the merchant against the ledger (DESIGN §1.6).

For any amount, fee schedule and fee mode, `fees.price` quantizes every amount to the
asset's decimals, rounds what the merchant pays up and what the recipient gets down (by
less than one quantum each), and charges at least what the recipient gets plus the fees;
`ledger.payout_posting` then writes a transaction that sums to zero per currency and takes
exactly the debit from the merchant.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Context, Decimal, localcontext
from typing import Any

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import FEE_MODES, Pricing, ServiceFee, price, service_fee
from payoutd.domain.ledger import (
    AccountKind,
    Entry,
    imbalance,
    merchant_account,
    payout_posting,
    system_account,
)
from payoutd.domain.money import quantize, quantum
from payoutd.domain.payout import Payout, Status

ZERO = Decimal(0)
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def decimal_with(max_places: int, max_whole: int) -> st.SearchStrategy[Decimal]:
    """A non-negative decimal with up to `max_places` decimals, sometimes more than the
    asset allows (so quantizing has something to do)."""
    return st.integers(0, max_places).flatmap(
        lambda places: st.integers(0, max_whole * 10**places).map(
            lambda n: Decimal(n).scaleb(-places)
        )
    )


decimals_st = st.integers(0, 18)
amounts = decimal_with(20, 10**8).filter(lambda d: d > 0)
network_fees = decimal_with(20, 1000)
percents = st.one_of(
    decimal_with(4, 100), st.integers(1, 10**6).map(lambda n: Decimal(n).scaleb(-4))
)
fixed_fees = decimal_with(20, 100)


@st.composite
def priced_amounts(draw: st.DrawFn) -> tuple[int, Decimal]:
    """Decimals and a positive amount at that precision or up to two places finer (which
    price() rounds down). Callers refuse finer amounts before pricing (quote() does), so
    the amount left after that rounding is always positive."""
    decimals = draw(decimals_st)
    places = draw(st.integers(0, decimals + 2))
    top = 10**8 * 10**places
    # small numbers, and numbers that use every digit (where precision runs out)
    amount = Decimal(draw(st.one_of(st.integers(1, top), st.integers(top // 100, top)))).scaleb(
        -places
    )
    assume(quantize(amount, decimals, ROUND_FLOOR) > 0)
    return decimals, amount


def exact() -> Any:
    """A context for the test's own arithmetic that never rounds. The code under test
    always runs outside it, in whatever context the caller has (the default one)."""
    return localcontext(Context(prec=200))


def is_quantized(value: Decimal, decimals: int) -> bool:
    return value == quantize(value, decimals, ROUND_FLOOR)


def make_payout(
    pricing: Pricing,
    *,
    fee_mode: str,
    debit_amount: Decimal,
    debit_currency: str = "BTC",
    payout_currency: str = "BTC",
) -> Payout:
    return Payout(
        id="p1",
        merchant_id="m1",
        order_id=None,
        status=Status.CONFIRMING,
        amount=pricing.payout_amount,
        currency=payout_currency,
        payout_amount=pricing.payout_amount,
        payout_currency=payout_currency,
        network="BTC",
        address="1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
        memo=None,
        fee_mode=fee_mode,
        priority=None,
        fee_network=pricing.fee_network,
        fee_service=pricing.fee_service,
        final_amount=pricing.final_amount,
        debit_amount=debit_amount,
        debit_currency=debit_currency,
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


# 99999999.999999999999999999 ETH at 99.9999 % owes 99999899.999999999999999999000001:
# rounded half-even to 28 digits first, the fee came out one wei short.
FULL_PRECISION = ((18, Decimal("99999999.999999999999999999")), Decimal("99.9999"))


@settings(max_examples=500, deadline=None)
@given(
    case=priced_amounts(),
    network_fee=network_fees,
    percent=percents,
    fixed=fixed_fees,
    fee_mode=st.sampled_from(FEE_MODES),
)
@example(
    case=FULL_PRECISION[0],
    network_fee=ZERO,
    percent=FULL_PRECISION[1],
    fixed=ZERO,
    fee_mode="on_top",
)
def test_price_rounds_against_the_merchant_and_quantizes_everything(
    case: tuple[int, Decimal], network_fee: Decimal, percent: Decimal, fixed: Decimal, fee_mode: str
) -> None:
    decimals, amount = case
    schedule = ServiceFee(percent=percent, fixed=fixed)
    try:
        p = price(
            amount, decimals=decimals, network_fee=network_fee, service=schedule, fee_mode=fee_mode
        )
    except PayoutdError as err:
        refused: PayoutdError | None = err
    else:
        refused = None

    with exact():
        q = quantum(decimals)
        amount_q = quantize(amount, decimals, ROUND_FLOOR)
        raw_service = amount_q * percent / 100 + fixed  # the true service fee
        if refused is not None:
            # Only refused when the recipient would get nothing after the fees.
            assert refused.code == "withdrawal_too_small"
            assert fee_mode == "from_amount"
            assert amount_q - network_fee - raw_service < 2 * q  # rounded fees ate it all
            return

        for value in (p.payout_amount, p.fee_network, p.fee_service, p.final_amount, p.charged):
            assert is_quantized(value, decimals), (value, decimals)
            assert value >= 0
        assert p.final_amount > 0

        # What leaves the balance covers what the recipient gets plus the fees.
        assert p.charged >= p.final_amount + p.fee_network + p.fee_service
        assert p.charged == p.final_amount + p.fee_total

        # Fees round up by less than one quantum; the amount rounds down by less than one.
        assert network_fee <= p.fee_network < network_fee + q
        assert raw_service <= p.fee_service < raw_service + q
        assert amount - q < p.payout_amount <= amount

        if fee_mode == "on_top":
            assert p.final_amount == p.payout_amount
            assert p.charged >= amount - q + network_fee + raw_service
        else:
            assert p.charged == p.payout_amount
            assert p.charged <= amount
            assert p.final_amount <= amount - network_fee - raw_service


@settings(max_examples=500, deadline=None)
@given(
    case=priced_amounts(),
    network_fee=network_fees,
    percent=percents,
    fixed=fixed_fees,
    fee_mode=st.sampled_from(FEE_MODES),
    dust=st.integers(0, 5),
)
def test_payout_posting_balances_and_takes_exactly_the_debit(
    case: tuple[int, Decimal],
    network_fee: Decimal,
    percent: Decimal,
    fixed: Decimal,
    fee_mode: str,
    dust: int,
) -> None:
    decimals, amount = case
    try:
        p = price(
            amount,
            decimals=decimals,
            network_fee=network_fee,
            service=ServiceFee(percent, fixed),
            fee_mode=fee_mode,
        )
    except PayoutdError:
        return
    # A debit rounded up beyond what is spent (`dust` quanta) stays with the operator.
    with exact():
        debit = p.charged + dust * quantum(decimals)
    payout = make_payout(p, fee_mode=fee_mode, debit_amount=debit)
    entries = payout_posting(payout)

    with exact():
        check_posting(entries, p, debit, decimals, dust)


def check_posting(
    entries: list[Entry], p: Pricing, debit: Decimal, decimals: int, dust: int
) -> None:
    assert imbalance(entries) == {}
    by_account: dict[str, Decimal] = {}
    for e in entries:
        assert e.currency == "BTC"
        assert is_quantized(e.amount, decimals), e
        by_account[e.account] = by_account.get(e.account, ZERO) + e.amount
    assert by_account[merchant_account("m1", "BTC")] == -debit
    assert by_account[system_account(AccountKind.CHAIN, "BTC")] == p.final_amount
    assert by_account.get(system_account(AccountKind.NETWORK_FEES, "BTC"), ZERO) == p.fee_network
    assert by_account.get(
        system_account(AccountKind.SERVICE_FEES, "BTC"), ZERO
    ) == p.fee_service + dust * quantum(decimals)
    # the merchant loses at least what the recipient gets plus the fees
    assert -by_account[merchant_account("m1", "BTC")] >= p.final_amount + p.fee_total


@settings(max_examples=300, deadline=None)
@given(
    case=priced_amounts(),
    network_fee=network_fees,
    fee_mode=st.sampled_from(FEE_MODES),
    debit=amounts,
)
def test_a_converted_payout_balances_in_each_currency(
    case: tuple[int, Decimal], network_fee: Decimal, fee_mode: str, debit: Decimal
) -> None:
    decimals, amount = case
    try:
        p = price(
            amount,
            decimals=decimals,
            network_fee=network_fee,
            service=ServiceFee(),
            fee_mode=fee_mode,
        )
    except PayoutdError:
        return
    with exact():
        debit = quantize(debit, 6, ROUND_FLOOR) + quantum(6)  # paid from a USDT balance
    payout = make_payout(p, fee_mode=fee_mode, debit_amount=debit, debit_currency="USDT")
    entries = payout_posting(payout)
    with exact():
        check_converted(entries, p, debit)


def check_converted(entries: list[Entry], p: Pricing, debit: Decimal) -> None:
    assert imbalance(entries) == {}
    usdt = [e for e in entries if e.currency == "USDT"]
    assert (
        sum((e.amount for e in usdt if e.account == merchant_account("m1", "USDT")), ZERO) == -debit
    )
    btc_out = sum((e.amount for e in entries if e.currency == "BTC" and e.amount > 0), ZERO)
    assert btc_out == p.final_amount + p.fee_total


def test_an_unknown_fee_mode_is_refused() -> None:
    with pytest.raises(PayoutdError) as info:
        price(Decimal(1), decimals=8, network_fee=ZERO, service=ServiceFee(), fee_mode="sometimes")
    assert info.value.code == "validation_error"


# Amounts of 20 to 26 digits at 12 to 18 decimals (up to 10^8 ETH, DAI or BSC USDT,
# every wei used) times a percent with decimals: more digits than Python's default
# 28-digit context keeps.
full_precision = st.tuples(st.integers(12, 18), st.integers(10**19, 10**26 - 1)).map(
    lambda t: (t[0], Decimal(t[1]).scaleb(-t[0]))
)


@settings(max_examples=300, deadline=None)
@given(case=full_precision, percent=st.integers(1, 10**6).map(lambda n: Decimal(n).scaleb(-4)))
@example(case=FULL_PRECISION[0], percent=FULL_PRECISION[1])
def test_service_fee_is_never_below_the_exact_fee_at_full_precision(
    case: tuple[int, Decimal], percent: Decimal
) -> None:
    decimals, amount = case
    fee = service_fee(amount, ServiceFee(percent=percent), decimals)
    with exact():
        owed = amount * percent / 100
        assert owed <= fee < owed + quantum(decimals)
        assert is_quantized(fee, decimals)
