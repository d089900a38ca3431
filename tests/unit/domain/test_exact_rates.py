"""Conversions at exact rates: a cross rate through an inverse (1 USDT in EUR is
1.00 / 1.08) has no exact decimal, so payoutd carries it as a fraction of the quoted
prices and rounds each converted amount once, from its true value."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from payoutd.domain.fees import ServiceFee
from payoutd.domain.quotes import plan
from payoutd.domain.rates import route

QUOTED = {("EUR", "USD"): Decimal("1.08"), ("USDT", "USD"): Decimal("1.00")}


def direct(base: str, quote: str) -> Decimal | None:
    return QUOTED.get((base, quote))


def test_a_cross_through_an_inverse_is_kept_exactly() -> None:
    found = route(direct, "USDT", "EUR")
    assert found is not None
    assert found.exact == Fraction(100, 108)
    # the decimal shown is the 60-digit value it always was: 1.00 times 1/1.08
    assert str(found.value).startswith("0.925925925925") and found.value != found.exact


def test_100_eur_buys_exactly_108_usdt_and_costs_exactly_100() -> None:
    price = route(direct, "USDT", "EUR")
    assert price is not None
    made = plan(
        Decimal(100),
        payout_currency="USDT",
        payout_decimals=6,
        payout_price=price.exact,
        debit_currency="EUR",
        debit_decimals=2,
        debit_price=price.exact,
        network_fee=Decimal(0),
        service=ServiceFee(),
        fee_mode="from_amount",
    )
    assert made.payout_amount == Decimal("108.000000")
    assert made.debit_amount == Decimal("100.00")


def test_the_rounded_rate_would_have_paid_one_unit_less() -> None:
    """Why the fraction: the same conversion at the 60-digit decimal rate lands a hair
    under 108 and rounds down to 107.999999."""
    price = route(direct, "USDT", "EUR")
    assert price is not None
    made = plan(
        Decimal(100),
        payout_currency="USDT",
        payout_decimals=6,
        payout_price=price.value,
        debit_currency="USDT",
        debit_decimals=6,
        debit_price=None,
        network_fee=Decimal(0),
        service=ServiceFee(),
        fee_mode="on_top",
    )
    assert made.payout_amount == Decimal("107.999999")
