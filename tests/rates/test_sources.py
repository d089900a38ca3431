"""Rate sources: the static file, and Binance / Kucoin through ccxt's own exchange classes.

The exchanges are real ``ccxt.async_support`` instances; only their HTTP calls are
answered, by an aiohttp server on 127.0.0.1 serving payloads in each exchange's own
format (Binance ``/api/v3/exchangeInfo`` + ``/api/v3/ticker/24hr``; Kucoin
``/api/v3/currencies`` + ``/api/v2/symbols`` + ``/api/v1/market/allTickers`` in the
``{"code": "200000", "data": ...}`` envelope).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from payoutd.domain.assets import CURRENCIES
from payoutd.domain.money import CONTEXT
from payoutd.rates import (
    SAMPLE_RATES_FILE,
    ExchangeRates,
    RateSourceNotAvailable,
    RateSources,
    RateTooOld,
    RateUnavailable,
    StaticRates,
    create_ccxt_exchange,
)
from payoutd.rates.exchange import rebase_api_urls

D = Decimal
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
NOW_MS = 1748779200000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ExchangeServer:
    """A local HTTP server answering an exchange's REST paths; counts hits per path."""

    def __init__(self, routes: dict[str, Handler]) -> None:
        self.routes = routes
        self.hits: Counter[str] = Counter()
        self.queries: list[tuple[str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        @web.middleware
        async def count(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.hits[request.path] += 1
            self.queries.append((request.path, dict(request.query)))
            return await handler(request)

        app = web.Application(middlewares=[count])
        for path, handler in self.routes.items():
            app.router.add_get(path, handler)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


# --------------------------------------------------------------------------- Binance

BINANCE_MARKETS = {  # symbol: (base, quote, last, bid, ask)
    "BTCUSDT": ("BTC", "USDT", "65012.34000000", "65012.33000000", "65012.34000000"),
    "ETHUSDT": ("ETH", "USDT", "3201.50000000", "3201.49000000", "3201.50000000"),
    "LTCUSDT": ("LTC", "USDT", "85.12000000", "85.11000000", "85.12000000"),
    "EURUSDT": ("EUR", "USDT", "1.08120000", "1.08110000", "1.08120000"),
    "ETHBTC": ("ETH", "BTC", "0.04925000", "0.04924000", "0.04925000"),
}


def binance_symbol(symbol: str, base: str, quote: str) -> dict[str, Any]:
    # One entry of GET /api/v3/exchangeInfo, as Binance sends it.
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base,
        "baseAssetPrecision": 8,
        "quoteAsset": quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
        "icebergAllowed": True,
        "ocoAllowed": True,
        "otoAllowed": True,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": True,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": True,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": "0.01000000",
                "maxPrice": "1000000.00000000",
                "tickSize": "0.01000000",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": "0.00001000",
                "maxQty": "9000.00000000",
                "stepSize": "0.00001000",
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": "5.00000000",
                "applyMinToMarket": True,
                "maxNotional": "9000000.00000000",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT", "MARGIN"]],
        "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
        "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def binance_ticker(symbol: str) -> dict[str, Any]:
    # One entry of GET /api/v3/ticker/24hr, as Binance sends it.
    _, _, last, bid, ask = BINANCE_MARKETS[symbol]
    return {
        "symbol": symbol,
        "priceChange": "-12.50000000",
        "priceChangePercent": "-0.019",
        "weightedAvgPrice": last,
        "prevClosePrice": last,
        "lastPrice": last,
        "lastQty": "0.00150000",
        "bidPrice": bid,
        "bidQty": "1.20000000",
        "askPrice": ask,
        "askQty": "0.80000000",
        "openPrice": last,
        "highPrice": last,
        "lowPrice": last,
        "volume": "12345.67800000",
        "quoteVolume": "802611223.12345678",
        "openTime": NOW_MS - 86_400_000,
        "closeTime": NOW_MS,
        "firstId": 4950000000,
        "lastId": 4951000000,
        "count": 1000001,
    }


async def binance_exchange_info(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "timezone": "UTC",
            "serverTime": NOW_MS,
            "rateLimits": [
                {
                    "rateLimitType": "REQUEST_WEIGHT",
                    "interval": "MINUTE",
                    "intervalNum": 1,
                    "limit": 6000,
                },
                {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            ],
            "exchangeFilters": [],
            "symbols": [binance_symbol(s, b, q) for s, (b, q, *_) in BINANCE_MARKETS.items()],
        }
    )


async def binance_ticker_24hr(request: web.Request) -> web.Response:
    invalid = web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
    if "symbol" in request.query:
        symbol = request.query["symbol"]
        if symbol not in BINANCE_MARKETS:
            return invalid
        return web.json_response(binance_ticker(symbol))
    symbols = (
        json.loads(request.query["symbols"])
        if "symbols" in request.query
        else list(BINANCE_MARKETS)
    )
    if any(s not in BINANCE_MARKETS for s in symbols):
        return invalid
    return web.json_response([binance_ticker(s) for s in symbols])


BINANCE_ROUTES: dict[str, Handler] = {
    "/api/v3/exchangeInfo": binance_exchange_info,
    "/api/v3/ticker/24hr": binance_ticker_24hr,
}

# --------------------------------------------------------------------------- Kucoin

KUCOIN_MARKETS = {  # symbol: (last, best bid, best ask)
    "BTC-USDT": ("65020.1", "65020.0", "65020.1"),
    "ETH-USDT": ("3202.11", "3202.1", "3202.11"),
    "USDT-EUR": ("0.9245", "0.9244", "0.9246"),
    "TRX-USDT": (None, "0.12001", "0.12003"),  # no trade yet today: the mid is used
}


def kucoin_currency(code: str, name: str, chain: str | None) -> dict[str, Any]:
    # One entry of GET /api/v3/currencies (fiat currencies come without chains).
    chains = (
        []
        if chain is None
        else [
            {
                "chainName": chain,
                "chainId": chain.lower(),
                "withdrawalMinSize": "0.001",
                "depositMinSize": "0.00002",
                "withdrawFeeRate": "0",
                "withdrawalMinFee": "0.0005",
                "isWithdrawEnabled": True,
                "isDepositEnabled": True,
                "confirms": 3,
                "preConfirms": 1,
                "withdrawPrecision": 8,
                "maxWithdraw": None,
                "maxDeposit": None,
                "needTag": False,
                "contractAddress": "",
            }
        ]
    )
    return {
        "currency": code,
        "name": code,
        "fullName": name,
        "precision": 8,
        "confirms": None,
        "contractAddress": None,
        "isMarginEnabled": True,
        "isDebitEnabled": True,
        "chains": chains,
    }


def kucoin_symbol(symbol: str) -> dict[str, Any]:
    # One entry of GET /api/v2/symbols.
    base, quote = symbol.split("-")
    return {
        "symbol": symbol,
        "name": symbol,
        "baseCurrency": base,
        "quoteCurrency": quote,
        "feeCurrency": quote,
        "market": "USDS" if quote == "USDT" else "FIAT",
        "baseMinSize": "0.00001",
        "quoteMinSize": "0.1",
        "baseMaxSize": "10000000000",
        "quoteMaxSize": "99999999",
        "baseIncrement": "0.00000001",
        "quoteIncrement": "0.000001",
        "priceIncrement": "0.1",
        "priceLimitRate": "0.1",
        "minFunds": "0.1",
        "isMarginEnabled": True,
        "enableTrading": True,
        "feeCategory": 1,
        "makerFeeCoefficient": "1.00",
        "takerFeeCoefficient": "1.00",
        "st": False,
        "callauctionIsEnabled": False,
        "callauctionPriceFloor": None,
        "callauctionPriceCeiling": None,
        "callauctionFirstStageStartTime": None,
        "callauctionSecondStageStartTime": None,
        "callauctionThirdStageStartTime": None,
        "tradingStartTime": None,
    }


def kucoin_ticker(symbol: str) -> dict[str, Any]:
    # One entry of data.ticker in GET /api/v1/market/allTickers.
    last, bid, ask = KUCOIN_MARKETS[symbol]
    return {
        "symbol": symbol,
        "symbolName": symbol,
        "buy": bid,
        "bestBidSize": "0.5",
        "sell": ask,
        "bestAskSize": "0.4",
        "changeRate": "-0.0012",
        "changePrice": "-7.8",
        "high": last or ask,
        "low": last or bid,
        "vol": "2282.70993217",
        "volValue": "25984946.157790431",
        "last": last,
        "averagePrice": last or bid,
        "takerFeeRate": "0.001",
        "makerFeeRate": "0.001",
        "takerCoefficient": "1",
        "makerCoefficient": "1",
    }


async def kucoin_currencies(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "code": "200000",
            "data": [
                kucoin_currency("BTC", "Bitcoin", "BTC"),
                kucoin_currency("ETH", "Ethereum", "ERC20"),
                kucoin_currency("USDT", "Tether", "TRC20"),
                kucoin_currency("TRX", "TRON", "TRX"),
                kucoin_currency("EUR", "Euro", None),
            ],
        }
    )


async def kucoin_symbols(request: web.Request) -> web.Response:
    return web.json_response({"code": "200000", "data": [kucoin_symbol(s) for s in KUCOIN_MARKETS]})


async def kucoin_all_tickers(request: web.Request) -> web.Response:
    return web.json_response(
        {
            "code": "200000",
            "data": {"time": NOW_MS, "ticker": [kucoin_ticker(s) for s in KUCOIN_MARKETS]},
        }
    )


async def kucoin_stats(request: web.Request) -> web.Response:
    # GET /api/v1/market/stats?symbol=BTC-USDT (ccxt's fetch_ticker for one symbol)
    symbol = request.query.get("symbol", "")
    if symbol not in KUCOIN_MARKETS:
        return web.json_response({"code": "900001", "msg": f"Symbol [{symbol}] not exists"})
    data = {
        k: v
        for k, v in kucoin_ticker(symbol).items()
        if k not in ("symbolName", "bestBidSize", "bestAskSize")
    }
    return web.json_response({"code": "200000", "data": {"time": NOW_MS, **data}})


KUCOIN_ROUTES: dict[str, Handler] = {
    "/api/v1/market/stats": kucoin_stats,
    "/api/v3/currencies": kucoin_currencies,
    "/api/v2/symbols": kucoin_symbols,
    "/api/v1/market/allTickers": kucoin_all_tickers,
}

# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def binance_server() -> AsyncIterator[ExchangeServer]:
    server = ExchangeServer(BINANCE_ROUTES)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def kucoin_server() -> AsyncIterator[ExchangeServer]:
    server = ExchangeServer(KUCOIN_ROUTES)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def sources(
    binance_server: ExchangeServer, kucoin_server: ExchangeServer, clock: Clock
) -> AsyncIterator[RateSources]:
    registry = RateSources(
        ["static", "Binance", "Kucoin"],
        api_urls={"Binance": binance_server.url, "Kucoin": kucoin_server.url},
        exchange_config={"binance": {"timeout": 3000}, "kucoin": {"timeout": 3000}},
        clock=clock,
    )
    yield registry
    await registry.aclose()


def inv(value: str) -> Decimal:
    return CONTEXT.divide(Decimal(1), Decimal(value))


# --------------------------------------------------------------------------- static


async def test_static_sample_prices_every_currency_in_usd() -> None:
    static = StaticRates()
    assert static.path == SAMPLE_RATES_FILE
    for code in CURRENCIES:
        rate = await static.rate(code, "USD")
        assert rate.value > 0, code
        assert rate.source == "static"
    assert (await static.rate("BTC", "USD")).value == D("65000.00")
    assert (await static.rate("EUR", "USD")).value == D("1.08")


async def test_static_inverse_and_cross_through_usd() -> None:
    static = StaticRates()
    btc_eur = await static.rate("BTC", "EUR")
    assert btc_eur.value == CONTEXT.multiply(D("65000.00"), inv("1.08"))
    assert btc_eur.route == ("BTC", "USD", "EUR")
    # USDT counts as USD only because the file says USDT/USD = 1.00
    assert (await static.rate("LTC", "USDT")).value == D("85.00")
    assert (await static.rate("usd", "btc")).value == inv("65000.00")
    as_of = (await static.rate("BTC", "USD")).as_of
    assert as_of == datetime.fromtimestamp(SAMPLE_RATES_FILE.stat().st_mtime, UTC)


async def test_static_unknown_pair_and_no_invented_peg(tmp_path: Path) -> None:
    path = tmp_path / "rates.toml"
    path.write_text('[rates]\n"BTC/USD" = "60000"\n"ETH/USDT" = "3000"\n')
    static = StaticRates(path)
    with pytest.raises(RateUnavailable, match="No XYZ/USD rate"):
        await static.rate("XYZ", "USD")
    with pytest.raises(RateUnavailable):  # no USDT/USD in this file: no 1:1 assumed
        await static.rate("ETH", "USD")


@pytest.mark.parametrize(
    "body, message",
    [
        ('"BTC/USD" = "1"', "no \\[rates\\] table"),
        ('[rates]\n"BTC/USD" = 65000.5', "must be a decimal string"),
        ('[rates]\n"BTCUSD" = "1"', "not a pair"),
        ('[rates]\n"BTC/USD" = "-1"', "greater than zero"),
        ('[rates]\n"BTC/USD" = "abc"', "not a decimal"),
        ("[rates", "not valid TOML"),
    ],
)
def test_static_bad_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "rates.toml"
    path.write_text(body)
    with pytest.raises(ValueError, match=message):
        StaticRates(path)


def test_static_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the rates file"):
        StaticRates(tmp_path / "nope.toml")


# --------------------------------------------------------------------------- Binance


async def test_binance_direct_inverse_and_cross(
    sources: RateSources, binance_server: ExchangeServer
) -> None:
    binance = sources.get("Binance")
    assert isinstance(binance, ExchangeRates)
    assert type(binance.exchange).__module__ == "ccxt.async_support.binance"

    rate = await binance.rate("BTC", "USDT")
    assert (rate.base, rate.quote, rate.value, rate.source) == (
        "BTC",
        "USDT",
        D("65012.34"),
        "Binance",
    )
    assert rate.as_of == T0

    btc_eur = await binance.rate("BTC", "EUR")
    assert btc_eur.value == CONTEXT.multiply(D("65012.34"), inv("1.0812"))
    assert btc_eur.route == ("BTC", "USDT", "EUR")

    eur_ltc = await binance.rate("EUR", "LTC")
    assert eur_ltc.value == CONTEXT.multiply(D("1.0812"), inv("85.12"))

    # a listed pair is used as is, not crossed
    assert (await binance.rate("ETH", "BTC")).value == D("0.04925")
    assert (await binance.rate("BTC", "ETH")).value == inv("0.04925")

    # Binance lists no USD market: USD is priced as USDT, and the route says so
    btc_usd = await binance.rate("BTC", "USD")
    assert btc_usd.value == D("65012.34") and btc_usd.route == ("BTC", "USDT")
    assert (await binance.rate("USD", "EUR")).value == inv("1.0812")

    assert set(binance_server.hits) == {"/api/v3/exchangeInfo", "/api/v3/ticker/24hr"}
    assert binance_server.hits["/api/v3/exchangeInfo"] == 1


async def test_binance_cache_serves_without_http_then_refetches_after_ttl(
    sources: RateSources, binance_server: ExchangeServer, clock: Clock
) -> None:
    binance = sources.get("binance")  # Cryptomus names are case-insensitive
    await binance.rate("BTC", "EUR")
    tickers = binance_server.hits["/api/v3/ticker/24hr"]
    assert tickers == 1  # both legs in one request
    asked = [q for p, q in binance_server.queries if p == "/api/v3/ticker/24hr"]
    assert sorted(json.loads(asked[0]["symbols"])) == ["BTCUSDT", "EURUSDT"]

    clock.advance(29)
    again = await binance.rate("BTC", "EUR")
    await binance.rate("BTC", "USDT")  # one of the cached legs
    assert binance_server.hits["/api/v3/ticker/24hr"] == 1
    assert again.as_of == T0

    clock.advance(2)  # 31 s: past the 30 s TTL
    fresh = await binance.rate("BTC", "EUR")
    assert binance_server.hits["/api/v3/ticker/24hr"] == 2
    assert fresh.as_of == T0 + timedelta(seconds=31)


async def test_binance_server_down_stale_within_max_age_then_too_old(
    sources: RateSources, binance_server: ExchangeServer, clock: Clock
) -> None:
    binance = sources.get("Binance")
    first = await binance.rate("BTC", "USDT")
    await binance_server.stop()

    clock.advance(120)  # past the TTL, within max age: the cached price still serves
    stale = await binance.rate("BTC", "USDT")
    assert stale.value == first.value and stale.as_of == T0

    clock.advance(181)  # 301 s old
    with pytest.raises(RateTooOld, match="older than the 300 s allowed") as info:
        await binance.rate("BTC", "USDT")
    assert info.value.age_seconds == 301 and info.value.source == "Binance"
    # a pair never fetched has nothing to fall back on
    with pytest.raises(RateUnavailable, match="cannot be reached"):
        await binance.rate("LTC", "USDT")


async def test_binance_unknown_pair(sources: RateSources, binance_server: ExchangeServer) -> None:
    binance = sources.get("Binance")
    with pytest.raises(RateUnavailable, match="no market to price XYZ in USD") as info:
        await binance.rate("XYZ", "USD")
    assert not isinstance(info.value, RateTooOld)
    with pytest.raises(RateUnavailable, match="DOGE"):
        await binance.rate("DOGE", "EUR")
    assert binance_server.hits["/api/v3/ticker/24hr"] == 0  # decided from the market list


# --------------------------------------------------------------------------- Kucoin


async def test_kucoin_rates_cross_mid_and_cache(
    sources: RateSources, kucoin_server: ExchangeServer, clock: Clock
) -> None:
    kucoin = sources.get("Kucoin")
    assert isinstance(kucoin, ExchangeRates)
    assert type(kucoin.exchange).__module__ == "ccxt.async_support.kucoin"

    rate = await kucoin.rate("BTC", "USDT")
    assert (rate.value, rate.source) == (D("65020.1"), "Kucoin")

    btc_eur = await kucoin.rate("BTC", "EUR")
    assert btc_eur.value == CONTEXT.multiply(D("65020.1"), D("0.9245"))
    eur_eth = await kucoin.rate("EUR", "ETH")
    assert eur_eth.value == CONTEXT.multiply(inv("0.9245"), inv("3202.11"))
    assert eur_eth.route == ("EUR", "USDT", "ETH")

    # no last trade: the bid/ask mid
    assert (await kucoin.rate("TRX", "USDT")).value == D("0.12002")

    # only the legs not yet cached were fetched, one symbol each: GET /market/stats
    assert kucoin_server.hits["/api/v1/market/stats"] == 4
    assert kucoin_server.hits["/api/v1/market/allTickers"] == 0
    hits = dict(kucoin_server.hits)
    await kucoin.rate("BTC", "EUR")
    await kucoin.rate("EUR", "ETH")
    await kucoin.rate("ETH", "USDT")
    assert dict(kucoin_server.hits) == hits  # all from the cache

    clock.advance(31)  # both legs stale: fetched together through GET /market/allTickers
    again = await kucoin.rate("BTC", "EUR")
    assert again.value == btc_eur.value and again.as_of == T0 + timedelta(seconds=31)
    assert kucoin_server.hits["/api/v1/market/allTickers"] == 1
    assert kucoin_server.hits["/api/v1/market/stats"] == 4
    assert kucoin_server.hits["/api/v2/symbols"] == 1

    with pytest.raises(RateUnavailable):
        await kucoin.rate("LTC", "EUR")

    await kucoin_server.stop()
    clock.advance(270)  # T0 + 301 s; the server is down
    stale = await kucoin.rate("BTC", "EUR")  # legs fetched at T0 + 31 s: 270 s old, served
    assert stale.value == btc_eur.value and stale.as_of == T0 + timedelta(seconds=31)
    with pytest.raises(RateTooOld):  # ETH/USDT was fetched at T0: 301 s old
        await kucoin.rate("EUR", "ETH")
    clock.advance(31)
    with pytest.raises(RateTooOld):
        await kucoin.rate("BTC", "EUR")


# --------------------------------------------------------------------------- registry


@pytest.mark.parametrize(
    "name, why",
    [
        ("Exmo", "ccxt no longer includes an EXMO exchange"),
        ("BinanceP2p", "Binance P2P has no public market-data API"),
    ],
)
async def test_cryptomus_names_without_a_source(sources: RateSources, name: str, why: str) -> None:
    with pytest.raises(RateSourceNotAvailable) as info:
        await sources.rate("BTC", "USD", name)
    message = str(info.value)
    assert message.startswith(f"Rate source {name} is not available: {why}")
    assert message.endswith("Available: static, Binance, Kucoin")
    assert info.value.available == ("static", "Binance", "Kucoin")


async def test_registry_default_names_and_not_enabled(sources: RateSources) -> None:
    assert sources.available == ("static", "Binance", "Kucoin")
    assert (await sources.rate("BTC", "USD")).source == "static"
    assert (await sources.rate("BTC", "USD", "")).source == "static"
    assert sources.resolve("KUCOIN") == "Kucoin"
    assert sources.get("Binance") is sources.get("binance")
    with pytest.raises(
        RateSourceNotAvailable, match="Rate source kraken is not available on this server"
    ):
        sources.get("kraken")
    with pytest.raises(RateSourceNotAvailable, match="not available on this server"):
        sources.get("nosuchexchange")


def test_registry_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="cannot be enabled"):
        RateSources(["static", "Exmo"])
    with pytest.raises(ValueError, match="not a ccxt exchange id"):
        RateSources(["static", "nosuchexchange"])
    with pytest.raises(ValueError, match="default rate source"):
        RateSources(["Binance"])


async def test_other_ccxt_exchanges_are_created_lazily_with_the_base_url() -> None:
    created: list[str] = []

    def factory(exchange_id: str, **kwargs: Any) -> Any:
        created.append(exchange_id)
        return create_ccxt_exchange(exchange_id, **kwargs)

    registry = RateSources(
        ["static", "kraken", "okx"],
        api_urls={"kraken": "http://proxy:8080"},
        exchange_factory=factory,
    )
    assert created == []
    kraken = registry.get("kraken")
    assert created == ["kraken"]
    assert isinstance(kraken, ExchangeRates) and kraken.name == "kraken"
    urls = kraken.exchange.urls["api"]
    assert urls["public"] == "http://proxy:8080"
    assert all(u.startswith("http://proxy:8080") for u in urls.values())
    await registry.aclose()


def test_rebase_api_urls_keeps_paths_and_replaces_hostname_placeholders() -> None:
    api = {
        "public": "https://api.binance.com/api/v3",
        "nested": {"spot": "https://api.{hostname}/v5"},
        "n": None,
    }
    assert rebase_api_urls(api, "http://127.0.0.1:9/prefix/") == {
        "public": "http://127.0.0.1:9/prefix/api/v3",
        "nested": {"spot": "http://127.0.0.1:9/prefix/v5"},
        "n": None,
    }
