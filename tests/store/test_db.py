"""The database handle's own promises."""

from __future__ import annotations

import asyncio

from tests.support import Harness


async def test_healthz_answers_while_a_writer_holds_the_database(h: Harness) -> None:
    """A readiness probe only reads: on SQLite it must not queue for the write lock
    (BEGIN IMMEDIATE would wait for the writer, up to busy_timeout, and then hold the
    lock the writers queue for)."""
    async with h.rt.db.unit() as uow:
        await uow.merchants.touch_key("none", h.clock.now())  # the write lock is taken
        async with asyncio.timeout(5):
            r = await h.client.get("/healthz")
        assert r.status_code == 200 and r.json() == {"status": "ok"}
