"""The four funding modes times both fee modes, priced by hand (DESIGN §4), on SQLite and
PostgreSQL.

Every expected amount below is worked out by hand in the comments from the rates file
written by the test, the operator's service fee and the sandbox chain's fee table
(src/payoutd/chains/sandbox.py); nothing is computed by calling payoutd. Each case then
pays the payout on the sandbox chain and checks the balance, the ledger's exchange legs
and the ledger check.

Fixed inputs:
  rates:        1 LTC = 83 USD, 1 LTC = 83.5 USDT (quoted directly, so the debit rate
                differs from the payout rate), 1 USDT = 1 USD, 1 EUR = 1.25 USD
  service fee:  1.5 % + 0.01, in the currency paid out (LTC)
  network fee:  LTC is native on the LTC network and does not price `priority`:
                BASE_FEE["LTC"] * PRIORITY_FACTOR["recommended"] = 0.0001 * 1 = 0.0001 LTC
  decimals:     LTC 8, USDT 6; what the recipient gets rounds down, what the merchant
                pays rounds up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from payoutd.store.tables import ledger_accounts
from tests import support
from tests.support import Harness

LTC_ADDR = "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
DEPOSIT = {"LTC": Decimal("10"), "USDT": Decimal("500")}

RATES = """\
[rates]
"LTC/USD" = "83"
"LTC/USDT" = "83.5"
"USDT/USD" = "1"
"EUR/USD" = "1.25"
"""


@dataclass(frozen=True)
class Case:
    id: str
    body: dict[str, str]
    fee_mode: str
    payout_amount: str
    network: str
    service: str
    total: str
    final: str
    debit: str
    debit_currency: str
    rate: str | None  # rate.value as the API shows it
    rate_quote: str | None

    @property
    def charged(self) -> Decimal:
        """final + fees: what the payout costs in LTC."""
        return Decimal(self.final) + Decimal(self.total)


# Mode 1: 1.23456789 LTC from the LTC balance. No conversion.
#   payout_amount = 1.23456789
#   service = 1.23456789 * 1.5 / 100 + 0.01 = 0.01851851835 + 0.01 = 0.02851851835
#           -> rounded up to 8 decimals: 0.02851852
#   total = 0.0001 + 0.02851852 = 0.02861852
#   on_top:      final = 1.23456789, debit = 1.23456789 + 0.02861852 = 1.26318641 LTC
#   from_amount: final = 1.23456789 - 0.02861852 = 1.20594937, debit = 1.23456789 LTC
#
# Mode 2: 123.45 USD sent as LTC, paid from the LTC balance, at 1 LTC = 83 USD.
#   payout_amount = 123.45 / 83 = 1.487349397... -> rounded down: 1.48734939
#     (83 * 1.48734939 = 123.44999937 <= 123.45 < 83 * 1.48734940 = 123.4500002)
#   service = 1.48734939 * 0.015 + 0.01 = 0.02231024085 + 0.01 = 0.03231024085
#           -> rounded up: 0.03231025
#   total = 0.0001 + 0.03231025 = 0.03241025
#   on_top:      final = 1.48734939, debit = 1.48734939 + 0.03241025 = 1.51975964 LTC
#   from_amount: final = 1.48734939 - 0.03241025 = 1.45493914, debit = 1.48734939 LTC
#
# Mode 3: as mode 2, but the USDT balance pays at 1 LTC = 83.5 USDT.
#   on_top:      1.51975964 * 83.5 = 126.14005012 + 0.75987982 = 126.89992994
#                -> rounded up to 6 decimals: 126.899930 USDT
#   from_amount: 1.48734939 * 83.5 = 123.44999937 + 0.743674695 = 124.193674065
#                -> rounded up: 124.193675 USDT
#
# Mode 4: 1.23456789 LTC (amounts as mode 1) paid from the USDT balance at 83.5.
#   on_top:      1.26318641 * 83.5 = 104.84447203 + 0.631593205 = 105.476065235
#                -> rounded up: 105.476066 USDT
#   from_amount: 1.23456789 * 83.5 = 102.46913487 + 0.617283945 = 103.086418815
#                -> rounded up: 103.086419 USDT
CRYPTO = {"amount": "1.23456789", "currency": "LTC"}
FIAT = {"amount": "123.45", "currency": "USD", "payout_currency": "LTC"}
FROM_USDT = {"balance_currency": "USDT"}

CASES = [
    Case(
        "1-crypto-own-balance",
        CRYPTO,
        "on_top",
        "1.23456789",
        "0.00010000",
        "0.02851852",
        "0.02861852",
        "1.23456789",
        "1.26318641",
        "LTC",
        None,
        None,
    ),
    Case(
        "1-crypto-own-balance",
        CRYPTO,
        "from_amount",
        "1.23456789",
        "0.00010000",
        "0.02851852",
        "0.02861852",
        "1.20594937",
        "1.23456789",
        "LTC",
        None,
        None,
    ),
    Case(
        "2-fiat-from-crypto",
        FIAT,
        "on_top",
        "1.48734939",
        "0.00010000",
        "0.03231025",
        "0.03241025",
        "1.48734939",
        "1.51975964",
        "LTC",
        "83",
        "USD",
    ),
    Case(
        "2-fiat-from-crypto",
        FIAT,
        "from_amount",
        "1.48734939",
        "0.00010000",
        "0.03231025",
        "0.03241025",
        "1.45493914",
        "1.48734939",
        "LTC",
        "83",
        "USD",
    ),
    Case(
        "3-fiat-from-usdt",
        {**FIAT, **FROM_USDT},
        "on_top",
        "1.48734939",
        "0.00010000",
        "0.03231025",
        "0.03241025",
        "1.48734939",
        "126.899930",
        "USDT",
        "83.5",
        "USDT",
    ),
    Case(
        "3-fiat-from-usdt",
        {**FIAT, **FROM_USDT},
        "from_amount",
        "1.48734939",
        "0.00010000",
        "0.03231025",
        "0.03241025",
        "1.45493914",
        "124.193675",
        "USDT",
        "83.5",
        "USDT",
    ),
    Case(
        "4-crypto-from-usdt",
        {**CRYPTO, **FROM_USDT},
        "on_top",
        "1.23456789",
        "0.00010000",
        "0.02851852",
        "0.02861852",
        "1.23456789",
        "105.476066",
        "USDT",
        "83.5",
        "USDT",
    ),
    Case(
        "4-crypto-from-usdt",
        {**CRYPTO, **FROM_USDT},
        "from_amount",
        "1.23456789",
        "0.00010000",
        "0.02851852",
        "0.02861852",
        "1.20594937",
        "103.086419",
        "USDT",
        "83.5",
        "USDT",
    ),
]


def write_rates(directory: Path, text: str = RATES) -> Path:
    path = directory / "rates.toml"
    path.write_text(text)
    return path


@pytest.fixture
async def fh(database_url: str | None, tmp_path: Path) -> AsyncIterator[Harness]:
    """A harness with the rates file above and a service fee of 1.5 % + 0.01."""
    settings = support.test_settings(
        tmp_path,
        database_url,
        rates_file=write_rates(tmp_path),
        service_fee_percent=Decimal("1.5"),
        service_fee_fixed=Decimal("0.01"),
    )
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


async def system_balances(h: Harness) -> dict[str, Decimal]:
    """Every non-merchant ledger account's posted balance, by account id."""
    async with h.rt.db.read() as uow:
        rows = await uow.conn.execute(
            select(ledger_accounts.c.id, ledger_accounts.c.balance).where(
                ledger_accounts.c.merchant_id.is_(None)
            )
        )
        return {row[0]: Decimal(row[1]) for row in rows}


