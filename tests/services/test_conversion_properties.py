"""Property: paid from any balance, crypto or fiat, a payout never takes less from the
balance than what is sent plus the fees are worth (DESIGN §1.6), in every pair the
shipped rates file prices, in both fee modes, and its ledger posting sums to zero in
every asset.

Hypothesis draws a payout asset, what the amount is denominated in (the crypto itself,
USD or EUR), which balance pays (its own, another crypto, a fiat), the amount, the
fee mode and the merchant's service fee; the quote is made by the real quote service
(services.payouts.quote: the rate source over src/payoutd/rates/sample_rates.toml, the
sandbox chain's network fee). The test's own arithmetic is exact (fractions) and its
rates come from reading the file itself: 1 X = (X/USD) / (Y/USD) Y.

The domain function alone (domain.quotes.plan, any rate) has its properties in
tests/unit/domain/test_quote_properties.py; this file is about the service's pairs and
the rates it really uses, and about the ledger posting of the result.
"""

from __future__ import annotations

import asyncio
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from payoutd.bootstrap import Runtime, build
from payoutd.domain.assets import ASSETS, CURRENCIES
from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import ServiceFee
from payoutd.domain.ledger import imbalance, payout_posting
from payoutd.domain.payout import Payout, Status
from payoutd.services import payouts
from tests import support

SAMPLE_RATES = (
    Path(__file__).resolve().parents[2] / "src" / "payoutd" / "rates" / "sample_rates.toml"
)


def usd_prices() -> dict[str, Fraction]:
    """1 X in USD, exactly as the file writes it (USD itself is 1)."""
    table = tomllib.loads(SAMPLE_RATES.read_text())["rates"]
    prices = {"USD": Fraction(1)}
    for pair, value in table.items():
        base, quote = pair.split("/")
        assert quote == "USD", f"the test reads X/USD pairs only, not {pair}"
        prices[base] = Fraction(value)
    return prices


USD = usd_prices()
FIATS = sorted(c for c in USD if c in CURRENCIES and CURRENCIES[c].fiat)
PRICED_ASSETS = sorted(key for key in ASSETS if key[0] in USD)
BALANCES = sorted(USD)  # every priced currency may pay, fiat included


def rate(base: str, quote: str) -> Fraction:
    """1 `base` in `quote`, exactly."""
    return USD[base] / USD[quote]


def quantum(decimals: int) -> Fraction:
    return Fraction(1, 10**decimals)


def places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def precision(currency: str, network: str) -> int:
    """The decimals a payout in this asset is quantized to: what both the chain and the
    currency's balance can hold (catalogue data, not arithmetic)."""
    return min(ASSETS[(currency, network)].decimals, CURRENCIES[currency].decimals)


@dataclass(frozen=True)
class Draw:
    currency: str  # the payout currency
    network: str
    denominated: str  # what `amount` is in
    balance: str | None  # balance_currency (None: the payout currency's own)
    amount: Decimal
    fee_mode: str
    fee: ServiceFee


@st.composite
def draws(draw: st.DrawFn) -> Draw:
    currency, network = draw(st.sampled_from(PRICED_ASSETS))
    denominated = draw(st.sampled_from([currency, *FIATS]))
    decimals = (
        CURRENCIES[denominated].decimals if denominated in FIATS else precision(currency, network)
    )
    # from one unit of its last decimal to about a million, at its own precision at most
    amount = Decimal(draw(st.integers(1, 10**7))).scaleb(-draw(st.integers(0, min(decimals, 7))))
    fixed_places = precision(currency, network)
    fee = ServiceFee(
        Decimal(draw(st.integers(0, 50_000))).scaleb(-4),  # 0 to 5 %
        Decimal(draw(st.integers(0, 100))).scaleb(-min(fixed_places, 4)),
    )
    return Draw(
        currency,
        network,
        denominated,
        # half the draws paid from a fiat balance, the rest from any (or its own)
        draw(st.one_of(st.sampled_from(FIATS), st.sampled_from([None, *BALANCES]))),
        amount,
        draw(st.sampled_from(["on_top", "from_amount"])),
        fee,
    )


@pytest.fixture(scope="module")
def quoting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[asyncio.Runner, Runtime]]:
    """A runtime over the shipped rates file (quotes touch no database), and one event
    loop for all examples."""
    settings_ = support.test_settings(
        tmp_path_factory.mktemp("quoting"), None, rates_file=SAMPLE_RATES
    )
    with asyncio.Runner() as runner:
        rt = build(settings_, clock=support.FakeClock())
        yield runner, rt
        runner.run(rt.close())


