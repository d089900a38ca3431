"""payoutd's aiosqlite connection (payoutd.store.sqlite_driver): a write transaction's
statements run on the event loop, everything that can wait runs on the connection's
thread, and the loop never waits for another process's lock."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from payoutd.bootstrap import build_database
from payoutd.store.db import Database
from payoutd.store.migrate import upgrade
from payoutd.store.sqlite_driver import Connection
from tests.support import test_settings as settings_for


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = build_database(settings_for(tmp_path, None))
    await upgrade(database.engine)
    async with database.unit() as uow:
        await uow.conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield database
    await database.dispose()


async def _driver(conn: object) -> Connection:
    raw = await conn.get_raw_connection()  # type: ignore[attr-defined]
    driver = raw.driver_connection
    assert isinstance(driver, Connection)
    return driver


async def test_a_write_transaction_hops_only_to_begin_and_commit(db: Database) -> None:
    async with db.unit() as uow:
        driver = await _driver(uow.conn)
        sent = driver._sent
        assert sent >= 1  # BEGIN IMMEDIATE went to the thread
        for k in range(5):
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (:k, 'x')"), {"k": k})
        await uow.conn.execute(text("UPDATE t SET v = 'y' WHERE k < 3"))
        rows = (await uow.conn.execute(text("SELECT k, v FROM t ORDER BY k"))).all()
        assert [tuple(r) for r in rows] == [(0, "y"), (1, "y"), (2, "y"), (3, "x"), (4, "x")]
        assert driver._sent == sent  # seven statements, no hop
    assert driver._sent == sent + 1  # the COMMIT did hop
    async with db.read() as uow:
        assert (await uow.conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 5


async def test_a_call_runs_on_the_loop_in_a_write_transaction_and_hops_elsewhere(
        db: Database) -> None:
    import threading

    def insert(conn: sqlite3.Connection) -> str:
        conn.executemany("INSERT INTO t (k, v) VALUES (?, 'c')", [(10,), (11,)])
        return threading.current_thread().name

    loop_thread = threading.current_thread().name
    async with db.unit() as uow:
        driver = await _driver(uow.conn)
        sent = driver._sent
        assert await driver.call(insert) == loop_thread
        assert driver._sent == sent
    async with db.read() as uow:
        driver = await _driver(uow.conn)
        assert await driver.call(lambda conn: threading.current_thread().name) != loop_thread
        assert (await uow.conn.execute(text("SELECT count(*) FROM t WHERE v = 'c'"))
                ).scalar_one() == 2


async def test_reads_run_on_the_connections_thread(db: Database) -> None:
    async with db.read() as uow:
        driver = await _driver(uow.conn)
        sent = driver._sent
        await uow.conn.execute(text("SELECT count(*) FROM t"))
        assert driver._sent > sent


async def test_waiting_for_another_writer_leaves_the_loop_running(
        db: Database, tmp_path: Path) -> None:
    """BEGIN IMMEDIATE waits (busy_timeout) while another connection writes: it must
    wait on the connection's thread. Run on the loop, it would hold the loop, and the
    other writer here (released by the loop) could never finish."""
    other = sqlite3.connect(tmp_path / "payoutd.db", isolation_level=None,
                            check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    async def write() -> None:
        async with db.unit() as uow:
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
    async with db.read() as uow:
        assert (await uow.conn.execute(text("SELECT v FROM t WHERE k = 100"))).scalar_one() \
            == "late"


async def test_a_failed_write_transaction_ends_on_the_loop_and_the_next_one_works(
        db: Database) -> None:
    with pytest.raises(Exception, match="UNIQUE"):
        async with db.unit() as uow:
            driver = await _driver(uow.conn)
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'a')"))
            await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'b')"))
    assert not driver._writing
    async with db.unit() as uow:
        await uow.conn.execute(text("INSERT INTO t (k, v) VALUES (1, 'c')"))
    async with db.read() as uow:
        assert (await uow.conn.execute(text("SELECT v FROM t"))).scalars().all() == ["c"]


async def test_closing_connections_raises_nothing(db: Database,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    """Closing ends the sqlite3 connection on its thread; nothing may read the closed
    connection afterwards (SQLAlchemy would log every dispose as an error)."""
    async with db.read() as uow:
        await uow.conn.execute(text("SELECT 1"))
    with caplog.at_level("ERROR"):
        await db.dispose()
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
