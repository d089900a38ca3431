"""Rate sources backed by a ccxt exchange (``ccxt.async_support``): Binance, Kucoin, ...

:class:`ExchangeRates` prices base->quote from spot tickers: the last price (or the
bid/ask mid when there is no last trade). It picks the markets to ask for from the
exchange's own market list (a pair, its inverse, or legs through USDT / USD, see
:func:`payoutd.domain.rates.route`), fetches only those tickers, and caches them:

* younger than ``cache_ttl`` (30 s): served from the cache, no HTTP call;
* older: fetched again; if the exchange cannot be reached, the cached price is still
  served while it is younger than ``max_age`` (300 s);
* older than ``max_age``: refused with :class:`RateTooOld`, never used.

ccxt is imported only when an exchange is created, never at import time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import structlog

from payoutd.domain.rates import Rate, RateTooOld, RateUnavailable, route

log = structlog.get_logger("payoutd.rates")

Clock = Callable[[], datetime]

# Exchange-specific ccxt options that keep market loading to spot markets (we only read
# spot tickers); other exchanges get only the generic defaultType.
_SPOT_ONLY: Mapping[str, Mapping[str, Any]] = {
    "binance": {"fetchMarkets": {"types": ["spot"]}},
    "binanceus": {"fetchMarkets": {"types": ["spot"]}},
    "kucoin": {"fetchMarkets": {"types": ["spot"], "fetchTickersFees": False}},
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _rebase_url(url: str, base_url: str) -> str:
    """Keep `url`'s path and query, take scheme and host (and any path prefix) from base."""
    old = urlsplit(url)
    new = urlsplit(base_url)
    path = new.path.rstrip("/") + old.path
    return urlunsplit((new.scheme, new.netloc, path, old.query, old.fragment))


def rebase_api_urls(api: Any, base_url: str) -> Any:
    """A copy of a ccxt ``urls['api']`` entry with every URL pointed at `base_url`.

    ``https://api.binance.com/api/v3`` becomes ``<base_url>/api/v3``; ccxt's
    ``{hostname}`` placeholders are replaced too, so one proxy or test server can answer
    for every host the exchange uses.
    """
    if isinstance(api, str):
        return _rebase_url(api, base_url)
    if isinstance(api, Mapping):
        return {key: rebase_api_urls(value, base_url) for key, value in api.items()}
    return api


def create_ccxt_exchange(
    exchange_id: str, *, api_base_url: str | None = None, config: Mapping[str, Any] | None = None
) -> Any:
    """A ``ccxt.async_support`` exchange instance, spot-only, rate-limited.

    `api_base_url` (e.g. ``http://127.0.0.1:8081`` or an operator's proxy) replaces the
    scheme and host of every URL in ``exchange.urls['api']``. `config` is passed on to
    ccxt (``timeout``, ``proxies``, ``options``, ...) on top of payoutd's defaults.
    """
    import ccxt.async_support as ccxt_async  # heavy; only when an exchange is wanted

    if exchange_id not in ccxt_async.exchanges:
        raise ValueError(f"ccxt has no exchange {exchange_id!r}")
    options: dict[str, Any] = {"defaultType": "spot"}
    options.update(_SPOT_ONLY.get(exchange_id, {}))
    settings: dict[str, Any] = {"enableRateLimit": True, "timeout": 10_000, "options": options}
    for key, value in (config or {}).items():
        if key == "options" and isinstance(value, Mapping):
            options.update(value)
        else:
            settings[key] = value
    exchange = getattr(ccxt_async, exchange_id)(settings)
    if api_base_url:
        exchange.urls["api"] = rebase_api_urls(exchange.urls["api"], api_base_url)
    return exchange


