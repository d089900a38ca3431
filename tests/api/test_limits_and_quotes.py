"""`GET /v1/limits` and `POST /v1/quotes` against a rates file and balances the test
writes, with every expected number worked out by hand (DESIGN §4), and the refusals a
merchant meets when pricing a payout, on SQLite and PostgreSQL.

Fixed inputs:
  rates:     1 BTC = 60000 USD, 1 ETH = 3000 USD, 1 LTC = 80 USD, 1 USDT = 0.998 USD,
             1 EUR = 1.25 USD (every other pair is a cross through USD)
  floor:     min_payout_eur = 20 (Bitclear's minPayoutAmount)
  fees:      no service fee; BTC network fee at `recommended` = BASE_FEE["BTC"] = 0.00002,
             LTC = 0.0001 (src/payoutd/chains/sandbox.py)
  balances:  BTC 0.5, USDT 1234.56, ETH 2
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests import support
from tests.support import Harness, Merchant

BTC_ADDR = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
LTC_ADDR = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
TRON_ADDR = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"

RATES = """\
[rates]
"BTC/USD" = "60000"
"ETH/USD" = "3000"
"LTC/USD" = "80"
"USDT/USD" = "0.998"
"EUR/USD" = "1.25"
"""
DEPOSITS = {"BTC": "0.5", "USDT": "1234.56", "ETH": "2"}


@pytest.fixture
async def lh(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    rates = tmp_path / "rates.toml"
    rates.write_text(RATES)
    settings = support.test_settings(
        tmp_path, database_url, rates_file=rates, min_payout_eur=Decimal(20)
    )

    async def no_server_errors(response: Any) -> None:
        assert response.status_code < 500, (
            f"{response.request.method} {response.request.url} -> {response.status_code}"
        )

    async with support.harness(settings, truncate=database_url is not None) as harness:
        harness.client.event_hooks["response"].append(no_server_errors)
        yield harness
        report = await harness.ledger_check()
        assert report["ok"], report["problems"]


async def limits(h: Harness, m: Merchant, currency: str, **params: str) -> dict[str, Any]:
    r = await h.client.get("/v1/limits", headers=m.headers, params={"currency": currency, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def refusal(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    assert error["code"] == code, error
    return error


async def test_limits_match_the_rates_file_and_balances(lh: Harness) -> None:
    h = lh
    m = await h.merchant(**DEPOSITS)

    # BTC: every balance can pay a BTC payout, its own as it is, the others converted.
    #   USDT -> BTC = 0.998 / 60000, so 1234.56 USDT = 1232.09088 / 60000 = 0.020534848 BTC
    #   ETH -> BTC = 3000 / 60000 = 0.05, so 2 ETH = 0.1 BTC
    #   available = 0.5 + 0.020534848 + 0.1 = 0.620534848 -> rounded down to 8 decimals
    #   min = 20 EUR = 20 * 1.25 / 60000 = 25 / 60000 = 0.000416666... -> rounded up
    assert await limits(h, m, "BTC") == {
        "currency": "BTC",
        "available": "0.62053484",
        "min_payout_amount": "0.00041667",
        "rate_source": "static",
        "assets": [{"network": "BTC", "min_amount": "0.00001", "max_amount": "100"}],
    }

    # USD: every balance converted.
    #   0.5 * 60000 + 1234.56 * 0.998 + 2 * 3000 = 30000 + 1232.09088 + 6000 = 37232.09088
    #   min = 20 * 1.25 = 25
    assert await limits(h, m, "usd") == {
        "currency": "USD",
        "available": "37232.09",
        "min_payout_amount": "25.00",
        "rate_source": "static",
        "assets": [],
    }

    # EUR: the same at 1 USD = 0.8 EUR: 37232.09088 * 0.8 = 29785.672704
    lim = await limits(h, m, "EUR")
    assert (lim["available"], lim["min_payout_amount"]) == ("29785.67", "20.00")

    # USDT: its own balance plus BTC and ETH converted at 1 USDT = 0.998 USD:
    #   (0.5 * 60000 + 2 * 3000) / 0.998 = 36000 / 0.998 = 36072.144288577...
    #   available = 1234.56 + 36072.144288577... = 37306.704288577... -> 37306.704288
    # min = 25 / 0.998 = 25.0501002... -> 25.050101
    # and one min/max per network the seeds list for USDT
    assert await limits(h, m, "USDT") == {
        "currency": "USDT",
        "available": "37306.704288",
        "min_payout_amount": "25.050101",
        "rate_source": "static",
        "assets": [
            {"network": net, "min_amount": "0.5", "max_amount": "10000000"}
            for net in ("ETH", "TRON", "BSC", "POLYGON", "SOL", "TON")
        ],
    }

    # ETH: its own balance (2) plus USDT: 1232.09088 / 3000 = 0.41069696, plus BTC:
    # 0.5 * 60000 / 3000 = 10
    lim = await limits(h, m, "ETH")
    assert Decimal(lim["available"]) == Decimal("12.41069696")

    # what a payout holds is no longer available
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.1", "currency": "BTC", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text
    assert r.json()["debit"] == {"amount": "0.10002000", "currency": "BTC"}
    # BTC: 0.5 - 0.10002 + 0.020534848 + 0.1 = 0.520514848
    assert (await limits(h, m, "BTC"))["available"] == "0.52051484"
    # USD: 0.39998 * 60000 + 1232.09088 + 6000 = 23998.8 + 7232.09088 = 31230.89088
    assert (await limits(h, m, "USD"))["available"] == "31230.89"

    # refusals
    r = await h.client.get(
        "/v1/limits", headers=m.headers, params={"currency": "BTC", "rate_source": "Exmo"}
    )
    refusal(r, 422, "rate_source_not_available")
    r = await h.client.get("/v1/limits", headers=m.headers, params={"currency": "XYZ"})
    refusal(r, 422, "currency_not_found")
    # TRX has no rate in the file: nothing can say what USDT is worth in it
    r = await h.client.get("/v1/limits", headers=m.headers, params={"currency": "TRX"})
    assert refusal(r, 422, "rate_unavailable")["message"].startswith("Error convert to_currency")


async def test_a_quote_prices_like_a_payout_and_changes_nothing(lh: Harness) -> None:
    h = lh
    m = await h.merchant(**DEPOSITS)
    before = await h.balances(m)
    body = {
        "amount": "100",
        "currency": "USD",
        "payout_currency": "BTC",
        "balance_currency": "USDT",
    }
    r = await h.client.post("/v1/quotes", headers=m.headers, json=body)
    assert r.status_code == 200, r.text
    quote = r.json()
    # 100 USD / 60000 = 0.0016666... -> 0.00166666 BTC; + 0.00002 network fee = 0.00168666
    # paid from USDT at 1 BTC = 60000 / 0.998 USDT:
    #   0.00168666 * 60000 / 0.998 = 101.1996 / 0.998 = 101.40240480... -> 101.402405
    assert quote["object"] == "quote"
    assert (quote["payout_currency"], quote["network"], quote["priority"]) == (
        "BTC",
        "BTC",
        "recommended",
    )
    assert Decimal(quote["payout_amount"]) == Decimal("0.00166666")
    assert Decimal(quote["fees"]["network"]) == Decimal("0.00002")
    assert Decimal(quote["fees"]["service"]) == 0
    assert Decimal(quote["fees"]["total"]) == Decimal("0.00002")
    assert Decimal(quote["final_amount"]) == Decimal("0.00166666")
    assert quote["debit"] == {"amount": "101.402405", "currency": "USDT"}
    # 60000 / 0.998 = 60120.240480961923847695|39... shown at 18 decimals
    assert quote["rate"] == {
        "value": "60120.240480961923847695",
        "base": "BTC",
        "quote": "USDT",
        "source": "static",
        "expires_at": quote["expires_at"],
    }

    # nothing was held or stored
    assert await h.balances(m) == before
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert r.json()["data"] == []

    # the payout with the same request costs exactly what the quote said
    r = await h.client.post("/v1/payouts", headers=m.headers, json={**body, "address": BTC_ADDR})
    assert r.status_code == 201, r.text
    payout = r.json()
    for key in ("payout_amount", "payout_currency", "network", "fees", "final_amount", "debit"):
        assert payout[key] == quote[key], key
    for key in ("value", "base", "quote", "source"):
        assert payout["rate"][key] == quote["rate"][key], key
    # and reads back the same from the database (PostgreSQL keeps 18 decimals)
    r = await h.client.get(f"/v1/payouts/{payout['id']}", headers=m.headers)
    assert r.json()["rate"] == payout["rate"]
    bal = await h.balances(m)
    assert Decimal(bal["USDT"]["held"]) == Decimal("101.402405")
    assert Decimal(bal["USDT"]["available"]) == Decimal("1234.56") - Decimal("101.402405")


async def test_fiat_balances_count_and_pay_like_any_other(lh: Harness) -> None:
    """USD and EUR balances are listed, counted by the limits of every currency and can
    pay (quotes and payouts with `balance_currency`), each in cents."""
    h = lh
    m = await h.merchant(BTC="0.5", USD="250.5", EUR="100")
    bal = await h.balances(m)
    assert bal["USD"] == {
        "currency": "USD",
        "available": "250.50",
        "held": "0.00",
        "balance": "250.50",
    }
    assert (bal["EUR"]["available"], bal["EUR"]["balance"]) == ("100.00", "100.00")

    # USD: 250.50 + 100 EUR * 1.25 + 0.5 BTC * 60000 = 250.5 + 125 + 30000 = 30375.5
    assert (await limits(h, m, "USD"))["available"] == "30375.50"
    # EUR: 250.50 * 0.8 + 100 + 30000 * 0.8 = 200.4 + 100 + 24000 = 24300.4
    assert (await limits(h, m, "EUR"))["available"] == "24300.40"
    # BTC: 0.5 + (250.5 + 125) / 60000 = 0.5 + 0.00625833... -> 0.50625833
    assert (await limits(h, m, "BTC"))["available"] == "0.50625833"

    # 0.004 BTC (240 USD, above the 25 USD floor) from USD: no service fee here,
    #   (0.004 + 0.00002) * 60000 = 241.2 USD
    body = {"amount": "0.004", "currency": "BTC", "balance_currency": "usd"}
    r = await h.client.post("/v1/quotes", headers=m.headers, json=body)
    assert r.status_code == 200, r.text
    assert r.json()["debit"] == {"amount": "241.20", "currency": "USD"}
    assert (r.json()["rate"]["value"], r.json()["rate"]["quote"]) == ("60000", "USD")
    r = await h.client.post("/v1/payouts", headers=m.headers, json={**body, "address": BTC_ADDR})
    assert r.status_code == 201, r.text
    assert r.json()["debit"] == {"amount": "241.20", "currency": "USD"}
    usd = (await h.balances(m))["USD"]
    assert (usd["available"], usd["held"], usd["balance"]) == ("9.30", "241.20", "250.50")
    # what the payout holds is no longer available: 9.30 + 125 + 30000 = 30134.3
    assert (await limits(h, m, "USD"))["available"] == "30134.30"

    # from EUR at 1 BTC = 60000 / 1.25 = 48000 EUR: 0.00402 * 48000 = 192.96 EUR, more
    # than the 100 EUR there is
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={**body, "balance_currency": "EUR", "address": BTC_ADDR},
    )
    error = refusal(r, 422, "insufficient_funds")
    assert error["message"] == "Not enough balance for convert EUR to BTC"
    assert (await h.balances(m))["EUR"]["held"] == "0.00"


async def test_the_20_eur_floor(lh: Harness) -> None:
    h = lh
    m = await h.merchant(**DEPOSITS)
    before = await h.balances(m)
    # 20 EUR = 0.00041667 BTC (rounded up, see the limits test)
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.00041666", "currency": "BTC", "address": BTC_ADDR},
    )
    error = refusal(r, 422, "amount_too_small")
    assert error["message"] == "Minimum amount 0.00041667 BTC"
    assert error["fields"] == {"amount": ["Minimum amount 0.00041667 BTC"]}
    # 20 USD is 16 EUR: refused, in the currency the merchant asked in
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "20", "currency": "USD", "payout_currency": "BTC", "address": BTC_ADDR},
    )
    assert refusal(r, 422, "amount_too_small")["message"] == "Minimum amount 25 USD"
    # the quote says the same
    r = await h.client.post(
        "/v1/quotes", headers=m.headers, json={"amount": "0.0004", "currency": "BTC"}
    )
    assert refusal(r, 422, "amount_too_small")["message"] == "Minimum amount 0.00041667 BTC"
    # LTC: 25 USD / 80 = 0.3125 LTC
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.3124", "currency": "LTC", "address": LTC_ADDR},
    )
    assert refusal(r, 422, "amount_too_small")["message"] == "Minimum amount 0.3125 LTC"
    assert await h.balances(m) == before

    # at the floor it is accepted
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "0.00041667", "currency": "BTC", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text
    assert Decimal(r.json()["debit"]["amount"]) == Decimal("0.00043667")
    # exactly 20 EUR's worth asked in fiat passes, though its BTC rounds down below
    # 0.00041667: the floor is compared on the amount asked, unrounded
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "25", "currency": "USD", "payout_currency": "BTC", "address": BTC_ADDR},
    )
    assert r.status_code == 201, r.text
    assert r.json()["payout_amount"] == "0.00041666"


async def test_refusals_when_pricing_a_payout(lh: Harness) -> None:
    h = lh
    m = await h.merchant(USDT="10", BTC="1")
    before = await h.balances(m)

    # 1 LTC (80 USD, above the floor) from USDT: (1 + 0.0001) * 80 / 0.998 = 80.16833...
    # USDT, more than the 10 USDT there is
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "1", "currency": "LTC", "balance_currency": "USDT", "address": LTC_ADDR},
    )
    error = refusal(r, 422, "insufficient_funds")
    assert error["message"] == "Not enough balance for convert USDT to LTC"
    assert error["fields"] == {"amount": ["Not enough balance for convert USDT to LTC"]}

    # TRX has no rate in the file
    r = await h.client.post(
        "/v1/payouts",
        headers=m.headers,
        json={"amount": "100", "currency": "USD", "payout_currency": "TRX", "address": TRON_ADDR},
    )
    error = refusal(r, 422, "rate_unavailable")
    assert error["message"].startswith("Error convert to_currency"), error
    assert "payout_currency" in error["fields"]
    r = await h.client.post(
        "/v1/quotes",
        headers=m.headers,
        json={"amount": "100", "currency": "USD", "payout_currency": "TRX"},
    )
    assert refusal(r, 422, "rate_unavailable")["message"].startswith("Error convert to_currency")

    # a rate source payoutd cannot serve (Cryptomus `course_source: Exmo`)
    for path, body in (
        (
            "/v1/payouts",
            {"amount": "0.1", "currency": "BTC", "address": BTC_ADDR, "rate_source": "Exmo"},
        ),
        ("/v1/quotes", {"amount": "0.1", "currency": "BTC", "rate_source": "Exmo"}),
    ):
        r = await h.client.post(path, headers=m.headers, json=body)
        error = refusal(r, 422, "rate_source_not_available")
        assert "Exmo" in error["message"], error
        assert "rate_source" in error["fields"]

    assert await h.balances(m) == before
    r = await h.client.get("/v1/payouts", headers=m.headers)
    assert r.json()["data"] == []
