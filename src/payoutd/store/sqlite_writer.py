"""The process's one write connection on SQLite, and the WAL checkpoints it asks for.

SQLite has one writer at a time, so a process's write transactions already queue on one
lock (`Database.unit`). They also share one connection, kept from one transaction to the
next instead of a pool checkout each:

* Its page cache stays valid. SQLite drops a connection's cached pages whenever another
  connection has written since it last read, so writers that took turns on pooled
  connections read every index page of a batch back from the file.
* No pool checkout and return per transaction. SQLAlchemy's async connection closes
  in a task of its own (`_run_to_completion`), and the writer waited for the loop to
  get to that task behind every request queued before it, a large part of the intake's
  group commit cycle under load (bench/README.md, "Where the time goes").
* BEGIN IMMEDIATE and COMMIT run on the event loop (`sqlite_driver.hold_for_writes`):
  the WAL's automatic checkpoint is off for this connection, so a COMMIT only appends
  its pages to the WAL. The checkpoint that copies them into the database file is
  asked for here once `checkpoint_rows` rows were written since the last one, after
  the transaction that crossed it has answered its callers: PASSIVE on a pooled
  connection's thread beside the writers, then a RESTART under the write lock, which
  copies what they wrote meanwhile and waits (`RESTART_WITHIN_MS` at most) for the
  readers still on the WAL, so that the next write starts it from its beginning. The WAL
  stays about as large as those rows' pages, as with SQLite's own automatic checkpoint,
  while the loop goes on serving requests. One that could not finish (a long read) is
  tried again a few hundred rows later.

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
# hold, its event, its account), each some pages of the WAL with the tables' indexes
# (what a checkpoint copies: bench/README.md, "Where the time goes"). Larger gaps copy
# each hot index page once for more of the transactions that rewrote it.
CHECKPOINT_ROWS = 4000
# How long a checkpoint's RESTART waits for readers of the WAL, the process's writers
# waiting meanwhile; one that gives up is tried again after an eighth of CHECKPOINT_ROWS.
RESTART_WITHIN_MS = 50


class SqliteWriter:
    def __init__(self, engine: AsyncEngine, checkpoint_rows: int = CHECKPOINT_ROWS) -> None:
        self._engine = engine
        self._checkpoint_rows = checkpoint_rows
        self.lock = asyncio.Lock()
        self._conn: AsyncConnection | None = None
        self._driver: sqlite_driver.Connection | None = None
        self._unchecked = 0  # rows written since the last complete checkpoint
        self._checkpoint: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """The write connection inside BEGIN IMMEDIATE, committed when the block ends
        without error; the process's other writers wait until then."""
        async with self.lock:
            if self._closed:
                raise RuntimeError("the database was closed")
            conn, driver = await self._connection()
            before = driver.total_changes
            try:
                async with conn.begin():
                    yield conn
            except BaseException:
                if conn.invalidated or not driver.idle:
                    self._drop()
                raise
            self._unchecked += driver.total_changes - before
            if not driver.idle:  # (the block committed by itself and began again)
                self._drop()
        if self._unchecked >= self._checkpoint_rows and self._checkpoint is None:
            self._checkpoint = asyncio.get_running_loop().create_task(self._run_checkpoint())

    async def close(self) -> None:
        """On shutdown, after the transaction under way: the connection is closed (the
        last connection to the database checkpoints the WAL as it closes), and so is a
        checkpoint under way; no transaction starts after this."""
        async with self.lock:
            self._closed = True
            await self._close()
        if self._checkpoint is not None:
            await asyncio.gather(self._checkpoint, return_exceptions=True)
        await asyncio.gather(*self._closing, return_exceptions=True)

    async def _connection(self) -> tuple[AsyncConnection, sqlite_driver.Connection]:
        if self._conn is None or self._driver is None:
            conn = await self._engine.connect()
            try:
                driver = await sqlite_driver.of(conn)
                await driver.hold_for_writes()
            except BaseException:
                await _discard(conn)
                raise
            self._conn, self._driver = conn, driver
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
            # the bulk beside the writers (PASSIVE waits for no one)...
            async with self._engine.connect() as conn:
                await (await sqlite_driver.of(conn)).checkpoint()
            # ...then what they wrote meanwhile, with the writers held, and the readers
            # of the WAL waited for, so that the next write starts it over
            async with self.lock:
                if self._driver is None or self._closed:
                    return
                if await self._driver.checkpoint(restart_within_ms=RESTART_WITHIN_MS):
                    self._unchecked = 0  # (no one writes while the lock is held)
                else:
                    self._retry_soon()
                    log.info("wal_checkpoint_waits_for_readers")
        except Exception as exc:  # SQLite loses nothing: the WAL keeps it meanwhile
            self._retry_soon()
            log.warning("wal_checkpoint_failed", error=str(exc))
        finally:
            self._checkpoint = None

    def _retry_soon(self) -> None:
        self._unchecked = min(self._unchecked, self._checkpoint_rows - self._checkpoint_rows // 8)


async def _discard(conn: AsyncConnection) -> None:
    # its automatic checkpoint is off: it must not go back to the pool as it is
    await conn.invalidate()
    await conn.close()
