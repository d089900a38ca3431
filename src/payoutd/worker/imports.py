"""The mass payouts job: imports are processed a chunk of rows per transaction
(services.imports), by the worker for uploads and by `payoutd payouts import` for its
own file. Pricing a chunk happens between transactions (it may call the network)."""

from __future__ import annotations

from collections.abc import Callable

import structlog

from payoutd.domain.imports import PayoutImport
from payoutd.ids import new_id
from payoutd.services import imports
from payoutd.services.context import Context
from payoutd.store.db import Database

log = structlog.get_logger("payoutd.worker")

Progress = Callable[[PayoutImport], None]


async def run(
    db: Database,
    ctx: Context,
    imp: PayoutImport,
    owner: str,
    progress: Progress | None = None,
    *,
    chunk_rows: int = imports.CHUNK_ROWS,
) -> PayoutImport:
    """Process `imp` (held under `owner`'s lease) from its first row without a result to
    the end. A failure other than a lost lease marks the import `failed`: what was
    placed stays placed, and the same file uploaded again places only the rest."""
    try:
        async with db.read() as uow:
            rows = await uow.imports.rows(imp.id)
            merchant_terms = await imports.terms(uow, imp.merchant_id)
        # a dry run holds no funds: its rows are checked against the balance in one pass
        size = len(rows) if imp.dry_run else chunk_rows
        while imp.next_row < imp.total:
            chunk = rows[imp.next_row : imp.next_row + size]
            priced = await imports.price(ctx, merchant_terms, chunk)
            async with db.unit() as uow:
                imp = await imports.place(uow, ctx, imp, owner, chunk, priced, merchant_terms)
            if progress is not None:
                progress(imp)
    except imports.LeaseLost:
        log.warning("imports.lease_lost", import_id=imp.id)
    except Exception as exc:
        log.exception("imports.failed", import_id=imp.id)
        async with db.unit() as uow:
            await imports.fail(uow, ctx, imp.id, owner, f"{type(exc).__name__}: {exc}")
        raise
    return imp


async def import_pass(db: Database, ctx: Context) -> int:
    """Take the oldest waiting import (or one whose worker died) and process it; the
    number of imports processed (0 or 1)."""
    async with db.read() as uow:
        if not await uow.imports.any_claimable(ctx.clock.now()):
            return 0  # most passes: no write transaction (SQLite's one writer)
    owner = new_id()
    async with db.unit() as uow:
        imp = await imports.claim(uow, ctx, owner)
    if imp is None:
        return 0
    await run(db, ctx, imp, owner)
    return 1
