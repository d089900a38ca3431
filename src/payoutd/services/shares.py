"""What a merchant sees of a chain transaction that carries several merchants' payouts
(one batch): its own payouts, its own outputs and its own share of the fee, never the
others' addresses, amounts, memos or the transaction's totals. The operator (no
merchant) sees the whole transaction."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal, localcontext
from typing import Any

from payoutd.domain.assets import CURRENCIES
from payoutd.domain.fees import split_fee
from payoutd.domain.money import CONTEXT
from payoutd.domain.payout import Payout
from payoutd.services.views import amount

ZERO = Decimal(0)


def fee_share(
    members: Sequence[Payout], merchant_id: str, fee: Decimal, fee_currency: str
) -> Decimal:
    """`merchant_id`'s part of the fee of a transaction carrying `members`: the fee split
    among the payouts in proportion to the network fee each was charged (what its
    priority and asset cost; equally when none was charged), the shares adding up to
    the fee exactly."""
    ordered = sorted(members, key=lambda p: p.id)  # who gets the rounding: the same each read
    if not ordered:
        return ZERO
    weights = [p.fee_network for p in ordered]
    if sum(weights, ZERO) <= 0:
        weights = [Decimal(1)] * len(ordered)
    shares = split_fee(weights, fee, CURRENCIES[fee_currency].decimals)
    with localcontext(CONTEXT):
        return sum(
            (s for p, s in zip(ordered, shares, strict=True) if p.merchant_id == merchant_id), ZERO
        )


def own_outputs(
    outputs: Sequence[dict[str, Any]],
    members: Sequence[Payout],
    merchant_id: str,
    currency: str,
    network: str,
) -> list[dict[str, Any]]:
    """The outputs of a transaction (`address`, `amount` and `memo` each) that pay
    `merchant_id`'s payouts. An output merged from several merchants' payouts (one
    address and memo) shows only what this merchant's payouts put into it."""
    by_destination: dict[tuple[str, str | None], list[Payout]] = {}
    for p in members:
        by_destination.setdefault((p.address, p.memo), []).append(p)
    shown = []
    for output in outputs:
        payers = by_destination.get((output["address"], output.get("memo")), [])
        mine = [p for p in payers if p.merchant_id == merchant_id]
        if not mine:
            continue
        if len(mine) < len(payers):
            with localcontext(CONTEXT):
                total = sum((p.final_amount for p in mine), ZERO)
            output = {**output, "amount": amount(total, currency, network)}
        shown.append(output)
    return shown
