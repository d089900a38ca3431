"""payoutd.domain.rates: the one place cross rates are computed."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from payoutd.domain.money import CONTEXT
from payoutd.domain.rates import (
    CrossRoute,
    Direct,
    Rate,
    RateTooOld,
    RateUnavailable,
    cross,
    pair_rate,
    route,
)

D = Decimal


def quotes(**pairs: str) -> Direct:
    """A `direct` lookup from keyword pairs like BTC_USD="65000"."""
    table = {tuple(key.split("_")): D(value) for key, value in pairs.items()}

    def direct(base: str, quote: str) -> Decimal | None:
        return table.get((base, quote))

    return direct


def test_identity_is_one_even_without_any_quote() -> None:
    assert cross(quotes(), "BTC", "BTC") == 1
    assert route(quotes(), "eur", "EUR") == CrossRoute(D(1), ("EUR",))


def test_direct_pair() -> None:
    assert cross(quotes(BTC_USD="65000.00"), "BTC", "USD") == D("65000.00")


def test_direct_pair_wins_over_a_cross() -> None:
    direct = quotes(ETH_BTC="0.049", ETH_USD="3200", BTC_USD="65000")
    found = route(direct, "ETH", "BTC")
    assert found is not None
    assert found.value == D("0.049")
    assert found.path == ("ETH", "BTC")


def test_inverse_pair() -> None:
    value = cross(quotes(BTC_USD="65000"), "USD", "BTC")
    assert value == CONTEXT.divide(D(1), D(65000))
    assert value is not None and str(value).startswith("0.0000153846153846153846")


def test_via_usd() -> None:
    direct = quotes(BTC_USD="65000", EUR_USD="1.08")
    found = route(direct, "BTC", "EUR")
    assert found is not None
    assert found.path == ("BTC", "USD", "EUR")
    assert found.value == CONTEXT.multiply(D(65000), CONTEXT.divide(D(1), D("1.08")))


def test_via_usdt_when_the_source_quotes_usdt() -> None:
    direct = quotes(BTC_USDT="65012.34", USDT_EUR="0.925")
    found = route(direct, "BTC", "EUR")
    assert found is not None
    assert found.path == ("BTC", "USDT", "EUR")
    assert found.value == D("65012.34") * D("0.925")
    # and back, both legs inverted
    back = cross(direct, "EUR", "BTC")
    assert back == CONTEXT.multiply(CONTEXT.divide(1, D("0.925")), CONTEXT.divide(1, D("65012.34")))


def test_two_legs_only_through_a_quoted_usdt_usd_pair() -> None:
    # BTC is quoted in USDT, EUR in USD: the way through is the source's own USDT/USD.
    direct = quotes(BTC_USDT="65000", EUR_USD="1.08", USDT_USD="0.999")
    found = route(direct, "BTC", "EUR")
    assert found is not None
    assert found.path == ("BTC", "USDT", "USD", "EUR")
    assert found.value == CONTEXT.multiply(
        CONTEXT.multiply(D(65000), D("0.999")), CONTEXT.divide(1, D("1.08"))
    )


def test_no_usdt_usd_peg_is_invented() -> None:
    direct = quotes(BTC_USDT="65000", EUR_USD="1.08")
    assert cross(direct, "BTC", "EUR") is None
    assert cross(direct, "BTC", "USD") is None
    assert cross(direct, "USDT", "USD") is None


def test_usd_stand_in_only_when_asked_and_only_for_usd() -> None:
    direct = quotes(BTC_USDT="65000", EUR_USDT="1.0812")
    found = route(direct, "BTC", "USD", usd_stand_in="USDT")
    assert found == CrossRoute(D(65000), ("BTC", "USDT"), "USDT")
    found = route(direct, "USD", "EUR", usd_stand_in="USDT")
    assert found is not None and found.stand_in == "USDT"
    assert found.value == CONTEXT.divide(1, D("1.0812"))
    # a real USD quote is preferred over the stand-in
    real = quotes(BTC_USDT="65000", BTC_USD="64990")
    assert route(real, "BTC", "USD", usd_stand_in="USDT") == CrossRoute(D(64990), ("BTC", "USD"))
    # the stand-in never helps a pair that does not involve USD
    assert cross(direct, "BTC", "LTC", usd_stand_in="USDT") is None


def test_missing_leg_is_none() -> None:
    assert cross(quotes(BTC_USD="65000"), "BTC", "EUR") is None
    assert cross(quotes(), "BTC", "USD") is None
    assert pair_rate(quotes(), "BTC", "USD") is None


def test_zero_negative_or_non_finite_quotes_are_ignored() -> None:
    assert cross(quotes(BTC_USD="0"), "USD", "BTC") is None
    assert cross(quotes(BTC_USD="-1"), "BTC", "USD") is None
    assert cross(quotes(BTC_USD="NaN", USD_BTC="Infinity"), "BTC", "USD") is None


def test_precision_is_high_and_context_is_the_money_one() -> None:
    value = cross(quotes(BTC_USD="3"), "USD", "BTC")
    assert value is not None
    assert len(value.as_tuple().digits) == CONTEXT.prec
    assert value == CONTEXT.divide(1, 3)
    # a round trip through two inverses lands back within the last digit
    there = cross(quotes(A_USD="7", B_USD="3"), "A", "B")
    back = cross(quotes(A_USD="7", B_USD="3"), "B", "A")
    assert there is not None and back is not None
    assert abs(CONTEXT.multiply(there, back) - 1) < D("1e-58")


def test_case_is_normalised() -> None:
    assert cross(quotes(BTC_USD="65000"), "btc", "usd") == D(65000)


def test_rate_value_object() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    rate = Rate("BTC", "USD", D("65000"), "static", now)
    assert rate.convert(D("0.5")) == D("32500.0")
    assert rate.route == ()
    with pytest.raises(ValueError):
        Rate("BTC", "USD", D(0), "static", now)
    with pytest.raises(AttributeError):
        rate.value = D(1)  # type: ignore[misc]  # what is checked: a Rate is frozen


def test_errors_carry_a_message_and_too_old_is_unavailable() -> None:
    exc = RateTooOld(
        "too old", base="BTC", quote="USD", source="Binance", age_seconds=301, max_age_seconds=300
    )
    assert isinstance(exc, RateUnavailable)
    assert str(exc) == "too old" and exc.age_seconds == 301 and exc.source == "Binance"
