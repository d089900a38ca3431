"""The process's one SQLite write connection (payoutd.store.sqlite_writer): kept from one
transaction to the next, replaced when a failure leaves it in doubt, and the WAL kept
small by the checkpoints it asks for (its automatic checkpoint is off)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text

from payoutd.store.db import Database
from payoutd.store.sqlite_driver import Connection
from payoutd.store.sqlite_writer import SqliteWriter
from tests.support import driver_of


def _wal_bytes(tmp_path: Path) -> int:
    wal = tmp_path / "payoutd.db-wal"
    return wal.stat().st_size if wal.exists() else 0


async def _write_rows(writer: SqliteWriter, transactions: int, rows: int, start: int) -> None:
    for i in range(transactions):
        # a transaction here never waits, so nothing else would run: a server's
        # writers wait for their requests in between
        await asyncio.sleep(0.001)
        async with writer.transaction() as conn:
            await conn.execute(
                text("INSERT INTO t (k, v) VALUES (:k, :v)"),
                [{"k": start + i * rows + j, "v": "x" * 1000} for j in range(rows)],
            )


async def test_checkpoints_keep_the_wal_from_growing(sqlite_db: Database, tmp_path: Path) -> None:
    """400 transactions of 20 rows of 1 kB (about 8 MB of pages): with a checkpoint
    every 100 rows the WAL starts over again and again and stays a fraction of that;
    without one it holds them all (the write connection's automatic checkpoint is off:
    SQLite's own would start it over at 1,000 pages, about 4 MB)."""
    checkpointed = SqliteWriter(sqlite_db.engine, checkpoint_rows=100)
    await _write_rows(checkpointed, 400, 20, 0)
    await checkpointed.close()
    assert _wal_bytes(tmp_path) < 2_000_000, _wal_bytes(tmp_path)

    never = SqliteWriter(sqlite_db.engine, checkpoint_rows=10**9)
    await _write_rows(never, 400, 20, 100_000)
    async with never.transaction() as conn:
        assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one() == 0
    assert _wal_bytes(tmp_path) > 6_000_000, _wal_bytes(tmp_path)
    await never.close()
    async with sqlite_db.read() as uow:
        assert (await uow.conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 16000


async def _checkpointed(writer: SqliteWriter) -> None:
    """After the checkpoint under way, if any."""
    if writer._checkpoint is not None:
        await writer._checkpoint


def _wal_restarts(tmp_path: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time a write
    starts the WAL over (https://www.sqlite.org/fileformat2.html#walformat)."""
    with (tmp_path / "payoutd.db-wal").open("rb") as wal:
        return int.from_bytes(wal.read(16)[12:16], "big")


async def test_a_checkpoint_waits_for_a_reader_of_the_wal_so_the_wal_starts_over(
    sqlite_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader whose snapshot still needs the WAL's frames keeps SQLite from starting
    the WAL over. The checkpoint's last step waits for it (here it ends 20 ms into that
    step), so the next write starts the WAL over; a PASSIVE one would leave the WAL to
    grow until the next checkpoint."""
    writer = SqliteWriter(sqlite_db.engine, checkpoint_rows=100)
    await _write_rows(writer, 10, 20, 0)  # a checkpoint or two, none of them waited for
    await _checkpointed(writer)
    reader = sqlite3.connect(tmp_path / "payoutd.db", isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # a snapshot on the WAL
    await _write_rows(writer, 4, 20, 1_000)
    restarts = _wal_restarts(tmp_path)
    original = Connection.checkpoint

    async def checkpoint(self: Connection, *, restart_within_ms: int | None = None) -> bool:
        if restart_within_ms is not None and reader.in_transaction:
            asyncio.get_running_loop().call_later(0.02, reader.execute, "COMMIT")
        return await original(self, restart_within_ms=restart_within_ms)

    monkeypatch.setattr(Connection, "checkpoint", checkpoint)
    await _write_rows(writer, 2, 20, 2_000)  # crosses 100 rows: a checkpoint
    await _checkpointed(writer)
    assert not reader.in_transaction
    await _write_rows(writer, 1, 20, 3_000)
    assert _wal_restarts(tmp_path) == restarts + 1
    reader.close()
    await writer.close()


async def test_a_refused_transaction_keeps_the_connection(sqlite_db: Database) -> None:
    async with sqlite_db.unit() as uow:
        kept = await driver_of(uow.conn)
        await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'a')"))
    with pytest.raises(Exception, match="UNIQUE"):
        async with sqlite_db.unit() as uow:
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (2, 'b')"))
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'b')"))
    async with sqlite_db.unit() as uow:
        assert await driver_of(uow.conn) is kept
        assert (await uow.conn.execute(text("SELECT k FROM t"))).scalars().all() == [1]


async def test_a_transaction_cancelled_while_its_begin_waits_is_replaced(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """Another process holds the write lock: BEGIN IMMEDIATE waits on the connection's
    thread. Cancelled there, the call goes on without anyone waiting for it, so the
    connection is in doubt: it is closed, and the next transaction gets another, which
    writes once the other process lets go."""
    async with sqlite_db.unit() as uow:
        first = await driver_of(uow.conn)
    other = sqlite3.connect(tmp_path / "payoutd.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with sqlite_db.unit() as uow:
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (7, 'lost')"))

    task = asyncio.create_task(write())
    await asyncio.sleep(0.2)
    assert not task.done()  # waiting for the lock, and the loop runs
    task.cancel()
    await asyncio.sleep(0.1)
    other.execute("COMMIT")  # (closing the connection in doubt waits for its BEGIN)
    other.close()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(10):
        async with sqlite_db.unit() as uow:
            assert await driver_of(uow.conn) is not first
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (8, 'kept')"))
    async with sqlite_db.read() as uow:
        assert (await uow.conn.execute(text("SELECT k, v FROM t"))).all() == [(8, "kept")]
