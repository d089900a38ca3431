"""Fiat balances (issue 20, item 1): every fiat and crypto pair of the shipped rates file
paid end to end out of the fiat balance, in both fee modes, on SQLite and PostgreSQL; a
USD-funded payout paid and one cancelled; fiat deposits through the admin API; and a
fiat the rates file adds (GBP) kept like USD.

Every expected amount below is worked out by hand in the comments from
src/payoutd/rates/sample_rates.toml (`test_the_table_is_priced_from_the_shipped_rates`
holds the file to the rates used here), a service fee of 1.5 % (no fixed part) and the
sandbox chain's fee table (src/payoutd/chains/sandbox.py: a network's own coin pays
BASE_FEE, a token one unit of itself, at `recommended` = x1). Nothing is computed by
calling payoutd. What the recipient gets rounds down to the asset's decimals, what the
merchant pays rounds up to the balance's (cents).

Each table row: 100 of the fiat sent as the crypto, paid from the fiat balance
(`balance_currency` = the fiat): the payout amount is 100 fiat converted, the debit is
what the payout costs in crypto (amount + fees) converted back, in cents. EUR is priced
through USD (1 EUR = 1.08 USD), so 1 X = X/USD / 1.08 EUR. Where 100 EUR buys an exact
number of units (108 USDT, 240 POL, 0.72 SOL), the payout is one unit of the last decimal
less: payoutd computes cross rates to 60 significant digits, 1/1.08 rounds up there
(0.925...926), and the conversion, rounded down, lands just under (the rows say so). The
recipient, never the ledger, is short of that unit.
"""

from __future__ import annotations

import tomllib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.services.test_funding_modes import moved, system_balances
from tests.support import Harness, Merchant

SAMPLE_RATES = (
    Path(__file__).resolve().parents[2] / "src" / "payoutd" / "rates" / "sample_rates.toml"
)
# The rates the table below was priced from (the shipped file's, USD per unit).
PRICED_FROM = {
    "BTC/USD": "65000.00",
    "LTC/USD": "85.00",
    "DOGE/USD": "0.16",
    "ETH/USD": "3200.00",
    "USDT/USD": "1.00",
    "USDC/USD": "1.00",
    "DAI/USD": "1.00",
    "BUSD/USD": "1.00",
    "TRX/USD": "0.12",
    "BNB/USD": "580.00",
    "POL/USD": "0.45",
    "SOL/USD": "150.00",
    "TON/USD": "5.20",
    "FRAX/USD": "1.00",
    "EUR/USD": "1.08",
}
FIATS = ("USD", "EUR")
FEE_MODES = ("on_top", "from_amount")
DEPOSIT = Decimal("10000")

EVM_ADDR = "0xdAC17F958D2ee523a2206206994597C13D831ec7"
ADDRESSES = {
    "BTC": "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
    "LTC": "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9",
    "DOGE": "DD4KSSuBJqcjuTcvUg1CgUKeurPUFeEZkE",
    "ETH": EVM_ADDR,
    "BSC": EVM_ADDR,
    "POLYGON": EVM_ADDR,
    "TRON": "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
    "SOL": "So11111111111111111111111111111111111111112",
    "TON": "EQCD39VS5jcptHL8vMjEXrzGaRcCVYto7HUn4bpAOg8xqB2N",
}


@dataclass(frozen=True)
class Row:
    fiat: str
    fee_mode: str
    currency: str
    network: str
    payout_amount: str
    network_fee: str
    service: str
    final: str
    debit: str  # in the fiat, cents
    rate: str  # 1 currency in the fiat, as the payout shows it (18 decimals at most)

    @property
    def charged(self) -> Decimal:
        """What the payout costs in its crypto: what is sent plus the fees."""
        return Decimal(self.final) + Decimal(self.network_fee) + Decimal(self.service)


