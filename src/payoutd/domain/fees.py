"""Fee math, in one place: the network fee, the operator's service fee, and how
`fee_mode` splits them between the balance and the recipient."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

from payoutd.domain.errors import field_error
from payoutd.domain.money import CONTEXT, ROUND_CREDIT, ROUND_DEBIT, quantize, quantize_exact

FEE_MODES: tuple[str, ...] = ("on_top", "from_amount")
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ServiceFee:
    """The operator's charge per payout (Calypso's `calypsoFee`): percent plus fixed,
    both in the currency paid out."""

    percent: Decimal = ZERO
    fixed: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Pricing:
    payout_amount: Decimal  # the amount before fees, in the payout currency
    fee_network: Decimal
    fee_service: Decimal
    final_amount: Decimal  # what the recipient gets
    charged: Decimal  # what the payout costs in the payout currency: final + fees

    @property
    def fee_total(self) -> Decimal:
        return self.fee_network + self.fee_service


def service_fee(amount: Decimal, schedule: ServiceFee, decimals: int) -> Decimal:
    # Exact in payoutd's 60-digit context: Python's default 28 digits would round the fee
    # half-even before it is rounded up, and could charge one unit less than is owed.
    with localcontext(CONTEXT):
        raw = amount * schedule.percent / Decimal(100) + schedule.fixed
    return quantize(max(raw, ZERO), decimals, ROUND_DEBIT)


def price(
    payout_amount: Decimal,
    *,
    decimals: int,
    network_fee: Decimal,
    service: ServiceFee,
    fee_mode: str,
) -> Pricing:
    """`on_top`: the recipient gets the amount, the balance pays amount + fees
    (Cryptomus `is_subtract: true`). `from_amount`: the fees come out of the amount."""
    if fee_mode not in FEE_MODES:
        raise field_error(
            "validation_error", "fee_mode", f"fee_mode must be one of {', '.join(FEE_MODES)}"
        )
    amount = quantize(payout_amount, decimals, ROUND_CREDIT)
    fee_network = quantize(network_fee, decimals, ROUND_DEBIT)
    fee_service = service_fee(amount, service, decimals)
    # Sums in payoutd's context too: amounts of more than 28 digits (18 decimals) would
    # otherwise round half-even in the caller's default context and lose their last units.
    with localcontext(CONTEXT):
        fees = fee_network + fee_service
        final = amount if fee_mode == "on_top" else amount - fees
        charged = final + fees
    if fee_mode != "on_top" and final <= 0:
        raise field_error("withdrawal_too_small", "amount")
    return Pricing(
        payout_amount=amount,
        fee_network=fee_network,
        fee_service=fee_service,
        final_amount=final,
        charged=charged,
    )


def split_fee(grosses: list[Decimal], fee: Decimal, decimals: int) -> list[Decimal]:
    """Share `fee` among payouts in proportion to their gross amounts (payouts merged into
    one output that pays its own fee). Shares round down; what rounding leaves goes to
    the largest payout, so the shares add up to the fee exactly."""
    total = sum(grosses, ZERO)
    if not grosses or total <= 0:
        raise ValueError("nothing to share the fee among")
    with localcontext(CONTEXT):
        shares = [quantize(fee * g / total, decimals, ROUND_CREDIT) for g in grosses]
        largest = max(range(len(grosses)), key=lambda i: grosses[i])
        shares[largest] += fee - sum(shares, ZERO)
    return shares


@dataclass(frozen=True, slots=True)
class Conversion:
    """A ramp's converted leg: what `amount` buys at the exact rate (rounded down), the
    operator's service fee on it (rounded up), and what the customer receives."""

    gross: Decimal
    fee: Decimal
    final_amount: Decimal


def convert_for_bank(
    amount: Decimal, exact_rate: Fraction, decimals: int, service: ServiceFee
) -> Conversion:
    """An off-ramp's stablecoin sold for fiat: `amount` at `exact_rate` (one unit in the
    fiat), the fee taken out of it. The bank pays `final_amount`; nothing rounds in the
    merchant's favour against the ledger (gross <= the exact value)."""
    gross = quantize_exact(Fraction(amount) * exact_rate, decimals, ROUND_CREDIT)
    fee = service_fee(gross, service, decimals)
    with localcontext(CONTEXT):
        final = gross - fee
    if final <= 0:
        raise field_error("withdrawal_too_small", "amount")
    return Conversion(gross=gross, fee=fee, final_amount=final)
