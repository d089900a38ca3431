"""Exchange rates: the value type, the errors, and the one place cross rates are computed.

Pure: no I/O. The adapters in :mod:`payoutd.rates` fetch prices (a static file, an
exchange through ccxt) and hand a lookup of *quoted* pairs to :func:`route` /
:func:`cross`; services only see :class:`Rate` and the exceptions below.

A rate ``Rate(base="BTC", quote="EUR", value=v)`` means 1 BTC = v EUR.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from fractions import Fraction
from itertools import pairwise
from typing import Protocol, runtime_checkable

from payoutd.domain.money import CONTEXT

ONE = Decimal(1)

# The currencies a cross rate may go through, in order of preference.
DEFAULT_LEGS: tuple[str, ...] = ("USD", "USDT")

# A lookup of a quoted pair: the price of 1 `base` in `quote`, or None when the source
# does not quote exactly that pair (the inverse is tried by the caller, not the lookup).
Direct = Callable[[str, str], Decimal | None]


@dataclass(frozen=True, slots=True)
class Rate:
    """1 `base` = `value` `quote`, as known by `source` at `as_of` (timezone-aware)."""

    base: str
    quote: str
    value: Decimal
    source: str
    as_of: datetime
    # The currencies actually walked, e.g. ("BTC", "USDT", "EUR") for a cross through
    # USDT, or ("BTC", "USDT") for a BTC->USD request an exchange prices in USDT.
    route: tuple[str, ...] = ()
    # The value as an exact fraction of the quoted prices it was walked from (a cross
    # through an inverse, 1 / 1.08, has no exact decimal): conversions use it, so 100 EUR
    # at EUR/USD 1.08 is 108 USDT, not 107.999999 (None: `value` is the whole truth).
    exact: Fraction | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if not self.value.is_finite() or self.value <= 0:
            raise ValueError(f"a rate must be a positive finite decimal, got {self.value}")

    def convert(self, amount: Decimal) -> Decimal:
        """`amount` of `base` expressed in `quote`, unrounded (the caller quantizes)."""
        return CONTEXT.multiply(amount, self.value)


class RateError(Exception):
    """Base of the rate errors; `str(exc)` is a message fit for a client or an operator."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RateUnavailable(RateError):
    """The source has no rate for the pair (no market, no leg, or it cannot be reached)."""

    def __init__(self, message: str, *, base: str = "", quote: str = "", source: str = "") -> None:
        super().__init__(message)
        self.base = base
        self.quote = quote
        self.source = source


class RateTooOld(RateUnavailable):
    """The only rate at hand is older than the source's maximum age; it is not used."""

    def __init__(
        self,
        message: str,
        *,
        base: str = "",
        quote: str = "",
        source: str = "",
        age_seconds: float = 0.0,
        max_age_seconds: float = 0.0,
    ) -> None:
        super().__init__(message, base=base, quote=quote, source=source)
        self.age_seconds = age_seconds
        self.max_age_seconds = max_age_seconds


