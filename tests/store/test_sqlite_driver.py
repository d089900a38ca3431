"""payoutd's SQLite connection (payoutd.store.sqlite_driver): a write transaction's
statements run on the event loop, everything that can wait runs on the connection's
thread, and the loop never waits for another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from payoutd.store.db import Database
from tests.support import driver_of


async def test_a_write_transaction_on_the_write_connection_makes_no_hop(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """The process's write connection begins, writes and commits on the loop (its WAL
    checkpoint is asked for separately), and what it committed is there for another
    connection to read."""
    async with sqlite_db.unit() as uow:
        driver = await driver_of(uow.conn)
    sent = driver._sent
    async with sqlite_db.unit() as uow:
        assert await driver_of(uow.conn) is driver  # the same connection, kept
        for k in range(5):
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (:k, 'x')"), {"k": k})
        await uow.conn.execute(text("UPDATE t SET v = 'y' WHERE k < 3"))
        rows = (await uow.conn.execute(text("SELECT k, v FROM t ORDER BY k"))).all()
        assert [tuple(r) for r in rows] == [(0, "y"), (1, "y"), (2, "y"), (3, "x"), (4, "x")]
    assert driver._sent == sent  # BEGIN IMMEDIATE, seven statements and COMMIT: no hop
    other = sqlite3.connect(tmp_path / "payoutd.db")
    try:
        assert other.execute("SELECT count(*) FROM t").fetchone() == (5,)
    finally:
        other.close()


async def test_a_commit_that_syncs_keeps_its_hop(sqlite_db: Database) -> None:
    """A COMMIT that fsyncs the WAL must not hold the loop: with synchronous=FULL every
    one does, with NORMAL the first after a RESTART checkpoint (it writes the WAL's new
    header and syncs it)."""

    async def commits_hop(conn: AsyncConnection) -> bool:
        driver = await driver_of(conn)
        async with conn.begin():
            await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
            sent = driver._sent
        return driver._sent == sent + 1

    async with sqlite_db.engine.connect() as conn:  # (no transaction: synchronous is fixed in one)
        driver = await driver_of(conn)
        await driver.call(lambda conn: conn.execute("PRAGMA synchronous=FULL").close())
        await driver.hold_for_writes()
        assert await commits_hop(conn)
        assert await commits_hop(conn)
        await conn.invalidate()  # (not back to the pool as a write connection)
    async with sqlite_db.unit() as uow:
        driver = await driver_of(uow.conn)  # payoutd's own, synchronous=NORMAL
    async with sqlite_db.engine.connect() as conn:
        assert await driver_of(conn) is not driver
        await (await driver_of(conn)).checkpoint()  # PASSIVE
    assert sqlite_db._writer is not None  # a SQLite database has its writer
    async with sqlite_db._writer.lock:
        assert await driver.checkpoint(restart_within_ms=50)
    unit = sqlite_db.unit()
    uow = await unit.__aenter__()
    assert await driver_of(uow.conn) is driver
    await uow.conn.execute(text("INSERT INTO t (v) VALUES ('y')"))
    sent = driver._sent
    await unit.__aexit__(None, None, None)
    assert driver._sent == sent + 1  # the first commit after the RESTART hopped
    async with sqlite_db.unit() as uow:
        await uow.conn.execute(text("INSERT INTO t (v) VALUES ('z')"))
        sent = driver._sent
    assert driver._sent == sent  # and the next did not


async def test_a_call_runs_on_the_loop_in_a_write_transaction_and_hops_elsewhere(
    sqlite_db: Database,
) -> None:
    import threading

    def insert(conn: sqlite3.Connection) -> str:
        conn.executemany("INSERT INTO t (k, v) VALUES (?, 'c')", [(10,), (11,)])
        return threading.current_thread().name

    loop_thread = threading.current_thread().name
    async with sqlite_db.unit() as uow:
        driver = await driver_of(uow.conn)
        sent = driver._sent
        assert await driver.call(insert) == loop_thread
        assert driver._sent == sent
    async with sqlite_db.read() as uow:
        driver = await driver_of(uow.conn)
        assert await driver.call(lambda conn: threading.current_thread().name) != loop_thread
        assert (
            await uow.conn.execute(text("SELECT count(*) FROM t WHERE v = 'c'"))
        ).scalar_one() == 2


async def test_reads_run_on_the_connections_thread(sqlite_db: Database) -> None:
    async with sqlite_db.read() as uow:
        driver = await driver_of(uow.conn)
        sent = driver._sent
        await uow.conn.execute(text("SELECT count(*) FROM t"))
        assert driver._sent > sent


async def test_waiting_for_another_writer_leaves_the_loop_running(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """BEGIN IMMEDIATE waits (busy_timeout) while another connection writes: it must
    wait on the connection's thread. Run on the loop, it would hold the loop, and the
    other writer here (released by the loop) could never finish."""
    other = sqlite3.connect(tmp_path / "payoutd.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with sqlite_db.unit() as uow:
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (100, 'late')"))

    task = asyncio.create_task(write())
    ticks = 0
    async with asyncio.timeout(5):
        while ticks < 20:
            await asyncio.sleep(0.01)
            ticks += 1
        assert not task.done()
        other.execute("COMMIT")
        await task
    other.close()
    async with sqlite_db.read() as uow:
        assert (
            await uow.conn.execute(text("SELECT v FROM t WHERE k = 100"))
        ).scalar_one() == "late"


async def test_a_failed_write_transaction_ends_on_the_loop_and_the_next_one_works(
    sqlite_db: Database,
) -> None:
    with pytest.raises(Exception, match="UNIQUE"):
        async with sqlite_db.unit() as uow:
            driver = await driver_of(uow.conn)
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'a')"))
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'b')"))
    assert not driver._writing
    async with sqlite_db.unit() as uow:
        await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'c')"))
    async with sqlite_db.read() as uow:
        assert (await uow.conn.execute(text("SELECT v FROM t"))).scalars().all() == ["c"]


async def test_closing_connections_raises_nothing(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """Closing ends the sqlite3 connection on its thread; nothing may read the closed
    connection afterwards (SQLAlchemy would log every dispose as an error)."""
    async with sqlite_db.read() as uow:
        await uow.conn.execute(text("SELECT 1"))
    with caplog.at_level("ERROR"):
        await sqlite_db.dispose()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
