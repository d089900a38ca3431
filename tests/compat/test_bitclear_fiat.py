"""Bitclear's fiat statement (issue 20, must-show): a merchant holding USD is charged in
USD for a `priceCurrency: USD` payout, and its USD balance moves by the `priceAmount`
the offer showed, while the crypto balance is untouched. Needs fiat balances
(branch i20-fiat): `h.deposit(m, "USD", ...)` must credit a USD balance."""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal
from typing import Any

import pytest

from tests.compat.bitclear_client import BitclearClient
from tests.compat.bitclear_support import A1, BTC_USD, SATOSHI, answer, clean, is_number, native
from tests.support import Harness, Merchant


async def amounts(h: Harness, m: Merchant, currency: str) -> tuple[Decimal, Decimal]:
    """(balance, held) of one currency."""
    b = (await h.balances(m))[currency]
    return Decimal(b["balance"]), Decimal(b["held"])


@pytest.mark.parametrize(
    ("asked", "sent_at_least"),
    [
        # the seed's refund: exact crypto, priced in USD (0.01 BTC is 650.00 USD)
        ({"transferAmount": Decimal("0.01")}, Decimal("0.01") * BTC_USD),
        # the seed's contractor: 100 USD's worth of BTC
        ({"priceAmount": 100}, Decimal(100)),
    ],
)
async def test_the_usd_statement_is_debited_by_price_amount(
    h: Harness, asked: dict[str, Any], sent_at_least: Decimal
) -> None:
    m = await h.merchant(BTC="1")
    await h.deposit(m, "USD", "1000")
    c = BitclearClient(h.client, m.key)
    btc_before = await amounts(h, m, "BTC")
    usd_balance, _ = await amounts(h, m, "USD")

    p = answer(
        await c.create(transferCurrency="BTC", priceCurrency="USD", address=A1, **asked), 201
    )
    price = p["priceAmount"]
    assert is_number(price) and price >= sent_at_least  # what is sent, and its fees
    if "priceAmount" in asked:
        assert p["transferAmount"] == (Decimal(100) / BTC_USD).quantize(SATOSHI, ROUND_FLOOR)
        # the seed: "a new entry on the USD statement for fiatTotalAmount = 100"
        assert price == Decimal(100)
    debit = (await native(h, m, p["payoutId"]))["debit"]
    assert debit["currency"] == "USD" and Decimal(debit["amount"]) == price
    assert await amounts(h, m, "USD") == (usd_balance, Decimal(0))  # an offer holds nothing

    assert answer(await c.approve(p["payoutId"]))["status"] == "QUEUED"
    assert await amounts(h, m, "USD") == (usd_balance, price)
    await h.settle()
    assert answer(await c.get(p["payoutId"]))["status"] == "SENT"
    # one entry on the USD statement, for priceAmount; the BTC balance never moved
    assert await amounts(h, m, "USD") == (usd_balance - price, Decimal(0))
    assert await amounts(h, m, "BTC") == btc_before
    await clean(h)
