"""Property: a quote never lets more reach the recipient than the balance paid for
(DESIGN §1.6), in every funding mode.

`payoutd.domain.quotes.plan` converts the request amount into the payout currency (the
recipient's side: rounded down) and the payout's cost into the debit currency (the
merchant's side: rounded up). For random amounts, rates, decimals and fee settings:

* what leaves the balance is at least what the recipient gets plus the fees, valued at
  the same rate, and exceeds it by less than one unit of the debit currency's last
  decimal (equal when the payout currency's own balance pays);
* the payout amount is the request amount converted and rounded down, never more;
* every amount is quantized to its asset's decimals.

The fee arithmetic inside one currency (`fees.price`) has its own properties in
test_rounding_properties.py; this file is about the conversions around it.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Context, Decimal, localcontext
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from payoutd.domain.errors import PayoutdError
from payoutd.domain.fees import FEE_MODES, ServiceFee
from payoutd.domain.quotes import plan

ZERO = Decimal(0)


def exact() -> Any:
    """The test's own arithmetic: 200 digits, so products of the inputs never round."""
    return localcontext(Context(prec=200))


def q(decimals: int) -> Decimal:
    return Decimal(1).scaleb(-decimals)


def has_decimals(value: Decimal, decimals: int) -> bool:
    """At most `decimals` places (call inside exact(): quantize needs the digits)."""
    return value == value.quantize(q(decimals))


def ceil_to(value: Decimal, decimals: int) -> Decimal:
    return value.quantize(q(decimals), rounding=ROUND_CEILING)


