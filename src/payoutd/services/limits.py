"""What a merchant can pay out in a currency (Bitclear's /v3/payout-limits)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from payoutd.domain.assets import ASSETS
from payoutd.domain.errors import field_error
from payoutd.domain.ledger import Balance
from payoutd.domain.money import CONTEXT, ROUND_CREDIT, ROUND_DEBIT, quantize
from payoutd.domain.rates import RateError
from payoutd.services.context import Context
from payoutd.services.payouts import min_payout_amount


@dataclass(frozen=True, slots=True)
class AssetLimit:
    network: str
    min_amount: Decimal
    max_amount: Decimal


@dataclass(frozen=True, slots=True)
class Limits:
    currency: str
    available: Decimal
    min_payout_amount: Decimal
    assets: list[AssetLimit]
    rate_source: str


async def limits(
    ctx: Context, currency_code: str, balances: list[Balance], rate_source: str | None = None
) -> Limits:
    cur = ctx.currency(currency_code)
    try:
        source = ctx.rates.resolve(rate_source)
    except RateError as exc:
        raise field_error("rate_source_not_available", "rate_source", str(exc)) from exc

    async def price(base: str) -> Decimal:
        if base == cur.code:
            return Decimal(1)
        try:
            return (await ctx.rates.rate(base, cur.code, source)).value
        except RateError as exc:
            raise field_error(
                "rate_unavailable", "currency", f"Error convert to_currency: {exc}"
            ) from exc

    # Every balance can fund a payout in any currency, its own as it is and any other
    # converted (domain.quotes.debit_currency), so every one counts, crypto or fiat.
    total = Decimal(0)
    for b in balances:
        if b.available > 0:
            total += CONTEXT.multiply(b.available, await price(b.currency))
    minimum = await min_payout_amount(ctx, cur.code, source)
    decimals = cur.decimals
    assets = [
        AssetLimit(net, a.min_amount, a.max_amount)
        for (c, net), a in ASSETS.items()
        if c == cur.code
    ]
    return Limits(
        currency=cur.code,
        available=quantize(total, decimals, ROUND_CREDIT),
        min_payout_amount=quantize(minimum, decimals, ROUND_DEBIT),
        assets=assets,
        rate_source=source,
    )


async def worth(ctx: Context, amount: Decimal, currency: str, target: str) -> Decimal | None:
    """What `amount` of `currency` is worth in `target` at the default rate source, or None
    when no rate prices the pair (a balance shown with its worth in USD)."""
    if currency == target:
        return amount
    try:
        rate = await ctx.rates.rate(currency, target, ctx.rates.resolve(None))
    except RateError:
        return None
    return CONTEXT.multiply(amount, rate.value)
