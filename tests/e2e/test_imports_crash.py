"""A mass payout survives SIGKILL: a real `payoutd serve --role worker` is killed while it
places an import's rows; what it committed is whole (every row with a result has its
payout, no payout lacks its row's result), and the next worker, once the dead one's
lease has run out, resumes at the first row without a result and creates every payout
exactly once."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from payoutd.bootstrap import build
from payoutd.domain.imports import read_csv
from payoutd.services import imports, merchants
from payoutd.store.migrate import upgrade
from payoutd.store.tables import payout_import_rows, payout_imports, payouts
from tests import live, support

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

ROWS = 6000
LTC_ADDR = "LT2KVaAy1ppRuxRgrS5RNU3vBsy7RibPeA"


def _run(coro: Any) -> Any:
    return asyncio.run(coro)


def test_a_killed_worker_leaves_whole_chunks_and_the_next_one_finishes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = support.test_settings(data, None)

    async def setup() -> tuple[str, str]:
        rt = build(settings)
        try:
            await upgrade(rt.db.engine, secrets=rt.secrets)
            async with rt.db.unit() as uow:
                m, _ = await merchants.create_merchant(uow, rt.ctx, "Payroll")
                await merchants.deposit(uow, rt.ctx, m.id, "LTC", Decimal("100"))
            body = "amount,currency,address\n" + f"0.001,LTC,{LTC_ADDR}\n" * ROWS
            async with rt.db.unit() as uow:
                imp = await imports.create(uow, rt.ctx, m.id, read_csv(body.encode()))
            return m.id, imp.id
        finally:
            await rt.close()

    async def state(import_id: str) -> dict[str, int | str]:
        rt = build(settings)
        try:
            async with rt.db.engine.connect() as conn:
                row = (
                    (
                        await conn.execute(
                            select(payout_imports).where(payout_imports.c.id == import_id)
                        )
                    )
                    .one()
                    ._mapping
                )
                results = (
                    await conn.execute(
                        select(func.count())
                        .select_from(payout_import_rows)
                        .where(payout_import_rows.c.import_id == import_id)
                    )
                ).scalar_one()
                made = (await conn.execute(select(func.count()).select_from(payouts))).scalar_one()
            return {
                "status": row["status"],
                "next_row": row["next_row"],
                "accepted": row["accepted"],
                "results": results,
                "payouts": made,
            }
        finally:
            await rt.close()

    async def end_lease(import_id: str) -> None:
        """The dead worker's lease runs out (as 60 s would)."""
        rt = build(settings)
        try:
            async with rt.db.unit() as uow:
                await uow.conn.execute(
                    update(payout_imports)
                    .where(payout_imports.c.id == import_id)
                    .values(lease_until=rt.ctx.clock.now() - timedelta(seconds=1))
                )
        finally:
            await rt.close()

    _, import_id = _run(setup())
    env = live.env_for(data, None, live.free_port(), min_payout_eur="0")

    def worker(log: str) -> subprocess.Popen[bytes]:
        with (tmp_path / log).open("wb") as out:
            return subprocess.Popen(
                [str(live.PAYOUTD), "serve", "--role", "worker"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    first = worker("worker-1.log")
    deadline = time.monotonic() + 120
    try:
        while True:
            now = _run(state(import_id))
            assert first.poll() is None, (tmp_path / "worker-1.log").read_text()
            assert time.monotonic() < deadline, now
            if int(now["next_row"]) >= imports.CHUNK_ROWS:
                break
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed = _run(state(import_id))
    if killed["status"] == "done":
        pytest.fail(f"the worker finished before it was killed: {killed}")
    # what the dead worker committed is whole: each row with a result, and only those,
    # has its payout
    assert killed["status"] == "running"
    assert killed["results"] == killed["next_row"] == killed["payouts"] == killed["accepted"]
    assert 0 < int(killed["next_row"]) < ROWS

    _run(end_lease(import_id))
    second = worker("worker-2.log")
    deadline = time.monotonic() + 300
    try:
        while (now := _run(state(import_id)))["status"] != "done":
            assert second.poll() is None, (tmp_path / "worker-2.log").read_text()
            assert time.monotonic() < deadline, now
            time.sleep(0.1)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)
    assert now == {
        "status": "done",
        "next_row": ROWS,
        "accepted": ROWS,
        "results": ROWS,
        "payouts": ROWS,
    }

    async def ledger_ok() -> bool:
        rt = build(settings)
        try:
            async with rt.db.snapshot() as uow:
                return bool((await uow.ledger.check()).as_dict()["ok"])
        finally:
            await rt.close()

    assert _run(ledger_ok())
    assert "Traceback" not in (tmp_path / "worker-2.log").read_text()