# Worked by hand, per crypto (in the order of the rates file) and fiat:
#
# BTC on BTC: 8 decimals, network fee 0.00002 BTC; 1 BTC = 65000.00 USD
#   USD: 100 / (65000.00) = 0.001538461538...
#        -> rounded down: 0.00153846
#        service 0.00153846 * 1.5 % = 0.0000230769
#          -> up: 0.00002308
#        on_top: charged 0.00158154 (amount + fees)
#          * 65000.00 = 102.8001 -> up: 102.81
#        from_amount: final 0.00153846 - 0.00004308 = 0.00149538;
#          charged 0.00153846 (the amount) * the rate = 99.9999 -> up: 100.00
#   EUR: 100 / (65000.00 / 1.08 = 60185.185185185185...) = 0.001661538461...
#        -> rounded down: 0.00166153
#        service 0.00166153 * 1.5 % = 0.00002492295
#          -> up: 0.00002493
#        on_top: charged 0.00170646 (amount + fees)
#          * (65000.00 / 1.08) = 102.703611111111... -> up: 102.71
#        from_amount: final 0.00166153 - 0.00004493 = 0.00161660;
#          charged 0.00166153 (the amount) * the rate = 99.99949074074... -> up: 100.00
# LTC on LTC: 8 decimals, network fee 0.0001 LTC; 1 LTC = 85.00 USD
#   USD: 100 / (85.00) = 1.176470588235...
#        -> rounded down: 1.17647058
#        service 1.17647058 * 1.5 % = 0.0176470587
#          -> up: 0.01764706
#        on_top: charged 1.19421764 (amount + fees)
#          * 85.00 = 101.5084994 -> up: 101.51
#        from_amount: final 1.17647058 - 0.01774706 = 1.15872352;
#          charged 1.17647058 (the amount) * the rate = 99.9999993 -> up: 100.00
#   EUR: 100 / (85.00 / 1.08 = 78.703703703703...) = 1.270588235294...
#        -> rounded down: 1.27058823
#        service 1.27058823 * 1.5 % = 0.01905882345
#          -> up: 0.01905883
#        on_top: charged 1.28974706 (amount + fees)
#          * (85.00 / 1.08) = 101.507870462962... -> up: 101.51
#        from_amount: final 1.27058823 - 0.01915883 = 1.25142940;
#          charged 1.27058823 (the amount) * the rate = 99.999999583333... -> up: 100.00
# DOGE on DOGE: 8 decimals, network fee 1 DOGE; 1 DOGE = 0.16 USD
#   USD: 100 / (0.16) = 625
#        -> rounded down: 625.00000000
#        service 625.00000000 * 1.5 % = 9.375
#          -> up: 9.37500000
#        on_top: charged 635.37500000 (amount + fees)
#          * 0.16 = 101.66 -> up: 101.66
#        from_amount: final 625.00000000 - 10.375 = 614.62500000;
#          charged 625.00000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (0.16 / 1.08 = 0.148148148148...) = 675
#        -> rounded down: 675.00000000
#        service 675.00000000 * 1.5 % = 10.125
#          -> up: 10.12500000
#        on_top: charged 686.12500000 (amount + fees)
#          * (0.16 / 1.08) = 101.648148148148... -> up: 101.65
#        from_amount: final 675.00000000 - 11.125 = 663.87500000;
#          charged 675.00000000 (the amount) * the rate = 100 -> up: 100.00
# ETH on ETH: 18 decimals, network fee 0.0002 ETH; 1 ETH = 3200.00 USD
#   USD: 100 / (3200.00) = 0.03125
#        -> rounded down: 0.031250000000000000
#        service 0.031250000000000000 * 1.5 % = 0.00046875
#          -> up: 0.000468750000000000
#        on_top: charged 0.031918750000000000 (amount + fees)
#          * 3200.00 = 102.14 -> up: 102.14
#        from_amount: final 0.031250000000000000 - 0.00066875 = 0.030581250000000000;
#          charged 0.031250000000000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (3200.00 / 1.08 = 2962.962962962962...) = 0.03375
#        -> rounded down: 0.033750000000000000
#        service 0.033750000000000000 * 1.5 % = 0.00050625
#          -> up: 0.000506250000000000
#        on_top: charged 0.034456250000000000 (amount + fees)
#          * (3200.00 / 1.08) = 102.092592592592... -> up: 102.10
#        from_amount: final 0.033750000000000000 - 0.00070625 = 0.033043750000000000;
#          charged 0.033750000000000000 (the amount) * the rate = 100 -> up: 100.00
# USDT on TRON: 6 decimals, network fee 1 USDT; 1 USDT = 1.00 USD
#   USD: 100 / (1.00) = 100
#        -> rounded down: 100.000000
#        service 100.000000 * 1.5 % = 1.5
#          -> up: 1.500000
#        on_top: charged 102.500000 (amount + fees)
#          * 1.00 = 102.5 -> up: 102.50
#        from_amount: final 100.000000 - 2.5 = 97.500000;
#          charged 100.000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (1.00 / 1.08 = 0.925925925925...) = 108, exactly a 6-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 108.000000
#        service 108.000000 * 1.5 % = 1.62
#          -> up: 1.620000
#        on_top: charged 110.620000 (amount + fees)
#          * (1.00 / 1.08) = 102.425925 -> up: 102.43
#        from_amount: final 108.000000 - 2.62 = 105.380000;
#          charged 108.000000 (the amount) * the rate = 100 -> up: 100.00
# USDC on ETH: 6 decimals, network fee 1 USDC; 1 USDC = 1.00 USD
#   USD: 100 / (1.00) = 100
#        -> rounded down: 100.000000
#        service 100.000000 * 1.5 % = 1.5
#          -> up: 1.500000
#        on_top: charged 102.500000 (amount + fees)
#          * 1.00 = 102.5 -> up: 102.50
#        from_amount: final 100.000000 - 2.5 = 97.500000;
#          charged 100.000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (1.00 / 1.08 = 0.925925925925...) = 108, exactly a 6-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 108.000000
#        service 108.000000 * 1.5 % = 1.62
#          -> up: 1.620000
#        on_top: charged 110.620000 (amount + fees)
#          * (1.00 / 1.08) = 102.425925 -> up: 102.43
#        from_amount: final 108.000000 - 2.62 = 105.380000;
#          charged 108.000000 (the amount) * the rate = 100 -> up: 100.00
# DAI on ETH: 18 decimals, network fee 1 DAI; 1 DAI = 1.00 USD
#   USD: 100 / (1.00) = 100
#        -> rounded down: 100.000000000000000000
#        service 100.000000000000000000 * 1.5 % = 1.5
#          -> up: 1.500000000000000000
#        on_top: charged 102.500000000000000000 (amount + fees)
#          * 1.00 = 102.5 -> up: 102.50
#        from_amount: final 100.000000000000000000 - 2.5 = 97.500000000000000000;
#          charged 100.000000000000000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (1.00 / 1.08 = 0.925925925925...) = 108, exactly a 18-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 108.000000000000000000
#        service 108.000000000000000000 * 1.5 % = 1.62
#          -> up: 1.620000000000000000
#        on_top: charged 110.620000000000000000 (amount + fees)
#          * (1.00 / 1.08) = 102.425925925925... -> up: 102.43
#        from_amount: final 108.000000000000000000 - 2.62 = 105.380000000000000000;
#          charged 108.000000000000000000 (the amount) * the rate = 100 -> up: 100.00
# FRAX on ETH: as DAI on ETH above, digit for digit (18 decimals, network fee 1
#   FRAX, 1 FRAX = 1.00 USD).
# BUSD on BSC: 18 decimals, network fee 1 BUSD; 1 BUSD = 1.00 USD
#   USD: 100 / (1.00) = 100
#        -> rounded down: 100.000000000000000000
#        service 100.000000000000000000 * 1.5 % = 1.5
#          -> up: 1.500000000000000000
#        on_top: charged 102.500000000000000000 (amount + fees)
#          * 1.00 = 102.5 -> up: 102.50
#        from_amount: final 100.000000000000000000 - 2.5 = 97.500000000000000000;
#          charged 100.000000000000000000 (the amount) * the rate = 100 -> up: 100.00
#   EUR: 100 / (1.00 / 1.08 = 0.925925925925...) = 108, exactly a 18-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 108.000000000000000000
#        service 108.000000000000000000 * 1.5 % = 1.62
#          -> up: 1.620000000000000000
#        on_top: charged 110.620000000000000000 (amount + fees)
#          * (1.00 / 1.08) = 102.425925925925... -> up: 102.43
#        from_amount: final 108.000000000000000000 - 2.62 = 105.380000000000000000;
#          charged 108.000000000000000000 (the amount) * the rate = 100 -> up: 100.00
# TRX on TRON: 6 decimals, network fee 1 TRX; 1 TRX = 0.12 USD
#   USD: 100 / (0.12) = 833.333333333333...
#        -> rounded down: 833.333333
#        service 833.333333 * 1.5 % = 12.499999995
#          -> up: 12.500000
#        on_top: charged 846.833333 (amount + fees)
#          * 0.12 = 101.61999996 -> up: 101.62
#        from_amount: final 833.333333 - 13.5 = 819.833333;
#          charged 833.333333 (the amount) * the rate = 99.99999996 -> up: 100.00
#   EUR: 100 / (0.12 / 1.08 = 0.111111111111...) = 900
#        -> rounded down: 900.000000
#        service 900.000000 * 1.5 % = 13.5
#          -> up: 13.500000
#        on_top: charged 914.500000 (amount + fees)
#          * (0.12 / 1.08) = 101.611111111111... -> up: 101.62
#        from_amount: final 900.000000 - 14.5 = 885.500000;
#          charged 900.000000 (the amount) * the rate = 100 -> up: 100.00
# BNB on BSC: 18 decimals, network fee 0.0002 BNB; 1 BNB = 580.00 USD
#   USD: 100 / (580.00) = 0.172413793103...
#        -> rounded down: 0.172413793103448275
#        service 0.172413793103448275 * 1.5 % = 0.00258620689655172412...
#          -> up: 0.002586206896551725
#        on_top: charged 0.175200000000000000 (amount + fees)
#          * 580.00 = 101.616 -> up: 101.62
#        from_amount: final 0.172413793103448275 - 0.002786206896551725 = 0.169627586206896550;
#          charged 0.172413793103448275 (the amount) * the rate = 99.999999999999... -> up: 100.00
#   EUR: 100 / (580.00 / 1.08 = 537.037037037037...) = 0.186206896551...
#        -> rounded down: 0.186206896551724137
#        service 0.186206896551724137 * 1.5 % = 0.00279310344827586205...
#          -> up: 0.002793103448275863
#        on_top: charged 0.189200000000000000 (amount + fees)
#          * (580.00 / 1.08) = 101.607407407407... -> up: 101.61
#        from_amount: final 0.186206896551724137 - 0.002993103448275863 = 0.183213793103448274;
#          charged 0.186206896551724137 (the amount) * the rate = 99.999999999999... -> up: 100.00
# POL on POLYGON: 18 decimals, network fee 0.01 POL; 1 POL = 0.45 USD
#   USD: 100 / (0.45) = 222.222222222222...
#        -> rounded down: 222.222222222222222222
#        service 222.222222222222222222 * 1.5 % = 3.33333333333333333333
#          -> up: 3.333333333333333334
#        on_top: charged 225.565555555555555556 (amount + fees)
#          * 0.45 = 101.5045... -> up: 101.51
#        from_amount: final 222.222222222222222222 - 3.343333333333333334 = 218.878888888888888888;
#          charged 222.222222222222222222 (the amount) * the rate = 99.999999999999... -> up: 100.00
#   EUR: 100 / (0.45 / 1.08 = 0.416666666666...) = 240, exactly a 18-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 240.000000000000000000
#        service 240.000000000000000000 * 1.5 % = 3.6
#          -> up: 3.600000000000000000
#        on_top: charged 243.610000000000000000 (amount + fees)
#          * (0.45 / 1.08) = 101.504166666666... -> up: 101.51
#        from_amount: final 240.000000000000000000 - 3.61 = 236.390000000000000000;
#          charged 240.000000000000000000 (the amount) * the rate = 100 -> up: 100.00
# SOL on SOL: 9 decimals, network fee 0.00001 SOL; 1 SOL = 150.00 USD
#   USD: 100 / (150.00) = 0.666666666666...
#        -> rounded down: 0.666666666
#        service 0.666666666 * 1.5 % = 0.00999999999
#          -> up: 0.010000000
#        on_top: charged 0.676676666 (amount + fees)
#          * 150.00 = 101.5014999 -> up: 101.51
#        from_amount: final 0.666666666 - 0.01001 = 0.656656666;
#          charged 0.666666666 (the amount) * the rate = 99.9999999 -> up: 100.00
#   EUR: 100 / (150.00 / 1.08 = 138.888888888888...) = 0.72, exactly a 9-decimal
#        amount; the rate is exact (a fraction of the quoted prices, never 1/1.08
#        rounded), so 100 buys exactly that -> 0.720000000
#        service 0.720000000 * 1.5 % = 0.0108
#          -> up: 0.010800000
#        on_top: charged 0.730810000 (amount + fees)
#          * (150.00 / 1.08) = 101.50138875 -> up: 101.51
#        from_amount: final 0.720000000 - 0.01081 = 0.709190000;
#          charged 0.720000000 (the amount) * the rate = 100 -> up: 100.00
# TON on TON: 9 decimals, network fee 0.01 TON; 1 TON = 5.20 USD
#   USD: 100 / (5.20) = 19.230769230769...
#        -> rounded down: 19.230769230
#        service 19.230769230 * 1.5 % = 0.28846153845
#          -> up: 0.288461539
#        on_top: charged 19.529230769 (amount + fees)
#          * 5.20 = 101.5519999988 -> up: 101.56
#        from_amount: final 19.230769230 - 0.298461539 = 18.932307691;
#          charged 19.230769230 (the amount) * the rate = 99.999999996 -> up: 100.00
#   EUR: 100 / (5.20 / 1.08 = 4.814814814814...) = 20.76923076923...
#        -> rounded down: 20.769230769
#        service 20.769230769 * 1.5 % = 0.311538461535
#          -> up: 0.311538462
#        on_top: charged 21.090769231 (amount + fees)
#          * (5.20 / 1.08) = 101.548148149259... -> up: 101.55
#        from_amount: final 20.769230769 - 0.321538462 = 20.447692307;
#          charged 20.769230769 (the amount) * the rate = 99.999999998888... -> up: 100.00

