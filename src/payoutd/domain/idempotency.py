"""`Idempotency-Key` (Stripe's semantics): what is kept of a request made with a key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredRequest:
    request_hash: str
    status: str  # in_progress | completed
    response_status: int | None
    response_body: Any
    locked_until: datetime
