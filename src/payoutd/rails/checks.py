"""What every payment file asks of the payments it carries, before any format sees them:
a refusal names the payment and the field, so the operator knows which payout to fix."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from payoutd.domain.banking import OutgoingPayment
from payoutd.domain.errors import PayoutdError, field_error

CENT = Decimal("0.01")


def payment_field(index: int, name: str) -> str:
    return f"payments[{index}].{name}"


FORMAT_OF = {"EUR": "A SEPA credit transfer (pain.001)", "USD": "A NACHA file"}


def require_currency(currency: str, wanted: str, field: str) -> None:
    if currency.upper() != wanted:
        raise field_error(
            "validation_error",
            field,
            f"{FORMAT_OF[wanted]} carries {wanted} only, not {currency.upper()}",
        )


def require_payments(payments: Sequence[OutgoingPayment]) -> None:
    if not payments:
        raise field_error("validation_error", "payments", "A payment file needs a payment")
    seen: set[str] = set()
    for i, payment in enumerate(payments):
        if payment.payment_id in seen:
            # the id is how a return finds its payout: two payments must not share it
            raise field_error(
                "validation_error",
                payment_field(i, "payment_id"),
                f"payment_id {payment.payment_id!r} appears twice in the file",
            )
        seen.add(payment.payment_id)


def cents(amount: Decimal, field: str, *, max_cents: int) -> int:
    """The amount in whole cents; anything finer than a cent, not positive or too large
    for the format's field is refused rather than rounded (a bank file moves real money)."""
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(CENT):
        raise field_error("invalid_amount", field)
    value = int(amount.scaleb(2))
    if value > max_cents:
        raise field_error(
            "invalid_amount", field, f"The amount is above what one payment may carry ({amount})"
        )
    return value


def require_text(value: str | None, field: str, *, max_length: int) -> str:
    if not value or not value.strip():
        raise field_error("validation_error", field, "The field is required")
    if len(value) > max_length:
        raise field_error(
            "validation_error", field, f"At most {max_length} characters ({len(value)} given)"
        )
    return value


def refused(field: str, message: str) -> PayoutdError:
    return field_error("validation_error", field, message)