def moved(before: dict[str, Decimal], after: dict[str, Decimal], account: str) -> Decimal:
    return after.get(account, Decimal(0)) - before.get(account, Decimal(0))


def dec(balances: dict[str, dict[str, str]], currency: str, key: str) -> Decimal:
    return Decimal(balances[currency][key])


@pytest.mark.parametrize("case", CASES, ids=[f"{c.id}-{c.fee_mode}" for c in CASES])
async def test_funding_mode_is_priced_and_paid_exactly(fh: Harness, case: Case) -> None:
    h = fh
    m = await h.merchant(**{cur: str(amount) for cur, amount in DEPOSIT.items()})
    body: dict[str, Any] = {**case.body, "fee_mode": case.fee_mode, "address": LTC_ADDR}
    r = await h.client.post("/v1/payouts", headers=m.headers, json=body)
    assert r.status_code == 201, r.text
    p = r.json()

    assert p["status"] == "queued"
    assert (p["payout_currency"], p["network"], p["fee_mode"]) == ("LTC", "LTC", case.fee_mode)
    assert Decimal(p["payout_amount"]) == Decimal(case.payout_amount)
    assert Decimal(p["fees"]["network"]) == Decimal(case.network)
    assert Decimal(p["fees"]["service"]) == Decimal(case.service)
    assert Decimal(p["fees"]["total"]) == Decimal(case.total)
    assert Decimal(p["final_amount"]) == Decimal(case.final)
    assert Decimal(p["debit"]["amount"]) == Decimal(case.debit)
    assert p["debit"]["currency"] == case.debit_currency
    assert p["rate"]["value"] == case.rate
    assert p["rate"]["quote"] == case.rate_quote
    if case.rate is not None:
        assert Decimal(p["rate"]["value"]) == Decimal(case.rate)
        assert p["rate"]["base"] == "LTC" and p["rate"]["source"] == "static"

    # the debit is held, nothing else moves
    debit = Decimal(case.debit)
    other = "LTC" if case.debit_currency == "USDT" else "USDT"
    bal = await h.balances(m)
    assert dec(bal, case.debit_currency, "held") == debit
    assert dec(bal, case.debit_currency, "available") == DEPOSIT[case.debit_currency] - debit
    assert dec(bal, case.debit_currency, "balance") == DEPOSIT[case.debit_currency]
    assert dec(bal, other, "held") == 0
    assert dec(bal, other, "available") == DEPOSIT[other]

    before = await system_balances(h)
    await h.settle()
    r = await h.client.get(f"/v1/payouts/{p['id']}", headers=m.headers)
    paid = r.json()
    assert paid["status"] == "paid", paid
    # paying changes none of the quoted numbers (a from_amount LTC payout pays its real
    # share of the batch fee, and alone in its batch that share is BASE_FEE exactly)
    for key in ("payout_amount", "fees", "final_amount", "debit", "rate"):
        assert paid[key] == p[key], key

    bal = await h.balances(m)
    assert dec(bal, case.debit_currency, "balance") == DEPOSIT[case.debit_currency] - debit
    assert dec(bal, case.debit_currency, "available") == DEPOSIT[case.debit_currency] - debit
    assert dec(bal, case.debit_currency, "held") == 0
    assert dec(bal, other, "balance") == DEPOSIT[other]

    after = await system_balances(h)
    # the operator earns exactly the service fee (the debit leaves no rounding dust here)
    assert moved(before, after, "service_fees:LTC") == Decimal(case.service)
    if case.debit_currency == "USDT":
        # the conversion desk takes the USDT debit and pays out the LTC it costs
        assert moved(before, after, "exchange:USDT") == debit
        assert moved(before, after, "exchange:LTC") == -case.charged
    else:
        assert "exchange:USDT" not in after and "exchange:LTC" not in after

    report = await h.ledger_check()
    assert report["ok"], report["problems"]