ROWS = [
    Row(
        "EUR",
        "from_amount",
        "BTC",
        "BTC",
        "0.00166153",
        "0.00002000",
        "0.00002493",
        "0.00161660",
        "100.00",
        "60185.185185185185185185",
    ),
    Row(
        "EUR",
        "from_amount",
        "LTC",
        "LTC",
        "1.27058823",
        "0.00010000",
        "0.01905883",
        "1.25142940",
        "100.00",
        "78.703703703703703704",
    ),
    Row(
        "EUR",
        "from_amount",
        "DOGE",
        "DOGE",
        "675.00000000",
        "1.00000000",
        "10.12500000",
        "663.87500000",
        "100.00",
        "0.148148148148148148",
    ),
    Row(
        "EUR",
        "from_amount",
        "ETH",
        "ETH",
        "0.033750000000000000",
        "0.000200000000000000",
        "0.000506250000000000",
        "0.033043750000000000",
        "100.00",
        "2962.962962962962962963",
    ),
    Row(
        "EUR",
        "from_amount",
        "USDT",
        "TRON",
        "108.000000",
        "1.000000",
        "1.620000",
        "105.380000",
        "100.00",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "from_amount",
        "USDC",
        "ETH",
        "108.000000",
        "1.000000",
        "1.620000",
        "105.380000",
        "100.00",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "from_amount",
        "DAI",
        "ETH",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "105.380000000000000000",
        "100.00",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "from_amount",
        "BUSD",
        "BSC",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "105.380000000000000000",
        "100.00",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "from_amount",
        "TRX",
        "TRON",
        "900.000000",
        "1.000000",
        "13.500000",
        "885.500000",
        "100.00",
        "0.111111111111111111",
    ),
    Row(
        "EUR",
        "from_amount",
        "BNB",
        "BSC",
        "0.186206896551724137",
        "0.000200000000000000",
        "0.002793103448275863",
        "0.183213793103448274",
        "100.00",
        "537.037037037037037037",
    ),
    Row(
        "EUR",
        "from_amount",
        "POL",
        "POLYGON",
        "240.000000000000000000",
        "0.010000000000000000",
        "3.600000000000000000",
        "236.390000000000000000",
        "100.00",
        "0.416666666666666667",
    ),
    Row(
        "EUR",
        "from_amount",
        "SOL",
        "SOL",
        "0.720000000",
        "0.000010000",
        "0.010800000",
        "0.709190000",
        "100.00",
        "138.888888888888888889",
    ),
    Row(
        "EUR",
        "from_amount",
        "TON",
        "TON",
        "20.769230769",
        "0.010000000",
        "0.311538462",
        "20.447692307",
        "100.00",
        "4.814814814814814815",
    ),
    Row(
        "EUR",
        "on_top",
        "BTC",
        "BTC",
        "0.00166153",
        "0.00002000",
        "0.00002493",
        "0.00166153",
        "102.71",
        "60185.185185185185185185",
    ),
    Row(
        "EUR",
        "on_top",
        "LTC",
        "LTC",
        "1.27058823",
        "0.00010000",
        "0.01905883",
        "1.27058823",
        "101.51",
        "78.703703703703703704",
    ),
    Row(
        "EUR",
        "on_top",
        "DOGE",
        "DOGE",
        "675.00000000",
        "1.00000000",
        "10.12500000",
        "675.00000000",
        "101.65",
        "0.148148148148148148",
    ),
    Row(
        "EUR",
        "on_top",
        "ETH",
        "ETH",
        "0.033750000000000000",
        "0.000200000000000000",
        "0.000506250000000000",
        "0.033750000000000000",
        "102.10",
        "2962.962962962962962963",
    ),
    Row(
        "EUR",
        "on_top",
        "USDT",
        "TRON",
        "108.000000",
        "1.000000",
        "1.620000",
        "108.000000",
        "102.43",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "on_top",
        "USDC",
        "ETH",
        "108.000000",
        "1.000000",
        "1.620000",
        "108.000000",
        "102.43",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "on_top",
        "DAI",
        "ETH",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "108.000000000000000000",
        "102.43",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "on_top",
        "BUSD",
        "BSC",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "108.000000000000000000",
        "102.43",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "on_top",
        "TRX",
        "TRON",
        "900.000000",
        "1.000000",
        "13.500000",
        "900.000000",
        "101.62",
        "0.111111111111111111",
    ),
    Row(
        "EUR",
        "on_top",
        "BNB",
        "BSC",
        "0.186206896551724137",
        "0.000200000000000000",
        "0.002793103448275863",
        "0.186206896551724137",
        "101.61",
        "537.037037037037037037",
    ),
    Row(
        "EUR",
        "on_top",
        "POL",
        "POLYGON",
        "240.000000000000000000",
        "0.010000000000000000",
        "3.600000000000000000",
        "240.000000000000000000",
        "101.51",
        "0.416666666666666667",
    ),
    Row(
        "EUR",
        "on_top",
        "SOL",
        "SOL",
        "0.720000000",
        "0.000010000",
        "0.010800000",
        "0.720000000",
        "101.51",
        "138.888888888888888889",
    ),
    Row(
        "EUR",
        "on_top",
        "TON",
        "TON",
        "20.769230769",
        "0.010000000",
        "0.311538462",
        "20.769230769",
        "101.55",
        "4.814814814814814815",
    ),
    Row(
        "USD",
        "from_amount",
        "BTC",
        "BTC",
        "0.00153846",
        "0.00002000",
        "0.00002308",
        "0.00149538",
        "100.00",
        "65000",
    ),
    Row(
        "USD",
        "from_amount",
        "LTC",
        "LTC",
        "1.17647058",
        "0.00010000",
        "0.01764706",
        "1.15872352",
        "100.00",
        "85",
    ),
    Row(
        "USD",
        "from_amount",
        "DOGE",
        "DOGE",
        "625.00000000",
        "1.00000000",
        "9.37500000",
        "614.62500000",
        "100.00",
        "0.16",
    ),
    Row(
        "USD",
        "from_amount",
        "ETH",
        "ETH",
        "0.031250000000000000",
        "0.000200000000000000",
        "0.000468750000000000",
        "0.030581250000000000",
        "100.00",
        "3200",
    ),
    Row(
        "USD",
        "from_amount",
        "USDT",
        "TRON",
        "100.000000",
        "1.000000",
        "1.500000",
        "97.500000",
        "100.00",
        "1",
    ),
    Row(
        "USD",
        "from_amount",
        "USDC",
        "ETH",
        "100.000000",
        "1.000000",
        "1.500000",
        "97.500000",
        "100.00",
        "1",
    ),
    Row(
        "USD",
        "from_amount",
        "DAI",
        "ETH",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "97.500000000000000000",
        "100.00",
        "1",
    ),
    Row(
        "USD",
        "from_amount",
        "BUSD",
        "BSC",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "97.500000000000000000",
        "100.00",
        "1",
    ),
    Row(
        "USD",
        "from_amount",
        "TRX",
        "TRON",
        "833.333333",
        "1.000000",
        "12.500000",
        "819.833333",
        "100.00",
        "0.12",
    ),
    Row(
        "USD",
        "from_amount",
        "BNB",
        "BSC",
        "0.172413793103448275",
        "0.000200000000000000",
        "0.002586206896551725",
        "0.169627586206896550",
        "100.00",
        "580",
    ),
    Row(
        "USD",
        "from_amount",
        "POL",
        "POLYGON",
        "222.222222222222222222",
        "0.010000000000000000",
        "3.333333333333333334",
        "218.878888888888888888",
        "100.00",
        "0.45",
    ),
    Row(
        "USD",
        "from_amount",
        "SOL",
        "SOL",
        "0.666666666",
        "0.000010000",
        "0.010000000",
        "0.656656666",
        "100.00",
        "150",
    ),
    Row(
        "USD",
        "from_amount",
        "TON",
        "TON",
        "19.230769230",
        "0.010000000",
        "0.288461539",
        "18.932307691",
        "100.00",
        "5.2",
    ),
    Row(
        "USD",
        "on_top",
        "BTC",
        "BTC",
        "0.00153846",
        "0.00002000",
        "0.00002308",
        "0.00153846",
        "102.81",
        "65000",
    ),
    Row(
        "USD",
        "on_top",
        "LTC",
        "LTC",
        "1.17647058",
        "0.00010000",
        "0.01764706",
        "1.17647058",
        "101.51",
        "85",
    ),
    Row(
        "USD",
        "on_top",
        "DOGE",
        "DOGE",
        "625.00000000",
        "1.00000000",
        "9.37500000",
        "625.00000000",
        "101.66",
        "0.16",
    ),
    Row(
        "USD",
        "on_top",
        "ETH",
        "ETH",
        "0.031250000000000000",
        "0.000200000000000000",
        "0.000468750000000000",
        "0.031250000000000000",
        "102.14",
        "3200",
    ),
    Row(
        "USD",
        "on_top",
        "USDT",
        "TRON",
        "100.000000",
        "1.000000",
        "1.500000",
        "100.000000",
        "102.50",
        "1",
    ),
    Row(
        "USD",
        "on_top",
        "USDC",
        "ETH",
        "100.000000",
        "1.000000",
        "1.500000",
        "100.000000",
        "102.50",
        "1",
    ),
    Row(
        "USD",
        "on_top",
        "DAI",
        "ETH",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "100.000000000000000000",
        "102.50",
        "1",
    ),
    Row(
        "USD",
        "on_top",
        "BUSD",
        "BSC",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "100.000000000000000000",
        "102.50",
        "1",
    ),
    Row(
        "USD",
        "on_top",
        "TRX",
        "TRON",
        "833.333333",
        "1.000000",
        "12.500000",
        "833.333333",
        "101.62",
        "0.12",
    ),
    Row(
        "USD",
        "on_top",
        "BNB",
        "BSC",
        "0.172413793103448275",
        "0.000200000000000000",
        "0.002586206896551725",
        "0.172413793103448275",
        "101.62",
        "580",
    ),
    Row(
        "USD",
        "on_top",
        "POL",
        "POLYGON",
        "222.222222222222222222",
        "0.010000000000000000",
        "3.333333333333333334",
        "222.222222222222222222",
        "101.51",
        "0.45",
    ),
    Row(
        "USD",
        "on_top",
        "SOL",
        "SOL",
        "0.666666666",
        "0.000010000",
        "0.010000000",
        "0.666666666",
        "101.51",
        "150",
    ),
    Row(
        "USD",
        "on_top",
        "TON",
        "TON",
        "19.230769230",
        "0.010000000",
        "0.288461539",
        "19.230769230",
        "101.56",
        "5.2",
    ),
    Row(
        "EUR",
        "from_amount",
        "FRAX",
        "ETH",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "105.380000000000000000",
        "100.00",
        "0.925925925925925926",
    ),
    Row(
        "EUR",
        "on_top",
        "FRAX",
        "ETH",
        "108.000000000000000000",
        "1.000000000000000000",
        "1.620000000000000000",
        "108.000000000000000000",
        "102.43",
        "0.925925925925925926",
    ),
    Row(
        "USD",
        "from_amount",
        "FRAX",
        "ETH",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "97.500000000000000000",
        "100.00",
        "1",
    ),
    Row(
        "USD",
        "on_top",
        "FRAX",
        "ETH",
        "100.000000000000000000",
        "1.000000000000000000",
        "1.500000000000000000",
        "100.000000000000000000",
        "102.50",
        "1",
    ),
]