class RateSourceNotAvailable(RateError):
    """The requested `rate_source` is unknown, unsupported, or not enabled here."""

    def __init__(self, message: str, *, name: str = "", available: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.available = tuple(available)


@runtime_checkable
class RateSource(Protocol):
    """What services use: a named source answering base->quote with a :class:`Rate`."""

    name: str

    async def rate(self, base: str, quote: str) -> Rate:
        """Raises RateUnavailable (or its subclass RateTooOld)."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class CrossRoute:
    """The result of :func:`route`: the value and the currencies walked."""

    value: Decimal
    path: tuple[str, ...]
    # Set when USD was not quoted and this currency (e.g. USDT) stood in for it.
    stand_in: str | None = None
    # the value exactly: products and inverses of the quoted prices (Rate.exact)
    exact: Fraction = field(default=Fraction(1), compare=False)


def _usable(value: Decimal | None) -> Decimal | None:
    if value is None or not value.is_finite() or value <= 0:
        return None
    return value


def pair_rate(direct: Direct, base: str, quote: str) -> Decimal | None:
    """base->quote from the quoted pair or the inverse of quote->base; None if neither."""
    if base == quote:
        return ONE
    value = _usable(direct(base, quote))
    if value is not None:
        return value
    inverse = _usable(direct(quote, base))
    if inverse is not None:
        return CONTEXT.divide(ONE, inverse)
    return None


def _paths(base: str, quote: str, legs: Sequence[str]) -> list[tuple[str, ...]]:
    """Candidate paths, shortest first, each currency at most once."""
    inner = [leg for leg in dict.fromkeys(legs) if leg not in (base, quote)]
    paths: list[tuple[str, ...]] = [(base, quote)]
    paths += [(base, leg, quote) for leg in inner]
    paths += [(base, a, b, quote) for a in inner for b in inner if a != b]
    return paths


def _pair_exact(direct: Direct, base: str, quote: str) -> Fraction | None:
    """`pair_rate` as an exact fraction of the quoted price."""
    if base == quote:
        return Fraction(1)
    value = _usable(direct(base, quote))
    if value is not None:
        return Fraction(value)
    inverse = _usable(direct(quote, base))
    if inverse is not None:
        return 1 / Fraction(inverse)
    return None


def _walk(direct: Direct, path: tuple[str, ...]) -> tuple[Decimal, Fraction] | None:
    """The path's rate, and exactly. The decimal is computed step by step as it always
    was (60 digits), so rates shown and stored do not move."""
    value, exact = ONE, Fraction(1)
    for a, b in pairwise(path):
        step = pair_rate(direct, a, b)
        step_exact = _pair_exact(direct, a, b)
        if step is None or step_exact is None:
            return None
        value = CONTEXT.multiply(value, step)
        exact *= step_exact
    return value, exact


def route(
    direct: Direct,
    base: str,
    quote: str,
    *,
    legs: Sequence[str] = DEFAULT_LEGS,
    usd_stand_in: str | None = None,
) -> CrossRoute | None:
    """base->quote through the quoted pairs `direct` knows; None when no route exists.

    Tried in order: identity (1); the pair or its inverse; one leg through each of
    `legs` (USD, then USDT); two legs (e.g. base->USDT->USD->quote, which needs the
    source to quote USDT/USD itself). Only when all of that fails and the request
    involves USD, `usd_stand_in` (e.g. "USDT" for an exchange that quotes no USD at all)
    is used in place of USD; no 1:1 peg is ever assumed otherwise.
    All arithmetic uses :data:`payoutd.domain.money.CONTEXT` (60 significant digits).
    """
    base, quote = base.upper(), quote.upper()
    if base == quote:
        return CrossRoute(ONE, (base,))
    for path in _paths(base, quote, legs):
        walked = _walk(direct, path)
        if walked is not None:
            return CrossRoute(walked[0], path, exact=walked[1])
    if usd_stand_in is not None and "USD" in (base, quote):
        stand_in = usd_stand_in.upper()
        sub_base = stand_in if base == "USD" else base
        sub_quote = stand_in if quote == "USD" else quote
        if sub_base == sub_quote:
            return CrossRoute(ONE, (sub_base,), stand_in)
        sub_legs = [leg for leg in legs if leg != "USD"]
        for path in _paths(sub_base, sub_quote, sub_legs):
            walked = _walk(direct, path)
            if walked is not None:
                return CrossRoute(walked[0], path, stand_in, exact=walked[1])
    return None


def cross(
    direct: Direct,
    base: str,
    quote: str,
    *,
    legs: Sequence[str] = DEFAULT_LEGS,
    usd_stand_in: str | None = None,
) -> Decimal | None:
    """The value of :func:`route` alone: 1 `base` in `quote`, or None."""
    found = route(direct, base, quote, legs=legs, usd_stand_in=usd_stand_in)
    return None if found is None else found.value


__all__ = [
    "DEFAULT_LEGS",
    "CrossRoute",
    "Direct",
    "Rate",
    "RateError",
    "RateSource",
    "RateSourceNotAvailable",
    "RateTooOld",
    "RateUnavailable",
    "cross",
    "pair_rate",
    "route",
]
