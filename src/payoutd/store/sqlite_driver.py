"""SQLite through aiosqlite, with a thread hop only where a call can wait.

aiosqlite runs every call of a connection on that connection's own thread, so the
event loop never blocks on SQLite. Each call is a hop: a future, a queue, a thread
wake-up and a wake-up of the loop, and SQLAlchemy makes four calls
per statement (cursor, execute, fetchall, close). The intake's group commit sends about
a dozen statements per batch: some 40 hops, most of its CPU and of the time the write
lock is held (bench/README.md, "Where the time goes").

What can wait in SQLite with WAL is known: taking the write lock (`BEGIN IMMEDIATE`
waits up to busy_timeout for another process's writer), a commit that checkpoints the
WAL (fsyncs), and a read that scans much (a deep list page). Those keep their hop.
Inside a write transaction that has begun the process already holds the write lock,
and WAL readers never block a writer, so its statements cannot wait on anyone: they are
microseconds of work, run on the loop's thread directly, cheaper than the hop that
would carry them. So are the calls that never touch the database file: making and
closing a cursor, a rollback (WAL discards the transaction's pages in memory), ending a
read transaction.

What this gives up: a long statement inside a write transaction (the worker reading a
large batch) holds up the event loop for its duration, where before it held up only
the other writers, which wait for the write lock anyway.

The process's write connection (`store.sqlite_writer` keeps one, see `hold_for_writes`)
goes further: BEGIN IMMEDIATE is tried on the loop without waiting (busy_timeout 0) and
hops only when another process holds the lock, and its COMMIT, which with the WAL's
automatic checkpoint off and synchronous=NORMAL only appends the transaction's pages to
the WAL (no fsync), runs on the loop too; the checkpoint is asked for separately
(`checkpoint`) and hops, and so does the first COMMIT after it started the WAL over
(which syncs the WAL's new header). A hop is not only its own CPU: the loop takes up
the answer only after everything queued before it, other requests' work under load,
and the group commit's throughput follows its cycle
(bench/README.md, "Where the time goes"). What busy_timeout does not bound: the first
BEGIN after another process crashed rebuilds the WAL's index from the WAL, on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


class Connection(aiosqlite.Connection):
    """An aiosqlite connection that runs the calls that cannot wait on the loop."""

    _writing = False  # inside a transaction opened by BEGIN IMMEDIATE (or EXCLUSIVE)
    _sent = 0  # calls handed to the connection's thread, and of them
    _done = 0  # those it has finished (a cancelled wait does not stop the call)
    _held = False  # the process's write connection (hold_for_writes)
    _busy_timeout_ms = 0  # its busy_timeout, put back after a BEGIN tried on the loop

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        conn = self._connection
        if conn is None or not self._running:
            # raises "closed"; aiosqlite does not annotate _execute
            return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]
        owner = getattr(fn, "__self__", None)
        name = getattr(fn, "__name__", "")
        statement = (_kind(str(args[0] if args else kwargs["sql"]))
                     if isinstance(owner, sqlite3.Cursor) and name in ("execute", "executemany")
                     else None)
        try:
            # never beside a call still running on the thread
            if self._done == self._sent:
                if self._on_loop(conn, owner, name, statement):
                    return fn(*args, **kwargs)
                if statement == _BEGIN_WRITE and self._held:
                    try:
                        return self._begin_now(conn, fn, args, kwargs)
                    except sqlite3.OperationalError as exc:
                        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # (extended)
                            raise
                    # another process holds the write lock: wait for it on the thread
            return await self._hop(fn, args, kwargs)
        finally:
            # whatever ended the transaction (COMMIT, ROLLBACK, an error) ends the writing
            try:
                self._writing = conn.in_transaction and (self._writing
                                                         or statement == _BEGIN_WRITE)
            except sqlite3.ProgrammingError:  # the call closed the connection
                self._writing = False

    @property
    def idle(self) -> bool:
        """No call on the thread and no transaction open: safe to use for the next one."""
        conn = self._connection
        return conn is not None and self._done == self._sent and not conn.in_transaction

    @property
    def total_changes(self) -> int:
        """Rows this connection has inserted, updated or deleted since it was opened."""
        conn = self._connection
        assert conn is not None, "connection closed"
        return conn.total_changes

    async def hold_for_writes(self) -> None:
        """Make this the process's write connection: the WAL's automatic checkpoint off
        (the holder asks for `checkpoint`), so that a COMMIT only appends to the WAL and
        runs on the loop, as BEGIN IMMEDIATE does when the lock is free. With
        synchronous=FULL a COMMIT fsyncs the WAL: then it keeps its hop."""
        def setup(conn: sqlite3.Connection) -> tuple[int, int]:
            conn.execute("PRAGMA wal_autocheckpoint=0").close()
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            return int(sync), int(busy)

        sync, self._busy_timeout_ms = await self._hop(setup, (self._connection,), {})
        self._held = True
        self._commit_on_loop = sync <= _SYNCHRONOUS_NORMAL

    async def checkpoint(self, *, restart_within_ms: int | None = None) -> bool:
        """A checkpoint on the connection's thread; whether it completed. PASSIVE waits
        for no one (frames a reader's snapshot still needs stay in the WAL). With
        `restart_within_ms` it is a RESTART, which also waits that long at most for the
        readers of the WAL, so that the next write starts the WAL from its beginning:
        SQLite starts it over only when no reader is still on it."""
        mode = "PASSIVE" if restart_within_ms is None else "RESTART"

        def run(conn: sqlite3.Connection) -> bool:
            waiting = (contextlib.nullcontext() if restart_within_ms is None
                       else self._busy_timeout(conn, restart_within_ms))
            with waiting:
                busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return bool(busy == 0 and copied == frames)

        done: bool = await self._hop(run, (self._connection,), {})
        if done and restart_within_ms is not None:
            # the write that starts the WAL over writes its header and syncs it
            self._sync_next_commit = True
        return done

    def _begin_now(self, conn: sqlite3.Connection, fn: Callable[..., Any],
                   args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """BEGIN IMMEDIATE on the loop, refused at once (SQLITE_BUSY) if the lock is taken."""
        with self._busy_timeout(conn, 0):
            return fn(*args, **kwargs)

    @contextlib.contextmanager
    def _busy_timeout(self, conn: sqlite3.Connection, ms: int) -> Iterator[None]:
        """The connection's busy_timeout at `ms` for one call, then as it was."""
        conn.execute(f"PRAGMA busy_timeout={ms}").close()
        try:
            yield
        finally:
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}").close()

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)`: several statements at once on the sqlite3 connection itself
        (the intake's batch, `store.placements`), without SQLAlchemy's execution around
        each. Inside a write transaction on the loop's thread, as any statement there;
        otherwise on the connection's thread.

        Not on the thread inside a write transaction, though its C work would then run
        beside the loop: sqlite3 releases the GIL for every step of a statement, and each
        time the thread waits to take it back from a busy loop (up to the interpreter's
        switch interval, `sys.getswitchinterval()`). A batch of payouts was a few dozen
        such waits, and the intake's throughput fell with its write lane's latency
        (bench/README.md)."""
        conn = self._connection
        assert conn is not None, "connection closed"
        if self._done == self._sent and self._writing and conn.in_transaction:
            try:
                return fn(conn)
            finally:
                self._writing = conn.in_transaction
        result: T = await self._execute(fn, conn)
        return result

    async def _hop(self, fn: Callable[..., Any], args: tuple[Any, ...],
                   kwargs: dict[str, Any]) -> Any:
        """aiosqlite's own way: the call runs on the connection's thread."""
        self._sent += 1

        def call() -> Any:
            try:
                return fn(*args, **kwargs)
            finally:
                self._done += 1  # only this thread writes it

        future = asyncio.get_running_loop().create_future()
        self._tx.put_nowait((future, call))
        return await future

    _commit_on_loop = False  # a writing COMMIT neither checkpoints nor syncs, unless
    _sync_next_commit = False  # it is the first after a RESTART checkpoint

    def _commits_on_loop(self) -> bool:
        """Whether this writing COMMIT only appends to the WAL (asked just before it)."""
        if self._sync_next_commit:
            self._sync_next_commit = False
            return False
        return self._commit_on_loop

    def _on_loop(self, conn: sqlite3.Connection, owner: Any, name: str,
                 statement: str | None) -> bool:
        if owner is conn:
            return name in ("cursor", "rollback") or (
                name == "commit" and (not self._writing or self._commits_on_loop()))
        if statement == _BEGIN_WRITE:  # may wait busy_timeout for another process's writer
            return False
        if statement in (_BEGIN_READ, _ROLLBACK):  # no lock taken; pages dropped in memory
            return True
        if statement == _END:  # a writing COMMIT may checkpoint the WAL, or sync it
            return not self._writing or self._commits_on_loop()
        if statement is not None or isinstance(owner, sqlite3.Cursor):
            # a statement, or fetching its rows: on the loop inside a write transaction
            return name == "close" or (self._writing and conn.in_transaction)
        return False


_SYNCHRONOUS_NORMAL = 1  # PRAGMA synchronous: OFF 0, NORMAL 1, FULL 2, EXTRA 3

_BEGIN_WRITE, _BEGIN_READ, _END, _ROLLBACK, _OTHER = (
    "begin-write", "begin-read", "end", "rollback", "other")


def _kind(sql: str) -> str:
    """What a statement does to the transaction: BEGIN IMMEDIATE/EXCLUSIVE take the write
    lock, a deferred BEGIN takes nothing; COMMIT/END, ROLLBACK; anything else."""
    words = sql.split(None, 2)
    verb = words[0].upper() if words else ""
    if verb == "BEGIN":
        mode = words[1].upper() if len(words) > 1 else ""
        return _BEGIN_WRITE if mode in ("IMMEDIATE", "EXCLUSIVE") else _BEGIN_READ
    if verb in ("COMMIT", "END"):
        return _END
    return _ROLLBACK if verb == "ROLLBACK" else _OTHER


async def of(conn: AsyncConnection) -> Connection:
    """payoutd's driver connection under a SQLAlchemy connection on SQLite."""
    driver = (await conn.get_raw_connection()).driver_connection
    assert isinstance(driver, Connection), "payoutd's sqlite_driver"
    return driver


def marks(count: int) -> str:
    """`count` parameter marks for an IN list."""
    return ", ".join("?" * count)


def _null(value: None) -> None:
    return value


async def connect(path: str) -> Connection:
    """Opened as aiosqlite.connect opens it; the loop may use the connection between its
    thread's calls (never at the same time: SQLAlchemy runs one call at a time per
    connection), hence check_same_thread=False."""
    # sqlite3 binds int, float and str as they are, but looks every other value up in
    # its adapters, and on a miss asks the value and the protocol for __conform__ and
    # __adapt__: two AttributeErrors raised and dropped for every NULL bound, a dozen
    # per payout row (its share of an intake request: bench/README.md, "Where the time
    # goes"). Found in the adapters, None is bound at the cost of one call.
    sqlite3.register_adapter(type(None), _null)

    def connector() -> sqlite3.Connection:
        return sqlite3.connect(path, check_same_thread=False)

    connection = Connection(connector, iter_chunk_size=64)
    connection._thread.daemon = True  # as SQLAlchemy's own aiosqlite dialect sets it
    await connection
    return connection
