"""`Idempotency-Key` on a POST (Stripe's semantics): the first request with a key owns
it until it completes; the same key and body then replay the stored answer, the same key
with another body is 409 `idempotency_conflict`, and while the first still runs 409
`idempotency_in_progress`. A request that died without completing gives the key up
when its lock lapses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from payoutd.domain.errors import PayoutdError
from payoutd.services.context import Context
from payoutd.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Replay:
    """The stored answer of the request that completed with this key."""

    status: int
    body: Any


async def claim(
    uow: UnitOfWork, ctx: Context, merchant_id: str, key: str, fingerprint: str
) -> Replay | None:
    """None when this request now owns the key: it must `complete` it (in the transaction
    of its effect) or `release` it. Otherwise the stored answer to replay."""
    now = ctx.clock.now()
    lock = now + timedelta(seconds=ctx.settings.idempotency_lock_seconds)
    if await uow.idempotency.claim(merchant_id, key, fingerprint, now, lock):
        return None
    stored = await uow.idempotency.get(merchant_id, key)
    assert stored is not None
    if stored.request_hash != fingerprint:
        raise PayoutdError("idempotency_conflict")
    if stored.status == "completed":
        return Replay(stored.response_status or 200, stored.response_body)
    # the first request died without finishing: after its lock lapses, take over
    if not await uow.idempotency.retake(merchant_id, key, now, lock):
        raise PayoutdError("idempotency_in_progress")
    return None


async def complete(uow: UnitOfWork, merchant_id: str, key: str, status: int, body: Any) -> None:
    """Keep the answer (a refusal is an answer too) for the key's later requests."""
    await uow.idempotency.complete(merchant_id, key, status, body)


async def release(uow: UnitOfWork, merchant_id: str, key: str) -> None:
    """Give the key up: the request failed without an answer, a retry may run again."""
    await uow.idempotency.release(merchant_id, key)