def ticker_price(ticker: Mapping[str, Any] | None) -> Decimal | None:
    """The last price, else the bid/ask mid, else the close, as an exact Decimal."""
    if not ticker:
        return None

    def dec(key: str) -> Decimal | None:
        raw = ticker.get(key)
        if raw is None or isinstance(raw, bool):
            return None
        try:
            # ccxt hands out floats; str() of a float is the shortest decimal that
            # round-trips, i.e. the exchange's own string for prices like "65000.12".
            value = Decimal(str(raw))
        except InvalidOperation:
            return None
        return value if value.is_finite() and value > 0 else None

    last = dec("last")
    if last is not None:
        return last
    bid, ask = dec("bid"), dec("ask")
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    return dec("close")


@dataclass(frozen=True, slots=True)
class _Cached:
    price: Decimal
    fetched_at: datetime


class ExchangeRates:
    """A :class:`~payoutd.domain.rates.RateSource` over one ccxt async exchange."""

    def __init__(
        self,
        exchange: Any,
        *,
        name: str | None = None,
        cache_ttl: float = 30.0,
        max_age: float = 300.0,
        markets_ttl: float = 3600.0,
        clock: Clock | None = None,
        legs: Sequence[str] = ("USDT", "USD"),
        usd_stand_in: str | None = "USDT",
    ) -> None:
        if cache_ttl < 0 or max_age <= 0 or max_age < cache_ttl:
            raise ValueError("need 0 <= cache_ttl <= max_age and max_age > 0")
        self.exchange = exchange
        self.name = name or str(exchange.id)
        self.cache_ttl = cache_ttl
        self.max_age = max_age
        self.markets_ttl = markets_ttl
        self.clock: Clock = clock or _utcnow
        self.legs = tuple(leg.upper() for leg in legs)
        # An exchange that lists no USD market at all (Binance, Kucoin) prices USD as
        # this stablecoin; only used when it quotes pairs in it.
        self.usd_stand_in = usd_stand_in.upper() if usd_stand_in else None
        self._cache: dict[str, _Cached] = {}
        self._symbols: frozenset[str] | None = None
        self._symbols_at: datetime | None = None
        self._stand_in: str | None = None
        self._lock = asyncio.Lock()
        self._markets_lock = asyncio.Lock()

    # -- markets -------------------------------------------------------------------

    def _age(self, then: datetime, now: datetime) -> float:
        return (now - then).total_seconds()

    async def _spot_symbols(self) -> frozenset[str]:
        now = self.clock()
        if (
            self._symbols is not None
            and self._symbols_at is not None
            and self._age(self._symbols_at, now) < self.markets_ttl
        ):
            return self._symbols
        async with self._markets_lock:
            if (
                self._symbols is not None
                and self._symbols_at is not None
                and self._age(self._symbols_at, now) < self.markets_ttl
            ):
                return self._symbols
            try:
                markets = await self.exchange.load_markets(reload=self._symbols is not None)
            except Exception as exc:
                if self._symbols is not None:
                    log.warning("rates.markets_reload_failed", source=self.name, error=str(exc))
                    self._symbols_at = now  # try again after markets_ttl
                    return self._symbols
                raise RateUnavailable(
                    f"Rate source {self.name} cannot be reached to load its markets "
                    f"({type(exc).__name__})",
                    source=self.name,
                ) from exc
            self._symbols = frozenset(
                symbol
                for symbol, market in (markets or {}).items()
                if market.get("spot")
                and market.get("active") is not False
                and "/" in symbol
                and ":" not in symbol
            )
            self._symbols_at = now
            # the stand-in counts only if the exchange quotes pairs in it
            usdt = self.usd_stand_in
            self._stand_in = (
                usdt
                if usdt and any(usdt in symbol.split("/") for symbol in self._symbols)
                else None
            )
            return self._symbols

    # -- tickers -------------------------------------------------------------------

    async def _fetch(self, symbols: list[str]) -> dict[str, Decimal]:
        has = getattr(self.exchange, "has", {}) or {}
        if len(symbols) > 1 and has.get("fetchTickers") is True:
            tickers = await self.exchange.fetch_tickers(symbols)
        else:
            results = await asyncio.gather(*(self.exchange.fetch_ticker(s) for s in symbols))
            tickers = dict(zip(symbols, results, strict=True))
        prices: dict[str, Decimal] = {}
        for symbol in symbols:
            price = ticker_price((tickers or {}).get(symbol))
            if price is not None:
                prices[symbol] = price
        return prices

    async def _prices(self, symbols: Iterable[str], base: str, quote: str) -> dict[str, _Cached]:
        wanted = sorted(set(symbols))

        def stale(now: datetime) -> list[str]:
            return [
                s
                for s in wanted
                if s not in self._cache
                or self._age(self._cache[s].fetched_at, now) >= self.cache_ttl
            ]

        failure: Exception | None = None
        if stale(self.clock()):
            async with self._lock:  # one fetch at a time; waiters then find it cached
                now = self.clock()
                need = stale(now)
                if need:
                    try:
                        fetched = await self._fetch(need)
                    except Exception as exc:
                        failure = exc
                        log.warning(
                            "rates.fetch_failed",
                            source=self.name,
                            symbols=need,
                            error=f"{type(exc).__name__}: {exc}",
                        )
                    else:
                        for symbol, price in fetched.items():
                            self._cache[symbol] = _Cached(price, now)
        now = self.clock()
        out: dict[str, _Cached] = {}
        for symbol in wanted:
            entry = self._cache.get(symbol)
            if entry is None:
                why = (
                    f"cannot be reached ({type(failure).__name__})"
                    if failure
                    else f"returned no price for {symbol}"
                )
                raise RateUnavailable(
                    f"Rate source {self.name} {why}", base=base, quote=quote, source=self.name
                )
            age = self._age(entry.fetched_at, now)
            if age > self.max_age:
                raise RateTooOld(
                    f"The {self.name} rate for {symbol} is {int(age)} s old, older than the "
                    f"{int(self.max_age)} s allowed, and no fresh rate could be fetched",
                    base=base,
                    quote=quote,
                    source=self.name,
                    age_seconds=age,
                    max_age_seconds=self.max_age,
                )
            out[symbol] = entry
        return out

    # -- RateSource ----------------------------------------------------------------

    async def rate(self, base: str, quote: str) -> Rate:
        base, quote = base.upper(), quote.upper()
        if base == quote:
            return Rate(base, quote, Decimal(1), self.name, self.clock(), (base,))
        symbols = await self._spot_symbols()
        stand_in = self._stand_in

        def listed(a: str, b: str) -> Decimal | None:
            return Decimal(1) if f"{a}/{b}" in symbols else None

        plan = route(listed, base, quote, legs=self.legs, usd_stand_in=stand_in)
        if plan is None:
            raise RateUnavailable(
                f"Rate source {self.name} has no market to price {base} in {quote}",
                base=base,
                quote=quote,
                source=self.name,
            )
        needed = [
            f"{a}/{b}" if f"{a}/{b}" in symbols else f"{b}/{a}" for a, b in pairwise(plan.path)
        ]
        cached = await self._prices(needed, base, quote)

        def priced(a: str, b: str) -> Decimal | None:
            entry = cached.get(f"{a}/{b}")
            return entry.price if entry else None

        found = route(priced, base, quote, legs=self.legs, usd_stand_in=stand_in)
        if found is None:  # pragma: no cover - every leg of the plan was priced above
            raise RateUnavailable(
                f"Rate source {self.name} has no price for {base} in {quote}",
                base=base,
                quote=quote,
                source=self.name,
            )
        as_of = min((entry.fetched_at for entry in cached.values()), default=self.clock())
        return Rate(base, quote, found.value, self.name, as_of, found.path, found.exact)

    async def aclose(self) -> None:
        await self.exchange.close()


__all__ = ["ExchangeRates", "create_ccxt_exchange", "rebase_api_urls", "ticker_price"]
