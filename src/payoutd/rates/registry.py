"""Which rate source answers a request's `rate_source` (Cryptomus `course_source`).

Names (case-insensitive):

* ``static`` - the rates file (the default);
* ``Binance``, ``Kucoin`` - those exchanges through ccxt;
* any other ccxt exchange id in lower case (``kraken``, ``bybit``, ``okx``, ...);
* ``Exmo`` and ``BinanceP2p`` are Cryptomus names payoutd cannot serve: ccxt has no
  EXMO class any more and Binance P2P has no public API ccxt supports. Asking for them
  raises :class:`RateSourceNotAvailable` saying so.

Only the names in `enabled` answer; exchanges are created on first use (ccxt is not
imported before that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog

from payoutd.domain.rates import Rate, RateSource, RateSourceNotAvailable
from payoutd.rates.exchange import Clock, ExchangeRates, create_ccxt_exchange
from payoutd.rates.static import StaticRates

log = structlog.get_logger("payoutd.rates")

STATIC = "static"
DEFAULT_ENABLED: tuple[str, ...] = (STATIC, "Binance", "Kucoin")

# Cryptomus `course_source` spellings -> ccxt exchange id.
CRYPTOMUS_EXCHANGES: Mapping[str, str] = {"binance": "binance", "kucoin": "kucoin"}
DISPLAY_NAMES: Mapping[str, str] = {
    STATIC: STATIC,
    "binance": "Binance",
    "kucoin": "Kucoin",
    "exmo": "Exmo",
    "binancep2p": "BinanceP2p",
}
# Cryptomus names with no source behind them, and why.
UNSUPPORTED: Mapping[str, str] = {
    "exmo": "ccxt no longer includes an EXMO exchange, so payoutd cannot read its rates",
    "binancep2p": "Binance P2P has no public market-data API that ccxt supports",
}

ExchangeFactory = Callable[..., Any]


def _key(name: str) -> str:
    return name.strip().lower()


def _ccxt_exchange_ids() -> frozenset[str]:
    import ccxt.async_support as ccxt_async  # heavy; only to check configured names

    return frozenset(ccxt_async.exchanges)


class RateSources:
    """The enabled rate sources, by request name. Close with :meth:`aclose`."""

    def __init__(
        self,
        enabled: Iterable[str] = DEFAULT_ENABLED,
        *,
        default: str = STATIC,
        rates_file: str | Path | None = None,
        api_urls: Mapping[str, str] | None = None,
        exchange_config: Mapping[str, Mapping[str, Any]] | None = None,
        cache_ttl: float = 30.0,
        max_age: float = 300.0,
        clock: Clock | None = None,
        exchange_factory: ExchangeFactory = create_ccxt_exchange,
    ) -> None:
        self._enabled: dict[str, str] = {}  # key -> display name, in configured order
        unknown: list[str] = []
        for raw in enabled:
            key = _key(raw)
            if not key:
                continue
            if key in UNSUPPORTED:
                raise ValueError(f"rate source {raw!r} cannot be enabled: {UNSUPPORTED[key]}")
            if key != STATIC and key not in CRYPTOMUS_EXCHANGES:
                unknown.append(key)
            self._enabled[key] = DISPLAY_NAMES.get(key, key)
        if unknown:
            missing = sorted(set(unknown) - _ccxt_exchange_ids())
            if missing:
                raise ValueError(
                    f"unknown rate source(s) {', '.join(missing)}: not a ccxt exchange id"
                )
        self.default = _key(default)
        if self.default not in self._enabled:
            raise ValueError(f"the default rate source {default!r} is not enabled")
        self.rates_file = rates_file
        self.api_urls = {_key(k): v for k, v in (api_urls or {}).items() if v}
        self.exchange_config = {_key(k): v for k, v in (exchange_config or {}).items()}
        self.cache_ttl = cache_ttl
        self.max_age = max_age
        self.clock = clock
        self._factory = exchange_factory
        self._sources: dict[str, RateSource] = {}
        if STATIC in self._enabled:  # read the file now: a bad file should stop startup
            self._sources[STATIC] = StaticRates(rates_file)

    @property
    def static(self) -> StaticRates | None:
        source = self._sources.get(STATIC)
        return source if isinstance(source, StaticRates) else None

    @property
    def available(self) -> tuple[str, ...]:
        """Display names of the enabled sources, e.g. ("static", "Binance", "Kucoin")."""
        return tuple(self._enabled.values())

    def resolve(self, name: str | None) -> str:
        """The canonical display name for a request's `rate_source`, or raise."""
        key = _key(name) if name else self.default
        if key not in self._enabled:
            available = ", ".join(self.available)
            shown = DISPLAY_NAMES.get(key, name)
            if key in UNSUPPORTED:
                message = (
                    f"Rate source {shown} is not available: {UNSUPPORTED[key]}. "
                    f"Available: {available}"
                )
            else:
                message = (
                    f"Rate source {shown} is not available on this server. Available: {available}"
                )
            raise RateSourceNotAvailable(message, name=str(name), available=self.available)
        return self._enabled[key]

    def get(self, name: str | None = None) -> RateSource:
        """The source for `name` (None or "" = the default); created on first use."""
        display = self.resolve(name)
        key = _key(display)
        source = self._sources.get(key)
        if source is None and key == STATIC:
            source = self._sources[key] = StaticRates(self.rates_file)
        if source is None:
            exchange_id = CRYPTOMUS_EXCHANGES.get(key, key)
            exchange = self._factory(
                exchange_id,
                api_base_url=self.api_urls.get(key),
                config=self.exchange_config.get(key),
            )
            source = ExchangeRates(
                exchange,
                name=display,
                cache_ttl=self.cache_ttl,
                max_age=self.max_age,
                clock=self.clock,
            )
            self._sources[key] = source
        return source

    async def rate(self, base: str, quote: str, source: str | None = None) -> Rate:
        """1 `base` in `quote` from the named source (default when None)."""
        return await self.get(source).rate(base, quote)

    async def aclose(self) -> None:
        sources, self._sources = list(self._sources.values()), {}
        for source in sources:
            try:
                await source.aclose()
            except Exception as exc:  # close the others regardless
                log.warning("rates.close_failed", source=source.name, error=str(exc))


__all__ = [
    "CRYPTOMUS_EXCHANGES",
    "DEFAULT_ENABLED",
    "STATIC",
    "UNSUPPORTED",
    "RateSources",
]
