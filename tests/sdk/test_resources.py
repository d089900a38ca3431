"""The SDK's read and pricing calls against a live payoutd: quotes, balances, limits,
assets and API keys, typed (amounts as Decimal), sync and async."""

from __future__ import annotations

from decimal import Decimal

import pytest
from payoutd_client import (
    ApiKey,
    Asset,
    AsyncClient,
    Balance,
    Client,
    CurrencyNotFound,
    Limits,
    Quote,
)

from tests.sdk.conftest import BTC_ADDRESS, Live

pytestmark = pytest.mark.e2e


def test_quotes_balances_limits_assets_and_keys(live: Live) -> None:
    with Client(live.merchant(funds="0.5"), live.url) as payoutd:
        quote = payoutd.quotes.create(amount=Decimal("0.01"), currency="BTC", address=BTC_ADDRESS)
        assert isinstance(quote, Quote) and quote.amount == Decimal("0.01")
        assert quote.debit.currency == "BTC" and quote.debit.amount >= quote.amount
        # fee_mode on_top: the recipient gets the amount, the balance pays the fees too
        assert quote.fee_mode == "on_top" and quote.final_amount == quote.amount
        assert quote.debit.amount == quote.amount + quote.fees.total
        assert list(payoutd.payouts.list()) == []  # a quote creates nothing

        [balance] = list(payoutd.balances.list())
        assert isinstance(balance, Balance)
        assert (balance.currency, balance.available, balance.held) == (
            "BTC",
            Decimal("0.5"),
            Decimal(0),
        )

        limits = payoutd.limits.get("BTC")
        assert isinstance(limits, Limits) and limits.currency == "BTC"
        assert limits.available == Decimal("0.5")
        assert "BTC" in {a.network for a in limits.assets}

        assets = list(payoutd.assets.list())
        assert all(isinstance(a, Asset) for a in assets)
        btc = next(a for a in assets if (a.currency, a.network) == ("BTC", "BTC"))
        assert btc.decimals == 8 and isinstance(btc.min_amount, Decimal)

        keys = list(payoutd.api_keys.list())
        assert len(keys) == 1 and isinstance(keys[0], ApiKey) and "payouts" in keys[0].scopes

        with pytest.raises(CurrencyNotFound) as unknown:
            payoutd.limits.get("NOPE")
        assert unknown.value.status == 422 and unknown.value.code == "currency_not_found"


async def test_async_quotes_balances_limits_assets_and_keys(live: Live) -> None:
    async with AsyncClient(live.merchant(funds="0.5"), live.url) as payoutd:
        quote = await payoutd.quotes.create(amount="0.01", currency="BTC")
        assert quote.amount == Decimal("0.01") and quote.address is None
        balances = [b async for b in payoutd.balances.list()]
        assert [(b.currency, b.available) for b in balances] == [("BTC", Decimal("0.5"))]
        assert (await payoutd.limits.get("BTC")).available == Decimal("0.5")
        page = await payoutd.assets.list().page()
        assert page.next_cursor is None and any(a.currency == "BTC" for a in page.data)
        assert [k.scopes async for k in payoutd.api_keys.list()] == [["payouts", "read"]]
