"""The reference of a statement line whose bank gave none: a digest of what the line says
and where it stands, so reading the same statement again names it the same."""

from __future__ import annotations

import hashlib
from datetime import date
from decimal import Decimal

from payoutd.domain.banking import Direction


def digest_reference(
    account: str, booked_on: date, amount: Decimal, direction: Direction, memo: str, position: int
) -> str:
    """`position` counts the lines of one statement: two equal payments booked the same day
    stay two lines."""
    # the amount normalised, so "10.0" and "10.00" in two readings of one entry agree
    value = format(amount.normalize(), "f")
    parts = (account, booked_on.isoformat(), value, direction.value, memo, str(position))
    return "digest:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
