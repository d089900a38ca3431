"""Exact amounts: Decimal everywhere, quantized with a rounding mode said here."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, InvalidOperation

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


def parse_amount(raw: object) -> Decimal:
    """A positive, finite decimal from a JSON string or integer; floats are refused.

    Raises ValueError with a message meant for the client.
    """
    if isinstance(raw, bool | float):
        raise ValueError("must be a decimal string, e.g. \"0.5\"")
    if isinstance(raw, int):
        value = Decimal(raw)
    elif isinstance(raw, str):
        text = raw.strip()
        if not text or any(c not in "0123456789." for c in text) or text.count(".") > 1:
            raise ValueError("must be a decimal string, e.g. \"0.5\"")
        try:
            value = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - filtered above
            raise ValueError("must be a decimal string") from exc
    elif isinstance(raw, Decimal):
        value = raw
    else:
        raise ValueError("must be a decimal string, e.g. \"0.5\"")
    if not value.is_finite() or value <= 0:
        raise ValueError("must be greater than zero")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > MAX_DECIMALS or value.adjusted() >= MAX_DIGITS - MAX_DECIMALS:
        raise ValueError("is out of range")
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
    "MAX_DECIMALS",
    "ROUND_CREDIT",
    "ROUND_DEBIT",
    "decimals_of",
    "fmt",
    "parse_amount",
    "quantize",
    "quantum",
]
