"""The process's one write connection on SQLite, and the WAL checkpoints it asks for.

SQLite has one writer at a time, so a process's write transactions already queue on one
lock (`Database.unit`). They also share one connection, kept from one transaction to the
next instead of a pool checkout each:

* Its page cache stays valid. SQLite drops a connection's cached pages whenever another
  connection has written since it last read, so writers that took turns on pooled
  connections read every index page of a batch back from the file.
* No pool checkout and return per transaction. SQLAlchemy's async connection closes
  in a task of its own (`_run_to_completion`), and the writer waited for the loop to
  get to that task behind every request queued before it: about 2 ms per transaction
  at 32 connections, a third of the intake's group commit cycle.
* BEGIN IMMEDIATE and COMMIT run on the event loop (`sqlite_driver.hold_for_writes`):
  the WAL's automatic checkpoint is off for this connection, so a COMMIT only appends
  its pages to the WAL. The checkpoint that copies them into the database file is
  asked for here, on the connection's thread, once `checkpoint_rows` rows were written
  since the last one, after the transaction that crossed it has answered its callers.
  It holds the write lock meanwhile, so it completes and the next transaction starts
  the WAL from its beginning: the WAL stays about as large as those rows' pages, as
  with SQLite's own automatic checkpoint, while the loop goes on serving requests.

A transaction that fails leaves the connection kept when the rollback left it idle;
otherwise (a call still on its thread, a transaction left open) it is closed and the
next transaction opens another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payoutd.store import sqlite_driver

log = structlog.get_logger(__name__)

# Rows written between two checkpoints. A payout accepted is about four (the payout, its
# hold, its event, its account), and some eight pages of the WAL with the tables'
# indexes: 4,000 rows are some 8,000 pages, 32 MB, copied in one checkpoint. Larger
# gaps copy each hot index page once for more of the transactions that rewrote it.
CHECKPOINT_ROWS = 4000


class SqliteWriter:
    def __init__(self, engine: AsyncEngine, checkpoint_rows: int = CHECKPOINT_ROWS) -> None:
        self._engine = engine
        self._checkpoint_rows = checkpoint_rows
        self.lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._driver: sqlite_driver.Connection | None = None
        self._checkpointed = 0  # the connection's total_changes at the last checkpoint
        self._checkpoint: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """The write connection inside BEGIN IMMEDIATE, committed when the block ends
        without error; the process's other writers wait until then."""
        async with self.lock:
            conn, driver = await self._connection()
            try:
                async with conn.begin():
                    yield conn
            except BaseException:
                if conn.invalidated or not driver.idle:
                    self._drop()
                raise
            written = driver.total_changes - self._checkpointed
        if written >= self._checkpoint_rows and self._checkpoint is None:
            self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def close(self) -> None:
        """On shutdown: after a checkpoint under way, the connection goes back to the pool
        (whose disposal closes it; the last connection to close checkpoints the WAL)."""
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        async with self.lock:
            await self._close()
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _connection(self) -> tuple[AsyncConnection, sqlite_driver.Connection]:
        if self._conn is None or self._driver is None:
            conn = await self._engine.connect()
            try:
                driver = await sqlite_driver.of(conn)
                await driver.hold_for_writes()
            except BaseException:
                await conn.close()
                raise
            self._conn, self._driver = conn, driver
            self._checkpointed = driver.total_changes
        return self._conn, self._driver

    async def _close(self) -> None:
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            await _discard(conn)

    def _drop(self) -> None:
        """Let a connection in doubt go without waiting: closing it waits for the call
        still on its thread (a BEGIN IMMEDIATE may wait busy_timeout for another
        process), and the other writers would wait with it."""
        conn, self._conn, self._driver = self._conn, None, None
        if conn is not None:
            task = asyncio.get_running_loop().create_task(_discard(conn))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def _run_checkpoint(self) -> None:
        try:
            # the bulk beside the writers, on a connection of its own (PASSIVE waits for
            # no one)...
            async with self._engine.connect() as conn:
                await (await sqlite_driver.of(conn)).checkpoint()
            # ...then what they wrote meanwhile, with the writers held, so that it
            # completes and the next transaction starts the WAL from its beginning
            async with self.lock:
                if self._driver is None:
                    return
                self._checkpointed = self._driver.total_changes
                busy, frames, copied = await self._driver.checkpoint()
                if busy or copied < frames:  # a reader's snapshot kept some frames back
                    log.debug("wal_checkpoint_partial", frames=frames, copied=copied)
        except Exception as exc:  # the next one tries again; SQLite loses nothing
            log.warning("wal_checkpoint_failed", error=str(exc))
        finally:
            self._checkpoint = None


async def _discard(conn: AsyncConnection) -> None:
    # its automatic checkpoint is off: it must not go back to the pool as it is
    await conn.invalidate()
    await conn.close()