async def test_a_merchant_fee_applies_to_that_merchant_and_currency_only(fh: Harness) -> None:
    """`PUT /v1/admin/merchants/{id}/fees/{currency}` overrides the operator's default
    (1.5 % + 0.01 here) for one merchant and one currency."""
    h = fh
    a = await h.merchant("A", LTC="10", BTC="1")
    b = await h.merchant("B", LTC="10")
    r = await h.client.put(
        f"/v1/admin/merchants/{a.id}/fees/ltc",
        headers=h.admin,
        json={"percent": "0.5", "fixed": "0.002"},
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"merchant_id": a.id, "currency": "LTC", "percent": "0.5", "fixed": "0.002"}
    # a merchant key may not set fees
    r = await h.client.put(
        f"/v1/admin/merchants/{a.id}/fees/LTC", headers=a.headers, json={"percent": "0"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden_scope"
    r = await h.client.put(
        "/v1/admin/merchants/nope/fees/LTC", headers=h.admin, json={"percent": "0"}
    )
    assert r.status_code == 404 and r.json()["error"]["code"] == "merchant_not_found"

    body = {**CRYPTO, "address": LTC_ADDR}
    # A: 1.23456789 * 0.5 / 100 + 0.002 = 0.006172839450 + 0.002 = 0.00817283945
    #    -> rounded up: 0.00817284; debit = 1.23456789 + 0.0001 + 0.00817284 = 1.24284073
    r = await h.client.post("/v1/payouts", headers=a.headers, json=body)
    assert r.status_code == 201, r.text
    assert Decimal(r.json()["fees"]["service"]) == Decimal("0.00817284")
    assert Decimal(r.json()["debit"]["amount"]) == Decimal("1.24284073")
    # the quote uses the same fee
    r = await h.client.post("/v1/quotes", headers=a.headers, json=CRYPTO)
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["fees"]["service"]) == Decimal("0.00817284")

    # B keeps the default: 0.02851852 (see mode 1 above)
    r = await h.client.post("/v1/payouts", headers=b.headers, json=body)
    assert r.status_code == 201, r.text
    assert Decimal(r.json()["fees"]["service"]) == Decimal("0.02851852")
    assert Decimal(r.json()["debit"]["amount"]) == Decimal("1.26318641")

    # A's BTC payouts keep the default too: 1.5 % of 0.1 + 0.01 = 0.0015 + 0.01 = 0.0115
    r = await h.client.post(
        "/v1/quotes", headers=a.headers, json={"amount": "0.1", "currency": "BTC"}
    )
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["fees"]["service"]) == Decimal("0.0115")

    # setting it again replaces it
    r = await h.client.put(
        f"/v1/admin/merchants/{a.id}/fees/LTC", headers=h.admin, json={"percent": "0", "fixed": "0"}
    )
    assert r.status_code == 200, r.text
    r = await h.client.post("/v1/quotes", headers=a.headers, json=CRYPTO)
    assert Decimal(r.json()["fees"]["service"]) == 0
    report = await h.ledger_check()
    assert report["ok"], report["problems"]
