"""The arithmetic of a batch: which payouts share an output, what each output carries,
how a fee the chain took out of an output is shared among its payouts, and the priority
a batch goes at. Pure: the executor (services/execution.py) asks the chain and records."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from payoutd.domain.assets import Asset
from payoutd.domain.fees import split_fee
from payoutd.domain.payout import Payout

PRIORITIES = ("economy", "recommended", "high", "highest")


@dataclass(frozen=True, slots=True)
class Output:
    address: str
    amount: Decimal
    memo: str | None = None
    # the recipient pays its share of the network fee out of this output (Bitcoin Core's
    # subtractFeeFromOutputs): payouts with fee_mode from_amount on a native coin
    subtract_fee: bool = False


def output_index(payouts: list[Payout]) -> dict[str, int]:
    """Which output of `build_outputs(payouts, ...)` carries each payout."""
    keys: dict[tuple[str, str | None], int] = {}
    found = {}
    for p in payouts:
        found[p.id] = keys.setdefault((p.address, p.memo), len(keys))
    return found


def subtracts_fee(p: Payout, asset: Asset, native: str) -> bool:
    """A from_amount payout of the network's own coin pays its real share of the network
    fee out of its output; a token cannot pay the fee in the native coin, so a token
    payout keeps the estimate it was charged (DESIGN §4)."""
    return p.fee_mode == "from_amount" and asset.contract is None and asset.currency == native


def gross(p: Payout, subtract: bool) -> Decimal:
    """What a payout puts into its output before the chain takes its fee share."""
    return p.final_amount + p.fee_network if subtract else p.final_amount


def build_outputs(payouts: list[Payout], subtract: bool) -> list[Output]:
    """One output per destination: payouts to the same address (and memo) are merged,
    as Bitclear does (1 BTC + 2 BTC to A1 is one 3 BTC output). Outputs keep the order
    of their first payout, so the same payouts always give the same outputs."""
    merged: OrderedDict[tuple[str, str | None], Decimal] = OrderedDict()
    for p in payouts:
        key = (p.address, p.memo)
        merged[key] = merged.get(key, Decimal(0)) + gross(p, subtract)
    return [
        Output(address, amount, memo, subtract_fee=subtract)
        for (address, memo), amount in merged.items()
    ]


def fee_shares(
    payouts: list[Payout],
    outputs: list[Output],
    output_amounts: Sequence[Decimal],
    index: dict[str, int],
    subtract: bool,
    decimals: int,
) -> dict[str, dict[str, Decimal]]:
    """For outputs that paid their own fee (`output_amounts`: what each output really
    carries after the chain took its fee): each payout's real network fee and what its
    recipient gets, shared within a merged output by gross amount."""
    if not subtract or not output_amounts:
        return {}
    found: dict[str, dict[str, Decimal]] = {}
    for o, output in enumerate(outputs):
        members = [p for p in payouts if index[p.id] == o]
        share = output.amount - output_amounts[o]
        if share < 0:
            raise ValueError(f"output {o} pays more than it was given")
        grosses = [gross(p, True) for p in members]
        for p, g, s in zip(members, grosses, split_fee(grosses, share, decimals), strict=True):
            found[p.id] = {"fee_network": s, "final_amount": g - s}
    return found


def batch_priority(payouts: list[Payout]) -> str | None:
    """A batch goes at the highest priority any of its payouts paid for."""
    given = [p.priority for p in payouts if p.priority]
    return max(given, key=PRIORITIES.index) if given else None
