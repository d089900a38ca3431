"""Exact amounts: Decimal everywhere, quantized with a rounding mode said here."""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal
from fractions import Fraction

# 38 significant digits fits NUMERIC(38, 18) and anything a chain can express.
CONTEXT = Context(prec=60)

# What the merchant pays (debits, fees) rounds up; what the recipient gets rounds
# down. Either way the rounding never favours the merchant against the ledger.
ROUND_DEBIT = ROUND_CEILING
ROUND_CREDIT = ROUND_FLOOR

MAX_DIGITS = 38
MAX_DECIMALS = 18


def quantum(decimals: int) -> Decimal:
    return _QUANTA[decimals] if 0 <= decimals < len(_QUANTA) else Decimal(1).scaleb(-decimals)


_QUANTA = tuple(Decimal(1).scaleb(-d) for d in range(MAX_DECIMALS + 1))


def quantize(value: Decimal, decimals: int, rounding: str) -> Decimal:
    return value.quantize(quantum(decimals), rounding=rounding, context=CONTEXT)


def quantize_exact(value: Fraction, decimals: int, rounding: str) -> Decimal:
    """An exact amount (a conversion at an exact rate) to `decimals` places, rounded
    down (ROUND_CREDIT) or up (ROUND_DEBIT) from its true value: no intermediate
    rounding can carry it across a quantum."""
    if rounding not in (ROUND_CREDIT, ROUND_DEBIT):
        raise ValueError(f"an exact amount rounds down or up, not {rounding}")
    scaled = value * 10**decimals
    whole = math.floor(scaled) if rounding == ROUND_CREDIT else math.ceil(scaled)
    return Decimal(whole).scaleb(-decimals, CONTEXT)


def to_decimal(value: Fraction) -> Decimal:
    """An exact fraction at payoutd's 60 digits (a rate to show or store)."""
    return CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


# The one spelling of an amount payoutd reads: digits, then an optional fraction. No sign,
# exponent, spaces, leading zeros (but a lone 0) or bare point; at most 20 digits before
# the point and 18 after it (what NUMERIC(38, 18) holds). The OpenAPI document publishes
# this pattern; `parse_decimal` enforces exactly it.
INTEGER_DIGITS = MAX_DIGITS - MAX_DECIMALS
DECIMAL_PATTERN = rf"^(0|[1-9][0-9]{{0,{INTEGER_DIGITS - 1}}})(\.[0-9]{{1,{MAX_DECIMALS}}})?$"
_SHAPE = re.compile(r"(0|[1-9][0-9]*)(?:\.([0-9]+))?")  # the same, of any length
NOT_A_DECIMAL = 'must be a decimal string such as "0.5" (digits, an optional fraction)'


def parse_decimal(raw: object) -> Decimal:
    """A non-negative decimal from its canonical string (`DECIMAL_PATTERN`); a JSON
    number, a bool or any other spelling is refused.

    Raises ValueError with a message meant for the client.
    """
    shape = _SHAPE.fullmatch(raw) if isinstance(raw, str) else None
    if shape is None:
        raise ValueError(NOT_A_DECIMAL)
    integer, fraction = shape.group(1), shape.group(2) or ""
    if len(integer) > INTEGER_DIGITS or len(fraction) > MAX_DECIMALS:
        raise ValueError("is out of range")
    return Decimal(shape.group(0))


def parse_amount(raw: object) -> Decimal:
    """A positive amount from its canonical decimal string (`parse_decimal`)."""
    value = parse_decimal(raw)
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def decimals_of(value: Decimal) -> int:
    """How many decimal places the value needs (trailing zeros don't count)."""
    exponent = value.normalize(CONTEXT).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def fmt(value: Decimal) -> str:
    """Plain notation for JSON (never 1E+2 or 1E-7), trailing zeros kept as quantized."""
    return format(value, "f")


__all__ = [
    "CONTEXT",
    "DECIMAL_PATTERN",
    "MAX_DECIMALS",
    "ROUND_CREDIT",
    "ROUND_DEBIT",
    "decimals_of",
    "fmt",
    "parse_amount",
    "parse_decimal",
    "quantize",
    "quantize_exact",
    "quantum",
    "to_decimal",
]