# Refusals a random draw may rightly meet: outside the asset's limits, or nothing left
# for the recipient once the fees are taken out of the amount.
EXPECTED_REFUSALS = {"amount_too_small", "amount_too_large", "withdrawal_too_small"}
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def as_payout(q: payouts.Quote, d: Draw) -> Payout:
    """The payout a placement makes of this quote (the fields the ledger posting reads)."""
    p = q.pricing
    return Payout(
        id="p",
        merchant_id="m",
        order_id=None,
        status=Status.PAID,
        amount=d.amount,
        currency=d.denominated,
        payout_amount=p.payout_amount,
        payout_currency=d.currency,
        network=d.network,
        address="a",
        memo=None,
        fee_mode=d.fee_mode,
        priority=q.priority,
        fee_network=p.fee_network,
        fee_service=p.fee_service,
        final_amount=p.final_amount,
        debit_amount=q.plan.debit_amount,
        debit_currency=q.plan.debit_currency,
        rate_value=q.rate_value,
        rate_source=q.rate_source,
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


@settings(max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(d=draws())
def test_what_leaves_the_balance_covers_what_is_sent_and_the_fees(
    quoting: tuple[asyncio.Runner, Runtime], d: Draw
) -> None:
    runner, rt = quoting
    request = payouts.PayoutRequest(
        amount=d.amount,
        currency=d.denominated,
        address=None,
        network=d.network,
        payout_currency=d.currency if d.denominated != d.currency else None,
        balance_currency=d.balance,
        fee_mode=d.fee_mode,
    )
    try:
        q = runner.run(payouts.quote(rt.ctx, {d.currency: d.fee}, request))
    except PayoutdError as err:
        assert err.code in EXPECTED_REFUSALS, (err.code, err.message, d)
        event(f"refused: {err.code}")
        return
    paying = d.balance or d.currency
    kind = "its own" if paying == d.currency else "fiat" if paying in FIATS else "crypto"
    asked = "fiat" if d.denominated in FIATS else "crypto"
    event(f"{asked} amount paid from {kind}, {d.fee_mode}")
    p, debit = q.pricing, q.plan.debit_amount
    assert q.plan.debit_currency == paying

    # every amount at its currency's decimals
    decimals = precision(d.currency, d.network)
    for value in (p.payout_amount, p.fee_network, p.fee_service, p.final_amount):
        assert value >= 0 and places(value) <= decimals, (value, d)
    assert places(debit) <= CURRENCIES[paying].decimals, (debit, d)
    assert p.final_amount > 0

    # what is sent plus the fees, in the payout currency
    sent_and_fees = Fraction(p.final_amount) + Fraction(p.fee_network) + Fraction(p.fee_service)
    assert Fraction(p.charged) == sent_and_fees
    if d.fee_mode == "on_top":
        assert p.final_amount == p.payout_amount
    else:
        assert p.charged == p.payout_amount

    # the recipient never gets more than the amount asked for is worth
    assert Fraction(p.payout_amount) * rate(d.currency, d.denominated) <= Fraction(d.amount)

    # what leaves the balance >= what is sent + fees are worth in it, by less than a cent
    # (a unit of the balance's last decimal) more
    worth = sent_and_fees * rate(d.currency, paying)
    assert Fraction(debit) >= worth, (debit, worth, d)
    assert Fraction(debit) - worth <= quantum(CURRENCIES[paying].decimals), (debit, worth, d)

    # paid, the payout's posting sums to zero in every asset; the merchant loses the debit
    entries = payout_posting(as_payout(q, d))
    assert imbalance(entries) == {}
    merchant = [e for e in entries if e.account.startswith("merchant:")]
    assert [(e.currency, e.amount) for e in merchant] == [(paying, -debit)]
    if paying != d.currency:
        exchange = {e.currency: e.amount for e in entries if e.account.startswith("exchange:")}
        assert exchange == {paying: debit, d.currency: -p.charged}


def test_the_draws_cover_every_pair() -> None:
    """Every asset the file prices can be paid from every balance it prices: the
    strategy's pools are the whole catalogue, not a sample of it."""
    assert {c for c, _ in PRICED_ASSETS} == set(USD) - set(FIATS)
    assert set(FIATS) == {"USD", "EUR"}
    assert set(BALANCES) == set(USD)
