"""`Idempotency-Key` on every POST, with Stripe's semantics: the same key and body replay
the stored response; the same key with another body is 409 `idempotency_conflict`; while
the first request still runs, 409 `idempotency_in_progress`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request

from payoutd.api.errors import error_json
from payoutd.api.responses import JSONResponse
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.services import idempotency
from payoutd.services.ports import UnitOfWork

Work = Callable[[UnitOfWork], Awaitable[tuple[int, Any]]]
HEADER = "Idempotency-Key"


async def request_hash(request: Request) -> str:
    """The request's identity: method, path and the body's JSON content (key order and
    spacing do not matter, as with Stripe's parameter comparison)."""
    body = await request.body()
    with contextlib.suppress(ValueError):  # not JSON: compare the bytes
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256()
    for part in (request.method.encode(), request.url.path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A request that owns its Idempotency-Key: its answer is completed under the key in
    the transaction of its effect."""

    merchant_id: str
    key: str


async def claim(
    request: Request, rt: Runtime, merchant_id: str
) -> tuple[Claimed | None, idempotency.Replay | None]:
    """(the claim, None) when the request carries a key and now owns it; (None, the
    stored answer) for a repeat; (None, None) without a key."""
    key = request.headers.get(HEADER)
    if key is None:
        return None, None
    if not 1 <= len(key) <= 255:
        raise field_error("validation_error", HEADER, "Idempotency-Key must be 1-255 characters")
    fingerprint = await request_hash(request)
    async with rt.db.unit() as uow:
        replay = await idempotency.claim(uow, rt.ctx, merchant_id, key, fingerprint)
    if replay is not None:
        return None, replay
    return Claimed(merchant_id, key), None


async def release(rt: Runtime, claimed: Claimed) -> None:
    async with rt.db.unit() as uow:
        await idempotency.release(uow, claimed.merchant_id, claimed.key)


async def run(request: Request, rt: Runtime, merchant_id: str, work: Work) -> JSONResponse:
    """`work` in a transaction of its own, its answer kept under the request's
    Idempotency-Key (if it has one) in that same transaction."""
    claimed, replay = await claim(request, rt, merchant_id)
    if replay is not None:
        return JSONResponse(
            replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"}
        )
    try:
        async with rt.db.unit() as uow:
            status, body = await work(uow)
            if claimed is not None:
                await idempotency.complete(uow, merchant_id, claimed.key, status, body)
        return JSONResponse(body, status_code=status)
    except PayoutdError as err:
        if claimed is not None:
            # A refusal is a result too: the same request gets the same answer.
            async with rt.db.unit() as uow:
                await idempotency.complete(
                    uow, merchant_id, claimed.key, err.status, error_json(err)
                )
        raise
    except BaseException:
        if claimed is not None:
            await release(rt, claimed)
        raise
