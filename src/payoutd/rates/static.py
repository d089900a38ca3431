"""The `static` rate source: fixed rates from a TOML file (the default source).

File format (see ``sample_rates.toml``, shipped with payoutd)::

    [rates]
    "BTC/USD" = "65000.00"   # 1 BTC = 65000.00 USD
    "EUR/USD" = "1.08"

Values are decimal strings (integers are accepted; floats are refused so nothing is
rounded behind the operator's back). Inverses and cross rates through USD / USDT come
from :func:`payoutd.domain.rates.route`; USDT counts as USD only if the file says so
(``"USDT/USD" = "1.00"``). A static rate never gets too old: `as_of` is the file's
modification time.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from payoutd.domain.rates import DEFAULT_LEGS, Rate, RateUnavailable, route

SAMPLE_RATES_FILE = Path(__file__).with_name("sample_rates.toml")


def parse_rates(
    data: Mapping[str, object], *, origin: str = "rates file"
) -> dict[tuple[str, str], Decimal]:
    """The [rates] table of a parsed TOML document as {(BASE, QUOTE): value}."""
    table = data.get("rates")
    if not isinstance(table, Mapping):
        raise ValueError(f"{origin}: no [rates] table")
    rates: dict[tuple[str, str], Decimal] = {}
    for key, raw in table.items():
        parts = str(key).split("/")
        if len(parts) != 2 or not all(p.strip() for p in parts):
            raise ValueError(f'{origin}: {key!r} is not a pair like "BTC/USD"')
        base, quote = (p.strip().upper() for p in parts)
        if base == quote:
            raise ValueError(f"{origin}: {key!r} prices a currency in itself")
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            raise ValueError(f'{origin}: {key!r} must be a decimal string, e.g. "65000.00"')
        try:
            value = Decimal(raw.strip() if isinstance(raw, str) else raw)
        except InvalidOperation as exc:
            raise ValueError(f"{origin}: {key!r} = {raw!r} is not a decimal") from exc
        if not value.is_finite() or value <= 0:
            raise ValueError(f"{origin}: {key!r} must be greater than zero")
        if (base, quote) in rates:
            raise ValueError(f"{origin}: {key!r} is given twice")
        rates[(base, quote)] = value
    return rates


class StaticRates:
    """Rates from a TOML file, loaded once at construction (``reload()`` re-reads it)."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        name: str = "static",
        legs: Sequence[str] = DEFAULT_LEGS,
    ) -> None:
        self.name = name
        self.path = Path(path) if path is not None else SAMPLE_RATES_FILE
        self.legs = tuple(leg.upper() for leg in legs)
        self._rates: dict[tuple[str, str], Decimal] = {}
        # every rate asked for, by pair: the file's rates only change on reload, and
        # each payout asks for the same few pairs (the route is a search over them)
        self._answers: dict[tuple[str, str], Rate | None] = {}
        self.as_of = datetime.now(UTC)
        self.reload()

    def reload(self) -> None:
        try:
            raw = self.path.read_bytes()
            mtime = self.path.stat().st_mtime
        except OSError as exc:
            raise ValueError(f"cannot read the rates file {self.path}: {exc}") from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{self.path}: not valid TOML: {exc}") from exc
        self._rates = parse_rates(data, origin=str(self.path))
        self._answers = {}
        self.as_of = datetime.fromtimestamp(mtime, UTC)

    @property
    def pairs(self) -> Mapping[tuple[str, str], Decimal]:
        return dict(self._rates)

    def _direct(self, base: str, quote: str) -> Decimal | None:
        return self._rates.get((base, quote))

    async def rate(self, base: str, quote: str) -> Rate:
        base, quote = base.upper(), quote.upper()
        try:
            answer = self._answers[(base, quote)]
        except KeyError:
            found = route(self._direct, base, quote, legs=self.legs)
            answer = self._answers[(base, quote)] = (
                None
                if found is None
                else Rate(base, quote, found.value, self.name, self.as_of, found.path, found.exact)
            )
        if answer is None:
            raise RateUnavailable(
                f"No {base}/{quote} rate in the static rates file",
                base=base,
                quote=quote,
                source=self.name,
            )
        return answer

    async def aclose(self) -> None:
        return None


__all__ = ["SAMPLE_RATES_FILE", "StaticRates", "parse_rates"]
