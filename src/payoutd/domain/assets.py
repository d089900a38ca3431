"""The currencies and networks payoutd pays out on (from the seeds).

A merchant holds one balance per *currency* (one USDT balance); the *network*
is only how a payout travels. An *asset* is a currency on a network, with the
chain's own decimals and the payout limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from payoutd.domain.errors import field_error


@dataclass(frozen=True, slots=True)
class Currency:
    code: str
    name: str
    decimals: int  # precision of balances in this currency
    fiat: bool = False


@dataclass(frozen=True, slots=True)
class Network:
    code: str
    name: str
    family: str  # "utxo" | "evm" | "tron" | "solana" | "ton"
    native: str  # the coin that pays the network fee
    priced_priority: bool  # whether `priority` changes the fee (Cryptomus: BTC ETH POLYGON BSC)
    takes_memo: bool = False
    confirmations: int = 1  # confirmations before a payout is final


@dataclass(frozen=True, slots=True)
class Asset:
    currency: str
    network: str
    decimals: int  # what the chain can express for this asset
    min_amount: Decimal
    max_amount: Decimal
    contract: str | None = None  # token contract / mint / jetton master, None for native coins

    @property
    def code(self) -> str:
        return f"{self.currency}-{self.network}"


# Balances in fiat are kept in cents: USD, EUR, and any fiat the rates file prices.
FIAT_DECIMALS = 2

CURRENCIES: Mapping[str, Currency] = {
    c.code: c
    for c in (
        Currency("BTC", "Bitcoin", 8),
        Currency("LTC", "Litecoin", 8),
        Currency("DOGE", "Dogecoin", 8),
        Currency("ETH", "Ether", 18),
        Currency("USDT", "Tether USD", 6),
        Currency("USDC", "USD Coin", 6),
        Currency("DAI", "Dai", 18),
        Currency("BUSD", "Binance USD", 18),
        Currency("FRAX", "Frax", 18),
        Currency("TRX", "TRON", 6),
        Currency("BNB", "BNB", 18),
        Currency("POL", "Polygon", 18),
        Currency("SOL", "Solana", 9),
        Currency("TON", "Toncoin", 9),
        Currency("USD", "US dollar", FIAT_DECIMALS, fiat=True),
        Currency("EUR", "Euro", FIAT_DECIMALS, fiat=True),
    )
}

NETWORKS: Mapping[str, Network] = {
    n.code: n
    for n in (
        Network("BTC", "Bitcoin", "utxo", "BTC", priced_priority=True, confirmations=2),
        Network("LTC", "Litecoin", "utxo", "LTC", priced_priority=False, confirmations=2),
        Network("DOGE", "Dogecoin", "utxo", "DOGE", priced_priority=False, confirmations=2),
        Network("ETH", "Ethereum", "evm", "ETH", priced_priority=True, confirmations=2),
        Network("BSC", "BNB Smart Chain", "evm", "BNB", priced_priority=True, confirmations=2),
        Network("POLYGON", "Polygon PoS", "evm", "POL", priced_priority=True, confirmations=2),
        Network("BASE", "Base", "evm", "ETH", priced_priority=False, confirmations=2),
        Network("TRON", "TRON", "tron", "TRX", priced_priority=False, confirmations=2),
        Network("SOL", "Solana", "solana", "SOL", priced_priority=False, confirmations=2),
        Network(
            "TON", "TON", "ton", "TON", priced_priority=False, takes_memo=True, confirmations=2
        ),
    )
}


def _a(
    currency: str,
    network: str,
    decimals: int,
    min_amount: str,
    max_amount: str,
    contract: str | None = None,
) -> Asset:
    return Asset(currency, network, decimals, Decimal(min_amount), Decimal(max_amount), contract)


# Minimums follow the seeds where they say one (USDT 0.5), otherwise about a
# dollar's worth; maximums guard against fat fingers, not against balances.
ASSETS: Mapping[tuple[str, str], Asset] = {
    (a.currency, a.network): a
    for a in (
        _a("BTC", "BTC", 8, "0.00001", "100"),
        _a("LTC", "LTC", 8, "0.001", "100000"),
        _a("DOGE", "DOGE", 8, "1", "100000000"),
        _a("ETH", "ETH", 18, "0.0005", "10000"),
        _a("USDT", "ETH", 6, "0.5", "10000000", "0xdAC17F958D2ee523a2206206994597C13D831ec7"),
        _a("USDC", "ETH", 6, "0.5", "10000000", "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"),
        _a("DAI", "ETH", 18, "0.5", "10000000", "0x6B175474E89094C44Da98b954EedeAC495271d0F"),
        _a("FRAX", "ETH", 18, "0.5", "10000000", "0x853d955aCEf822Db058eb8505911ED77F175b99e"),
        _a("BUSD", "ETH", 18, "0.5", "10000000", "0x4fABb145d64652a948D72533023f2e6a1a2B94a5"),
        _a("TRX", "TRON", 6, "1", "100000000"),
        _a("USDT", "TRON", 6, "0.5", "10000000", "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        _a("BNB", "BSC", 18, "0.001", "100000"),
        _a("USDT", "BSC", 18, "0.5", "10000000", "0x55d398326f99059fF775485246999027B3197955"),
        _a("USDC", "BSC", 18, "0.5", "10000000", "0x8AC76a51cc950d9822D68b83fE1Ad97B32Cd580d"),
        _a("BUSD", "BSC", 18, "0.5", "10000000", "0xe9e7CEA3DedcA5984780Bafc599bD69ADd087D56"),
        _a("POL", "POLYGON", 18, "1", "100000000"),
        _a("USDT", "POLYGON", 6, "0.5", "10000000", "0xc2132D05D31c914a87C6611C10748AEb04B58e8F"),
        _a("USDC", "POLYGON", 6, "0.5", "10000000", "0x3c499c542cEF5E3811e1192ce70d8cC03d5c3359"),
        _a("SOL", "SOL", 9, "0.005", "1000000"),
        _a("USDT", "SOL", 6, "0.5", "10000000", "Es9vMFrzaCERmJfrF4H2FYD4KCoNkY11McCe8BenwNYB"),
        _a("USDC", "SOL", 6, "0.5", "10000000", "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"),
        _a("TON", "TON", 9, "0.1", "10000000"),
        _a("USDT", "TON", 6, "0.5", "10000000", "EQCxE6mUtQJKFnGfaROTKOt1lZbDiiX1kCixRv7Nw2Id_sDs"),
        _a("ETH", "BASE", 18, "0.0005", "10000"),
        _a("USDC", "BASE", 6, "0.5", "10000000", "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
    )
}

PRIORITIES: tuple[str, ...] = ("economy", "recommended", "high", "highest")
MEMO_MAX_LENGTH = 30


def currency(code: str, *, field: str = "currency") -> Currency:
    found = CURRENCIES.get(code.upper()) if isinstance(code, str) else None
    if found is None:
        raise field_error("currency_not_found", field)
    return found


def networks_of(currency_code: str) -> list[str]:
    return [net for (cur, net) in ASSETS if cur == currency_code]


def resolve_asset(
    currency_code: str, network: str | None, *, currency_field: str = "currency"
) -> Asset:
    """The asset a payout in `currency_code` travels as; `network` may be left out
    when the currency has only one network (Cryptomus: "not needed for BTC")."""
    cur = currency(currency_code, field=currency_field)
    if cur.fiat:
        raise field_error("service_not_found", currency_field)
    if network is None:
        options = networks_of(cur.code)
        if len(options) == 1:
            return ASSETS[(cur.code, options[0])]
        raise field_error(
            "network_required",
            "network",
            f"The network is required for {cur.code}: one of {', '.join(options)}",
        )
    net = network.upper()
    if net not in NETWORKS:
        raise field_error("service_not_found", "network")
    asset = ASSETS.get((cur.code, net))
    if asset is None:
        raise field_error("service_not_found", "network")
    return asset


def check_limits(asset: Asset, amount: Decimal) -> None:
    if amount < asset.min_amount:
        raise field_error(
            "amount_too_small", "amount", min=_plain(asset.min_amount), currency=asset.currency
        )
    if amount > asset.max_amount:
        raise field_error(
            "amount_too_large", "amount", max=_plain(asset.max_amount), currency=asset.currency
        )


def check_memo(asset: Asset, memo: str | None) -> str | None:
    if memo is None or memo == "":
        return None
    if not NETWORKS[asset.network].takes_memo:
        raise field_error("invalid_memo", "memo", f"The {asset.network} network takes no memo")
    if len(memo) > MEMO_MAX_LENGTH:
        raise field_error(
            "invalid_memo", "memo", f"The memo is longer than {MEMO_MAX_LENGTH} characters"
        )
    return memo


def check_priority(asset: Asset, priority: str | None) -> str | None:
    """`priority` is refused where the network does not price it, so a merchant never
    believes they paid for speed they did not get."""
    if priority is None:
        return "recommended" if NETWORKS[asset.network].priced_priority else None
    if priority not in PRIORITIES:
        raise field_error(
            "validation_error", "priority", f"priority must be one of {', '.join(PRIORITIES)}"
        )
    if not NETWORKS[asset.network].priced_priority:
        raise field_error(
            "priority_not_supported",
            "priority",
            f"Priority is not supported on the {asset.network} network",
        )
    return priority


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
