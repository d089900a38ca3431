"""A batch as recorded: one chain transaction (or, on account chains, one run of them)
carrying one or more payouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    network: str
    currency: str
    status: str
    txid: str | None
    raw_tx: str | None
    fee: Decimal | None
    fee_currency: str | None
    unbatched_fee: Decimal | None
    output_count: int | None
    output_txids: list[str] | None
    sequence_end: int | None
    payout_count: int
    confirmations: int
    created_at: datetime
    broadcast_at: datetime | None
    updated_at: datetime
