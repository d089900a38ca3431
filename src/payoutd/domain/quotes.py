"""How a payout request becomes exact amounts: the four funding modes of the seeds,
generalised to any balance.

1. crypto from its own balance      (currency=LTC)
2. fiat converted, paid from crypto (currency=USD, payout_currency=LTC)
3. fiat converted, paid from another balance
                                    (currency=USD, payout_currency=LTC, balance_currency=USDT)
4. crypto paid from another balance (currency=LTC, balance_currency=USDT or USD or ETH)

Any balance the merchant holds may pay, crypto or fiat (a Bitclear merchant is charged
in USD): the debit is what the payout costs in the payout currency, converted into the
paying balance's currency at the quoted rate, and the ledger books the conversion
through the exchange account (payoutd.domain.ledger.payout_posting).

Rounding never favours the merchant against the ledger: converted amounts the recipient
gets round down, amounts taken from the balance round up (payoutd.domain.money).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from payoutd.domain.errors import field_error
from payoutd.domain.fees import Pricing, ServiceFee, price
from payoutd.domain.money import ROUND_CREDIT, ROUND_DEBIT, quantize_exact

# Conversions are exact: the prices are exact fractions of the quoted prices
# (domain.rates.Rate.exact) and each converted amount is rounded once, from its true
# value. A 60-digit intermediate could land just past a quantum either way: 100 EUR at
# 1 / (1 / 1.08) paid 107.999999 USDT, and a rounded-up 1/1316 turned 1 into 1316.


@dataclass(frozen=True, slots=True)
class Plan:
    payout_amount: Decimal  # `amount` in the payout currency, before fees
    pricing: Pricing  # fees and final amount, in the payout currency
    debit_amount: Decimal  # what leaves the balance, in the debit currency
    debit_currency: str


def debit_currency(payout_currency: str, balance_currency: str | None) -> str:
    """The balance that pays: the one asked for, whichever currency it is in (crypto or
    fiat), else the payout currency's own. The one statement of the rule: every balance
    can pay for every currency (services.limits counts them all), converted when it is
    another currency; a dialect that allows less (Cryptomus's `from_currency`: USDT
    only) refuses the rest itself."""
    return (balance_currency or payout_currency).upper()


def plan(
    amount: Decimal,
    *,
    payout_currency: str,
    payout_decimals: int,
    payout_price: Decimal | Fraction | None,
    debit_currency: str,
    debit_decimals: int,
    debit_price: Decimal | Fraction | None,
    network_fee: Decimal,
    service: ServiceFee,
    fee_mode: str,
) -> Plan:
    """`payout_price`: what one unit of the payout currency costs in the request currency
    (None when the request is in the payout currency), exactly when it can be (a Decimal
    is taken as exact). `debit_price`: what one unit of the
    payout currency costs in the debit currency (None when the payout currency's own
    balance pays)."""
    if payout_price is None:
        payout_amount = amount
    else:
        payout_amount = quantize_exact(
            Fraction(amount) / Fraction(payout_price), payout_decimals, ROUND_CREDIT
        )
        if payout_amount <= 0:
            raise field_error("withdrawal_too_small", "amount")
    pricing = price(
        payout_amount,
        decimals=payout_decimals,
        network_fee=network_fee,
        service=service,
        fee_mode=fee_mode,
    )
    if debit_price is None:
        debit = pricing.charged
    else:
        debit = quantize_exact(
            Fraction(pricing.charged) * Fraction(debit_price), debit_decimals, ROUND_DEBIT
        )
    return Plan(
        payout_amount=pricing.payout_amount,
        pricing=pricing,
        debit_amount=debit,
        debit_currency=debit_currency,
    )
