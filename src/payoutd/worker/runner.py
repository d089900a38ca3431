"""The long-running loops of `payoutd serve`: the job pass and the sandbox miner."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import structlog

from payoutd.chains.sandbox import SandboxChain
from payoutd.services import funding, ramps
from payoutd.services.context import Context
from payoutd.store.db import Database
from payoutd.webhooks.delivery import Sender
from payoutd.worker.imports import import_pass
from payoutd.worker.jobs import (
    Deliveries,
    dispatch_events,
    follow_broadcast,
    ramp_pass,
    send_pass,
    watch_funding,
)

log = structlog.get_logger("payoutd.worker")

IMPORT_POLL_SECONDS = 0.25


async def _every(seconds: float, name: str, job: Callable[[], Awaitable[object]]) -> None:
    while True:
        try:
            await job()
        except asyncio.CancelledError:
            raise
        except Exception:
            # A failing pass must not stop the loop; what it was doing is still recorded
            # in the database and the next pass picks it up.
            log.exception("worker.job_failed", job=name)
        await asyncio.sleep(seconds)


class WorkerAlreadyRunning(SystemExit):
    pass


def claim_sqlite_worker(data_dir: Path) -> IO[str]:
    """On SQLite exactly one worker may run: two would both send from the same hot
    wallets with nothing to keep them apart (PostgreSQL has advisory locks for that).
    The OS releases the lock when the process dies, even by SIGKILL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "worker.lock"
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise WorkerAlreadyRunning(
            f"another payoutd worker is already running on the SQLite database in "
            f"{data_dir.resolve()}; SQLite runs one worker at a time. Stop it, or move to "
            f"PostgreSQL (PAYOUTD_DATABASE_URL) to run several workers."
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


class Worker:
    def __init__(
        self,
        db: Database,
        ctx: Context,
        sender: Sender,
        *,
        funding_wallets: Mapping[str, Sequence[str]] | None = None,
        on_deposit: funding.OnDeposit | None = None,
    ) -> None:
        self.db = db
        self.ctx = ctx
        self.sender = sender
        # network -> the operator's funding wallets, and what a deposit into one funds
        # (the ramp services); no wallets, no watch
        # by default the configured funding wallets, funding ramp payouts (services.ramps)
        self.funding_wallets = (
            funding_wallets if funding_wallets is not None else ramps.funding_watch(ctx)
        )
        self.on_deposit = on_deposit if on_deposit is not None else ramps.receive_deposit
        self.deliveries = Deliveries(db, ctx, sender)
        self._tasks: list[asyncio.Task[None]] = []
        self._lock: IO[str] | None = None

    def start(self) -> None:
        s = self.ctx.settings
        if not self.db.is_postgres:
            self._lock = claim_sqlite_worker(s.data_dir)
        self._tasks.append(
            asyncio.create_task(
                _every(s.worker_interval_seconds, "send", lambda: send_pass(self.db, self.ctx))
            )
        )
        self._tasks.append(
            asyncio.create_task(
                _every(
                    s.worker_interval_seconds, "follow", lambda: follow_broadcast(self.db, self.ctx)
                )
            )
        )

        # mass payouts: one import at a time per worker, a chunk of rows per transaction.
        # Looked for more often than the other work: a merchant is watching the upload's
        # progress, and a file of thousands of rows takes only a few passes' time; the
        # look is one read of an index, and no write transaction (SQLite's one writer).
        self._tasks.append(
            asyncio.create_task(
                _every(
                    min(s.worker_interval_seconds, IMPORT_POLL_SECONDS),
                    "imports",
                    lambda: import_pass(self.db, self.ctx),
                )
            )
        )
        self._tasks.append(
            asyncio.create_task(
                _every(s.worker_interval_seconds, "ramps", lambda: ramp_pass(self.db, self.ctx))
            )
        )

        async def webhooks() -> None:
            await dispatch_events(self.db, self.ctx)
            await self.deliveries.poll()  # does not wait for the attempts

        self._tasks.append(
            asyncio.create_task(_every(s.worker_interval_seconds, "webhooks", webhooks))
        )
        on_deposit = self.on_deposit
        if on_deposit is not None and any(self.funding_wallets.values()):
            wallets = self.funding_wallets
            self._tasks.append(
                asyncio.create_task(
                    _every(
                        s.worker_interval_seconds,
                        "funding",
                        lambda: watch_funding(self.db, self.ctx, wallets, on_deposit),
                    )
                )
            )
        sandboxes = [c for c in self.ctx.chains.values() if isinstance(c, SandboxChain)]
        if sandboxes:

            async def mine() -> None:
                for chain in sandboxes:
                    if not await chain.idle():
                        await chain.mine(self.ctx.clock.now())

            self._tasks.append(asyncio.create_task(_every(s.sandbox_block_seconds, "mine", mine)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.deliveries.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None
