"""The database handle and its unit of work.

The request or the worker job opens a unit, services work inside it and never
commit; leaving the block commits, an exception rolls everything back.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from payoutd.services.ports import Secrets
from payoutd.store.sqlite_writer import SqliteWriter
from payoutd.store.uow import UnitOfWork

READ_ONLY = "payoutd_read_only"


def tune_sqlite(engine: AsyncEngine) -> None:
    """WAL with synchronous=NORMAL: a commit survives a process crash, and readers never
    block the writer. Transactions that write start with BEGIN IMMEDIATE so two writers
    queue for the lock up front instead of failing on upgrade half way through."""

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        # sqlite3 begins no transaction by itself (store.sqlite_driver.connect opens it
        # so): the BEGIN comes from below
        assert dbapi_conn.isolation_level is None, "opened by payoutd.store.sqlite_driver"
        cur = dbapi_conn.cursor()
        # first: journal_mode waits for a lock too, and would wait only sqlite3's default
        # 5 s for another connection's long write transaction (a bulk load)
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class Database:
    def __init__(self, engine: AsyncEngine, secrets: Secrets | None = None) -> None:
        self.engine = engine
        # seals and opens the personal data the unit's repositories keep (store.parties)
        self.secrets = secrets
        self.dialect = engine.dialect.name
        # SQLite has one writer at a time anyway: this process's writers queue on one
        # lock and share one connection (payoutd.store.sqlite_writer) instead of
        # spinning on busy_timeout with a connection each.
        self._writer: SqliteWriter | None = (
            SqliteWriter(engine) if self.dialect == "sqlite" else None
        )

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @property
    def on_asyncpg(self) -> bool:
        """PostgreSQL through asyncpg, whose connection some writes use directly
        (`store.placements.PlacementRepository.add_if_funded`)."""
        return self.is_postgres and self.engine.dialect.driver == "asyncpg"

    @contextlib.asynccontextmanager
    async def unit(self) -> AsyncIterator[UnitOfWork]:
        """A read-write transaction, committed when the block ends without error."""
        if self._writer is not None:
            async with self._writer.transaction() as conn:
                yield UnitOfWork(conn, self.dialect, secrets=self.secrets)
            return
        async with self.engine.connect() as conn, conn.begin():
            yield UnitOfWork(conn, self.dialect, secrets=self.secrets)

    @contextlib.asynccontextmanager
    async def autocommit(self) -> AsyncIterator[UnitOfWork]:
        """PostgreSQL only: a connection on which each statement is its own transaction
        (no BEGIN, no COMMIT: one round trip for one statement). For work that is one
        statement, such as `services.payouts.place_many(all_or_none=True)`."""
        assert self.is_postgres, "SQLite writes need BEGIN IMMEDIATE (see tune_sqlite)"
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
            yield UnitOfWork(conn, self.dialect, secrets=self.secrets)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[UnitOfWork]:
        """A read-only transaction: on SQLite it does not take the write lock."""
        async with self.engine.connect() as raw:
            conn: AsyncConnection = await raw.execution_options(**{READ_ONLY: True})
            async with conn.begin():
                yield UnitOfWork(conn, self.dialect, read_only=True, secrets=self.secrets)

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[UnitOfWork]:
        """A read-only transaction whose every statement sees the database at one moment,
        for reads that compare several tables (the ledger check): under READ COMMITTED
        each statement would see what committed before it, so rows written between two
        statements would look like damage. On SQLite a read transaction already reads
        one snapshot (WAL); on PostgreSQL that takes REPEATABLE READ."""
        if not self.is_postgres:
            async with self.read() as uow:
                yield uow
            return
        async with self.engine.connect() as raw:
            conn = await raw.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
            async with conn.begin():
                yield UnitOfWork(conn, self.dialect, read_only=True, secrets=self.secrets)

    @contextlib.asynccontextmanager
    async def wallet_lock(self, wallet: str) -> AsyncIterator[bool]:
        """One sender per hot wallet at a time, across every worker process.

        On PostgreSQL a session advisory lock keyed by the wallet, held on a connection of
        its own for as long as the block runs; yields False when another worker holds
        it (skip the wallet this pass). On SQLite only one worker may run at all (see
        payoutd.worker.runner), so the lock is always granted."""
        if not self.is_postgres:
            yield True
            return
        from sqlalchemy import text

        key = int.from_bytes(
            hashlib.sha256(f"payoutd-wallet:{wallet}".encode()).digest()[:8], "big", signed=True
        )
        async with self.engine.connect() as conn:
            got = (
                await conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key})
            ).scalar_one()
            await conn.commit()
            try:
                yield bool(got)
            finally:
                if got:
                    await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    await conn.commit()

    async def ping(self) -> bool:
        """Whether the database answers. A read: on SQLite it must not queue for the
        write lock behind the writers (nor take it from them)."""
        from sqlalchemy import text

        try:
            async with self.read() as uow:
                await uow.conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    async def dispose(self) -> None:
        if self._writer is not None:
            await self._writer.close()
        await self.engine.dispose()