def rows_of(fiat: str, fee_mode: str) -> list[Row]:
    return [r for r in ROWS if (r.fiat, r.fee_mode) == (fiat, fee_mode)]


@pytest.fixture
async def fh(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness on the shipped rates file and a service fee of 1.5 %."""
    settings = support.test_settings(
        tmp_path,
        database_url,
        rates_file=SAMPLE_RATES,
        service_fee_percent=Decimal("1.5"),
        service_fee_fixed=Decimal(0),
    )
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


def test_the_table_is_priced_from_the_shipped_rates() -> None:
    """The table covers every fiat and crypto pair the rates file prices, each in both fee
    modes, at the rates it was worked out from."""
    rates = tomllib.loads(SAMPLE_RATES.read_text())["rates"]
    assert rates == PRICED_FROM
    cryptos = [pair.split("/")[0] for pair in rates if pair.split("/")[0] not in FIATS]
    assert sorted((r.fiat, r.fee_mode, r.currency) for r in ROWS) == sorted(
        (fiat, mode, c) for fiat in FIATS for mode in FEE_MODES for c in cryptos
    )


async def sandbox_outputs(h: Harness, m: Merchant) -> dict[tuple[str, str], list[Any]]:
    """What the sandbox chain mined for the merchant: outputs by (network, currency)."""
    r = await h.client.get("/v1/sandbox/transactions", headers=m.headers)
    assert r.status_code == 200, r.text
    found: dict[tuple[str, str], list[Any]] = {}
    for tx in r.json()["data"]:
        found.setdefault((tx["network"], tx["currency"]), []).extend(
            (o["address"], Decimal(o["amount"])) for o in tx["outputs"]
        )
    return found


def assert_quoted(p: dict[str, Any], row: Row) -> None:
    pair = f"{row.fiat}->{row.currency} {row.fee_mode}"
    assert (p["payout_currency"], p["network"]) == (row.currency, row.network), pair
    assert Decimal(p["payout_amount"]) == Decimal(row.payout_amount), pair
    assert Decimal(p["fees"]["network"]) == Decimal(row.network_fee), pair
    assert Decimal(p["fees"]["service"]) == Decimal(row.service), pair
    assert Decimal(p["final_amount"]) == Decimal(row.final), pair
    assert p["debit"] == {"amount": row.debit, "currency": row.fiat}, pair
    assert (p["rate"]["value"], p["rate"]["base"], p["rate"]["quote"]) == (
        row.rate,
        row.currency,
        row.fiat,
    ), pair


@pytest.mark.parametrize("fee_mode", FEE_MODES)
@pytest.mark.parametrize("fiat", FIATS)
async def test_every_crypto_is_paid_from_a_fiat_balance_as_priced_by_hand(
    fh: Harness, fiat: str, fee_mode: str
) -> None:
    h = fh
    m = await h.merchant(**{fiat: str(DEPOSIT)})
    rows = rows_of(fiat, fee_mode)
    made: list[dict[str, Any]] = []
    for row in rows:
        body = {
            "amount": "100",
            "currency": fiat,
            "payout_currency": row.currency,
            "network": row.network,
            "balance_currency": fiat,
            "fee_mode": fee_mode,
            "address": ADDRESSES[row.network],
        }
        r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
        assert r.status_code == 201, (row, r.text)
        assert_quoted(r.json(), row)
        made.append(r.json())

    debits = sum((Decimal(row.debit) for row in rows), Decimal(0))
    bal = (await h.balances(m))[fiat]
    assert (Decimal(bal["held"]), Decimal(bal["balance"])) == (debits, DEPOSIT)

    before = await system_balances(h)
    await h.settle()
    for row, p in zip(rows, made, strict=True):
        r = await h.client.get(f"/v1/payouts/{p['id']}", headers=m.headers)
        paid = r.json()
        assert paid["status"] == "paid", (row, paid)
        for key in ("payout_amount", "fees", "final_amount", "debit", "rate"):
            assert paid[key] == p[key], (row, key)
    after = await system_balances(h)

    # the fiat balance lost exactly the quoted debits, and holds nothing any more
    bal = (await h.balances(m))[fiat]
    assert bal == {
        "currency": fiat,
        "available": f"{DEPOSIT - debits:.2f}",
        "held": "0.00",
        "balance": f"{DEPOSIT - debits:.2f}",
    }
    # the exchange took the fiat and paid out each crypto the payout cost; the operator
    # earned the service fee (no rounding dust stays in a converted payout's currency)
    assert moved(before, after, f"exchange:{fiat}") == debits
    for row in rows:
        assert moved(before, after, f"exchange:{row.currency}") == -row.charged, row
        assert moved(before, after, f"service_fees:{row.currency}") == Decimal(row.service), row
    # and the chain carried what the recipients get
    outputs = await sandbox_outputs(h, m)
    for row in rows:
        sent = outputs[(row.network, row.currency)]
        assert sent == [(ADDRESSES[row.network], Decimal(row.final))], row

    report = await h.ledger_check()
    assert report["ok"], report["problems"]


# 0.01 BTC paid from USD: service 0.01 * 1.5 % = 0.00015, network fee 0.00002
#   charged 0.01 + 0.00002 + 0.00015 = 0.01017 BTC * 65000 = 661.05 USD
BTC_FROM_USD = {"amount": "0.01", "currency": "BTC", "balance_currency": "USD"}
BTC_ADDR = ADDRESSES["BTC"]


async def test_a_usd_funded_payout_is_paid_and_a_cancelled_one_returns_the_usd(
    fh: Harness,
) -> None:
    h = fh
    m = await h.merchant(USD="1000")
    r = await h.client.post("/v1/quotes", headers=m.headers, json=BTC_FROM_USD)
    assert r.status_code == 200, r.text
    quoted = r.json()
    assert quoted["debit"] == {"amount": "661.05", "currency": "USD"}

    r = await h.client.post(
        "/v1/payouts", headers=m.headers, json={**BTC_FROM_USD, "address": BTC_ADDR}
    )
    assert r.status_code == 201, r.text
    p = r.json()
    assert p["debit"] == quoted["debit"]
    assert (p["final_amount"], p["rate"]["value"]) == ("0.01000000", "65000")
    usd = (await h.balances(m))["USD"]
    assert (usd["available"], usd["held"], usd["balance"]) == ("338.95", "661.05", "1000.00")

    before = await system_balances(h)
    await h.settle()
    r = await h.client.get(f"/v1/payouts/{p['id']}", headers=m.headers)
    assert r.json()["status"] == "paid"
    usd = (await h.balances(m))["USD"]
    assert (usd["available"], usd["held"], usd["balance"]) == ("338.95", "0.00", "338.95")
    after = await system_balances(h)
    assert moved(before, after, "exchange:USD") == Decimal("661.05")
    assert moved(before, after, "exchange:BTC") == Decimal("-0.01017")
    assert (await sandbox_outputs(h, m))[("BTC", "BTC")] == [(BTC_ADDR, Decimal("0.01"))]
    report = await h.ledger_check()
    assert report["ok"], report["problems"]

    # 0.005 BTC: 0.005 + 0.00002 + 0.000075 = 0.005095 * 65000 = 331.175 -> up: 331.18
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={**BTC_FROM_USD, "amount": "0.005", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["debit"] == {"amount": "331.18", "currency": "USD"}
    usd = (await h.balances(m))["USD"]
    assert (usd["available"], usd["held"]) == ("7.77", "331.18")
    r = await h.client.post(f"/v1/payouts/{second['id']}/cancel", headers=m.headers)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    usd = (await h.balances(m))["USD"]
    assert (usd["available"], usd["held"], usd["balance"]) == ("338.95", "0.00", "338.95")
    # more than the USD balance holds: refused in the seeds' words, nothing held
    r = await h.client.post(
        "/v1/payouts", headers=m.headers, json={**BTC_FROM_USD, "address": BTC_ADDR}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == "Not enough balance for convert USD to BTC"
    assert (await h.balances(m))["USD"]["held"] == "0.00"
    report = await h.ledger_check()
    assert report["ok"], report["problems"]


async def test_the_admin_api_deposits_fiat(fh: Harness) -> None:
    h = fh
    m = await h.merchant()
    for currency, given, shown in (("usd", "1000.5", "1000.50"), ("EUR", "20", "20.00")):
        r = await h.client.post(
            "/v1/admin/deposits",
            headers=h.admin,
            json={"merchant_id": m.id, "currency": currency, "amount": given},
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert (body["currency"], body["amount"]) == (currency.upper(), shown)
        bal = (await h.balances(m))[currency.upper()]
        assert (bal["available"], bal["held"], bal["balance"]) == (shown, "0.00", shown)
    # cents only
    r = await h.client.post(
        "/v1/admin/deposits",
        headers=h.admin,
        json={"merchant_id": m.id, "currency": "USD", "amount": "0.001"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_amount", r.text
    # a currency neither payoutd nor the rates file knows
    r = await h.client.post(
        "/v1/admin/deposits",
        headers=h.admin,
        json={"merchant_id": m.id, "currency": "GBP", "amount": "1"},
    )
    assert r.status_code == 422 and r.json()["error"]["code"] == "currency_not_found", r.text
    assert set(await h.balances(m)) == {"USD", "EUR"}
    report = await h.ledger_check()
    assert report["ok"], report["problems"]


GBP_RATES = """\
[rates]
"USDT/USD" = "1"
"GBP/USD" = "1.25"
"""


async def test_a_fiat_the_rates_file_prices_is_a_balance_too(
    database_url: str | None, tmp_path: Path
) -> None:
    """GBP is not one of payoutd's currencies; a rates file that prices it makes it one
    (Context.extra_fiat), kept in pence and able to pay."""
    rates = tmp_path / "rates.toml"
    rates.write_text(GBP_RATES)
    settings = support.test_settings(tmp_path, database_url, rates_file=rates)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant()
        r = await h.client.post(
            "/v1/admin/deposits",
            headers=h.admin,
            json={"merchant_id": m.id, "currency": "gbp", "amount": "500"},
        )
        assert r.status_code == 201, r.text
        assert r.json()["amount"] == "500.00"
        # 100 USDT on TRON from GBP, no service fee, network fee 1 USDT:
        #   charged 101 USDT; 1 USDT = 1 / 1.25 = 0.8 GBP -> 80.80 GBP
        r = await h.client.post(
            "/v1/payouts",
            headers=m.headers,
            json={
                "amount": "100",
                "currency": "USDT",
                "network": "TRON",
                "balance_currency": "GBP",
                "address": ADDRESSES["TRON"],
            },
        )
        assert r.status_code == 201, r.text
        assert r.json()["debit"] == {"amount": "80.80", "currency": "GBP"}
        await h.settle()
        assert (await h.balances(m))["GBP"] == {
            "currency": "GBP",
            "available": "419.20",
            "held": "0.00",
            "balance": "419.20",
        }
        report = await h.ledger_check()
        assert report["ok"], report["problems"]
