"""`Idempotency-Key` on every POST, with Stripe's semantics: the same key and body replay
the stored response; the same key with another body is 409 `idempotency_conflict`; while
the first request still runs, 409 `idempotency_in_progress`."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from fastapi import Request

from payoutd.api.errors import error_json
from payoutd.api.responses import JSONResponse
from payoutd.bootstrap import Runtime
from payoutd.domain.errors import PayoutdError, field_error
from payoutd.store.uow import UnitOfWork

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


async def run(request: Request, rt: Runtime, merchant_id: str, work: Work) -> JSONResponse:
    key = request.headers.get(HEADER)
    if key is None:
        async with rt.db.unit() as uow:
            status, body = await work(uow)
        return JSONResponse(body, status_code=status)
    if not 1 <= len(key) <= 255:
        raise field_error("validation_error", HEADER, "Idempotency-Key must be 1-255 characters")
    fingerprint = await request_hash(request)
    now = rt.ctx.clock.now()
    lock = now + timedelta(seconds=rt.settings.idempotency_lock_seconds)
    async with rt.db.unit() as uow:
        owned = await uow.idempotency.claim(merchant_id, key, fingerprint, now, lock)
        if not owned:
            stored = await uow.idempotency.get(merchant_id, key)
            assert stored is not None
            if stored.request_hash != fingerprint:
                raise PayoutdError("idempotency_conflict")
            if stored.status == "completed":
                return JSONResponse(stored.response_body, status_code=stored.response_status or 200,
                                    headers={"Idempotent-Replayed": "true"})
            # the first request died without finishing: after its lock lapses, take over
            if not await uow.idempotency.retake(merchant_id, key, now, lock):
                raise PayoutdError("idempotency_in_progress")
    try:
        async with rt.db.unit() as uow:
            status, body = await work(uow)
            await uow.idempotency.complete(merchant_id, key, status, body)
        return JSONResponse(body, status_code=status)
    except PayoutdError as err:
        # A refusal is a result too: the same request gets the same answer.
        async with rt.db.unit() as uow:
            await uow.idempotency.complete(merchant_id, key, err.status, error_json(err))
        raise
    except BaseException:
        async with rt.db.unit() as uow:
            await uow.idempotency.release(merchant_id, key)
        raise