def floor_to(value_num: Decimal, value_den: Decimal, decimals: int) -> Decimal:
    """floor(num / den) at `decimals` places, by integer division (exact)."""
    with exact():
        return (value_num.scaleb(decimals) // value_den).scaleb(-decimals)


def scaled(max_int: int, max_places: int) -> st.SearchStrategy[Decimal]:
    return st.tuples(st.integers(1, max_int), st.integers(0, max_places)).map(
        lambda t: Decimal(t[0]).scaleb(-t[1])
    )


def cross_rate() -> st.SearchStrategy[Decimal]:
    """A rate as a cross through USD yields it: a / b in 60 significant digits, often
    with no finite decimal expansion (60000 / 0.998)."""
    return st.tuples(scaled(10**7, 4), scaled(10**7, 4)).map(
        lambda t: Context(prec=60).divide(t[0], t[1])
    )


prices = st.one_of(scaled(10**9, 12), cross_rate())
network_fees = st.one_of(st.just(ZERO), scaled(10**6, 20))
percents = st.one_of(st.just(ZERO), st.integers(1, 10**6).map(lambda n: Decimal(n).scaleb(-4)))
fixed_fees = st.one_of(st.just(ZERO), scaled(10**6, 20))


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    payout_decimals = draw(st.integers(0, 18))
    converted = draw(st.booleans())
    if converted:
        # a fiat or other-currency amount, with its own precision
        amount_decimals = draw(st.integers(0, 18))
        payout_price: Decimal | None = draw(prices)
    else:
        # the request is in the payout currency: quote() refuses finer amounts
        amount_decimals = payout_decimals
        payout_price = None
    amount = Decimal(draw(st.integers(1, 10**12))).scaleb(-draw(st.integers(0, amount_decimals)))
    pays_itself = draw(st.booleans())
    debit_decimals = payout_decimals if pays_itself else draw(st.integers(0, 18))
    return {
        "amount": amount,
        "payout_decimals": payout_decimals,
        "payout_price": payout_price,
        "debit_decimals": debit_decimals,
        "debit_price": None if pays_itself else draw(prices),
        "network_fee": draw(network_fees),
        "service": ServiceFee(draw(percents), draw(fixed_fees)),
        "fee_mode": draw(st.sampled_from(FEE_MODES)),
    }


# 100 USD at 60000/0.998 USD per BTC, paid from USDT at 60000/0.998: both rates repeat.
CROSS = {
    "amount": Decimal("100"),
    "payout_decimals": 8,
    "payout_price": Context(prec=60).divide(Decimal(60000), Decimal("0.998")),
    "debit_decimals": 6,
    "debit_price": Context(prec=60).divide(Decimal(60000), Decimal("0.998")),
    "network_fee": Decimal("0.00002"),
    "service": ServiceFee(Decimal("1.5"), Decimal("0.01")),
    "fee_mode": "on_top",
}
# The hand-priced mode 3 of tests/services/test_funding_modes.py.
MODE_3 = {
    "amount": Decimal("123.45"),
    "payout_decimals": 8,
    "payout_price": Decimal(83),
    "debit_decimals": 6,
    "debit_price": Decimal("83.5"),
    "network_fee": Decimal("0.0001"),
    "service": ServiceFee(Decimal("1.5"), Decimal("0.01")),
    "fee_mode": "on_top",
}
# Rates rounded at their 60th digit, where a 60-digit half-even intermediate result
# lands exactly on a quantum and the final rounding then goes the wrong way:
# 1 / (1/1316 rounded up) = 1315.99...9 (57 nines), which must round down to 1315, not 1316;
ROUNDED_UP_INVERSE = {
    "amount": Decimal(1),
    "payout_decimals": 0,
    "payout_price": Context(prec=60).divide(Decimal(1), Decimal(1316)),
    "debit_decimals": 0,
    "debit_price": None,
    "network_fee": ZERO,
    "service": ServiceFee(),
    "fee_mode": "on_top",
}
# 3 * (1/3 rounded up) = 1.00...002 (60 zeros), which must be charged as 1.000001, not 1.
ROUNDED_UP_THIRD = {
    "amount": Decimal(3),
    "payout_decimals": 0,
    "payout_price": None,
    "debit_decimals": 6,
    "debit_price": Decimal("0." + "3" * 59 + "4"),
    "network_fee": ZERO,
    "service": ServiceFee(),
    "fee_mode": "on_top",
}


@settings(max_examples=1000, deadline=None)
@given(req=requests())
@example(req=CROSS)
@example(req=MODE_3)
@example(req=ROUNDED_UP_INVERSE)
@example(req=ROUNDED_UP_THIRD)
@example(req={**MODE_3, "fee_mode": "from_amount", "debit_price": None, "debit_decimals": 8})
def test_the_balance_pays_at_least_what_leaves_and_amounts_are_quantized(
    req: dict[str, Any],
) -> None:
    amount: Decimal = req["amount"]
    payout_price: Decimal | None = req["payout_price"]
    debit_price: Decimal | None = req["debit_price"]
    pd, dd = req["payout_decimals"], req["debit_decimals"]
    try:
        result = plan(
            amount,
            payout_currency="LTC",
            payout_decimals=pd,
            payout_price=payout_price,
            debit_currency="USDT",
            debit_decimals=dd,
            debit_price=debit_price,
            network_fee=req["network_fee"],
            service=req["service"],
            fee_mode=req["fee_mode"],
        )
    except PayoutdError as err:
        refused: PayoutdError | None = err
    else:
        refused = None

    with exact():
        # What the request is worth in the payout currency, rounded down independently.
        expected_payout = amount if payout_price is None else floor_to(amount, payout_price, pd)
        service: ServiceFee = req["service"]
        fees = ceil_to(req["network_fee"], pd) + ceil_to(
            expected_payout * service.percent / 100 + service.fixed, pd
        )
        # Refused exactly when the recipient would get nothing: the converted amount
        # rounds to zero, or (fees taken from the amount) the fees eat all of it.
        nothing_left = expected_payout <= 0 or (
            req["fee_mode"] == "from_amount" and expected_payout - fees <= 0
        )
        assert (refused is not None) == nothing_left, (refused, req)
        if refused is not None:
            assert refused.code == "withdrawal_too_small", refused
            return
        assert result is not None
        p = result.pricing

        # payout_amount <= amount / payout_price, rounded down by less than one unit
        assert result.payout_amount == p.payout_amount == expected_payout
        if payout_price is not None:
            assert result.payout_amount * payout_price <= amount
            assert (result.payout_amount + q(pd)) * payout_price > amount

        # every amount at most its asset's decimals
        for value in (
            result.payout_amount,
            p.fee_network,
            p.fee_service,
            p.final_amount,
            p.charged,
        ):
            assert has_decimals(value, pd), (value, pd)
            assert value >= 0
        assert has_decimals(result.debit_amount, dd), (result.debit_amount, dd)
        assert p.final_amount > 0

        spent = p.final_amount + p.fee_network + p.fee_service
        assert p.charged == spent
        if req["fee_mode"] == "on_top":
            assert p.final_amount == result.payout_amount
        else:
            assert spent == result.payout_amount

        # What leaves the balance >= what the recipient gets + fees, at the same rate.
        assert result.debit_currency == "USDT"
        if debit_price is None:
            assert result.debit_amount == spent
        else:
            value = spent * debit_price
            assert result.debit_amount >= value
            assert result.debit_amount - value < q(dd)
