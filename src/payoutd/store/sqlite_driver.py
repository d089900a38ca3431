"""payoutd's SQLite connection: a stdlib sqlite3 connection, a thread of its own for the
calls that can wait, and a thread hop only where a call can wait.

SQLAlchemy's aiosqlite dialect drives it (`connect` is the engine's `async_creator`): the
class answers the methods of aiosqlite's Connection and Cursor that the dialect calls,
and is payoutd's own, so that which call runs where is decided here, with no
aiosqlite or SQLAlchemy internals.

A call on the connection's thread is a hop: a future, a queue, a thread wake-up and a
wake-up of the loop, and SQLAlchemy makes four calls per statement
(cursor, execute, fetchall, close). The intake's group commit sends about a dozen
statements per batch: some 40 hops, most of its CPU and of the time the write lock is
held (bench/README.md, "Where the time goes").

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
the answer only after everything queued before it (other requests' work), and the
group commit's throughput follows its cycle (bench/README.md, "Where the time goes").
What busy_timeout does not bound: the first BEGIN after another process crashed
rebuilds the WAL's index from the WAL, on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")

# what a call is, for where it runs (`Connection._on_loop`)
_CURSOR, _CLOSE_CURSOR, _COMMIT, _ROLLBACK, _STATEMENT, _FETCH, _OTHER = (
    "cursor",
    "close-cursor",
    "commit",
    "rollback",
    "statement",
    "fetch",
    "other",
)

_Call = tuple["asyncio.Future[Any] | None", Callable[[], Any]]  # (None: no one waits)


class Connection:
    """A sqlite3 connection whose calls that cannot wait run on the loop, and the others
    on the connection's own thread, one at a time in the order they were asked."""

    def __init__(self, calls: queue.SimpleQueue[_Call | None], iter_chunk_size: int) -> None:
        self._sqlite: sqlite3.Connection | None = None  # None once closed
        self._calls = calls  # to the connection's thread; None ends it
        self._iter_chunk_size = iter_chunk_size
        self._writing = False  # inside a transaction opened by BEGIN IMMEDIATE (or EXCLUSIVE)
        self._sent = 0  # calls handed to the connection's thread, and of them
        self._done = 0  # those it has finished (a cancelled wait does not stop the call)
        self._held = False  # the process's write connection (hold_for_writes)
        self._busy_timeout_ms = 0  # its busy_timeout, put back after a BEGIN tried on the loop

    # -- what SQLAlchemy's aiosqlite dialect calls (aiosqlite's public interface) ----

    @property
    def _connection(self) -> sqlite3.Connection | None:
        # Read by SQLAlchemy's aiosqlite adapter (aiosqlite's name for the sqlite3
        # connection): its commit and rollback do nothing once this is None (closed).
        return self._sqlite

    @property
    def isolation_level(self) -> str | None:
        return self._open().isolation_level

    def cursor(self) -> Cursor:
        """A cursor, made when entered (`async with`), as aiosqlite's."""
        return Cursor(self)

    async def commit(self) -> None:
        conn = self._open()
        await self._run(conn.commit, _COMMIT)

    async def rollback(self) -> None:
        conn = self._open()
        await self._run(conn.rollback, _ROLLBACK)

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        conn = self._open()
        await self._run(functools.partial(conn.create_function, *args, **kwargs), _OTHER)

    async def close(self) -> None:
        """Closes the sqlite3 connection on its thread, after the calls before it; the
        thread ends with it."""
        conn, self._sqlite = self._sqlite, None
        if conn is None:
            return
        try:
            await self._hop(conn.close)
        finally:
            self._calls.put_nowait(None)

    def stop(self) -> None:
        """Closes without waiting (SQLAlchemy's terminate, when a close did not finish)."""
        conn, self._sqlite = self._sqlite, None
        if conn is not None:
            self._calls.put_nowait((None, conn.close))
            self._calls.put_nowait(None)

    def __del__(self) -> None:
        # dropped without a close: its thread ends, and sqlite3 closes the connection
        if self._sqlite is not None:
            self._calls.put_nowait(None)

    # -- payoutd's own ------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No call on the thread and no transaction open: safe to use for the next one."""
        conn = self._sqlite
        return conn is not None and self._done == self._sent and not conn.in_transaction

    @property
    def total_changes(self) -> int:
        """Rows this connection has inserted, updated or deleted since it was opened."""
        return self._open().total_changes

    async def hold_for_writes(self) -> None:
        """Make this the process's write connection: the WAL's automatic checkpoint off
        (the holder asks for `checkpoint`), so that a COMMIT only appends to the WAL and
        runs on the loop, as BEGIN IMMEDIATE does when the lock is free. With
        synchronous=FULL a COMMIT fsyncs the WAL: then it keeps its hop."""
        conn = self._open()

        def setup() -> tuple[int, int]:
            conn.execute("PRAGMA wal_autocheckpoint=0").close()
            sync = conn.execute("PRAGMA synchronous").fetchone()[0]
            busy = conn.execute("PRAGMA busy_timeout").fetchone()[0]
            return int(sync), int(busy)

        sync, self._busy_timeout_ms = await self._hop(setup)
        self._held = True
        self._commit_on_loop = sync <= _SYNCHRONOUS_NORMAL

    async def checkpoint(self, *, restart_within_ms: int | None = None) -> bool:
        """A checkpoint on the connection's thread; whether it completed. PASSIVE waits
        for no one (frames a reader's snapshot still needs stay in the WAL). With
        `restart_within_ms` it is a RESTART, which also waits that long at most for the
        readers of the WAL, so that the next write starts the WAL from its beginning:
        SQLite starts it over only when no reader is still on it."""
        mode = "PASSIVE" if restart_within_ms is None else "RESTART"
        conn = self._open()

        def run() -> bool:
            waiting = (
                contextlib.nullcontext()
                if restart_within_ms is None
                else self._busy_timeout(conn, restart_within_ms)
            )
            with waiting:
                busy, frames, copied = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
            return bool(busy == 0 and copied == frames)

        done = await self._hop(run)
        if done and restart_within_ms is not None:
            # the write that starts the WAL over writes its header and syncs it
            self._sync_next_commit = True
        return done

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """`fn(connection)`: several statements at once on the sqlite3 connection itself
        (the intake's batch, `store.placements`), without SQLAlchemy's execution around
        each. Inside a write transaction on the loop's thread, as any statement there;
        otherwise on the connection's thread.

        Not on the thread inside a write transaction, though its C work would then run
        beside the loop: sqlite3 releases the GIL for every step of a statement, and each
        time the thread waits to take it back from a busy loop (up to the interpreter's
        switch interval). A batch of payouts was a few dozen such waits, and the intake's
        throughput fell with its write lane's latency (bench/README.md)."""
        conn = self._open()
        if self._done == self._sent and self._writing and conn.in_transaction:
            try:
                return fn(conn)
            finally:
                self._writing = conn.in_transaction
        return await self._run(functools.partial(fn, conn), _OTHER)

    # -- where a call runs --------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        conn = self._sqlite
        if conn is None:
            # the words SQLAlchemy's aiosqlite dialect reads as a disconnect
            raise ValueError("Connection closed")
        return conn

    async def _run(self, fn: Callable[[], T], call: str, statement: str | None = None) -> T:
        """`fn()` on the loop if it cannot wait, otherwise on the connection's thread."""
        conn = self._open()
        try:
            # never beside a call still running on the thread
            if self._done == self._sent:
                if self._on_loop(conn, call, statement):
                    return fn()
                if statement == _BEGIN_WRITE and self._held:
                    try:
                        with self._busy_timeout(conn, 0):  # refused at once if the lock is taken
                            return fn()
                    except sqlite3.OperationalError as exc:
                        if exc.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY:  # (extended)
                            raise
                    # another process holds the write lock: wait for it on the thread
            return await self._hop(fn)
        finally:
            # whatever ended the transaction (COMMIT, ROLLBACK, an error) ends the writing
            try:
                self._writing = conn.in_transaction and (self._writing or statement == _BEGIN_WRITE)
            except sqlite3.ProgrammingError:  # the call closed the connection
                self._writing = False

    async def _hop(self, fn: Callable[[], T]) -> T:
        """The call runs on the connection's thread; its answer comes back to the loop."""
        self._sent += 1

        def counted() -> T:
            try:
                return fn()
            finally:
                self._done += 1  # only the connection's thread writes it

        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._calls.put_nowait((future, counted))
        return await future

    @contextlib.contextmanager
    def _busy_timeout(self, conn: sqlite3.Connection, ms: int) -> Iterator[None]:
        """The connection's busy_timeout at `ms` for one call, then as it was."""
        conn.execute(f"PRAGMA busy_timeout={ms}").close()
        try:
            yield
        finally:
            conn.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}").close()

    _commit_on_loop = False  # a writing COMMIT neither checkpoints nor syncs, unless
    _sync_next_commit = False  # it is the first after a RESTART checkpoint

    def _commits_on_loop(self) -> bool:
        """Whether this writing COMMIT only appends to the WAL (asked just before it)."""
        if self._sync_next_commit:
            self._sync_next_commit = False
            return False
        return self._commit_on_loop

    def _on_loop(self, conn: sqlite3.Connection, call: str, statement: str | None) -> bool:
        if call in (_CURSOR, _CLOSE_CURSOR, _ROLLBACK):
            return True
        if call == _COMMIT:
            return not self._writing or self._commits_on_loop()
        if statement == _BEGIN_WRITE:  # may wait busy_timeout for another process's writer
            return False
        if statement in (_BEGIN_READ, _ROLLBACK_STATEMENT):  # no lock; pages dropped in memory
            return True
        if statement == _END:  # a writing COMMIT may checkpoint the WAL, or sync it
            return not self._writing or self._commits_on_loop()
        if call in (_STATEMENT, _FETCH):
            # a statement, or fetching its rows: on the loop inside a write transaction
            return self._writing and conn.in_transaction
        return False


class Cursor:
    """A sqlite3 cursor whose calls run where its connection decides (aiosqlite's Cursor
    interface, as SQLAlchemy's dialect uses it)."""

    def __init__(self, connection: Connection) -> None:
        self._owner = connection
        self._cursor: sqlite3.Cursor | None = None

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._owner._run(self._owner._open().cursor, _CURSOR)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _made(self) -> sqlite3.Cursor:
        assert self._cursor is not None, "a cursor is used inside `async with`"
        return self._cursor

    async def execute(self, sql: str, parameters: Any = ()) -> Cursor:
        await self._owner._run(
            functools.partial(self._made().execute, sql, parameters), _STATEMENT, _kind(sql)
        )
        return self

    async def executemany(self, sql: str, parameters: Any) -> Cursor:
        await self._owner._run(
            functools.partial(self._made().executemany, sql, parameters), _STATEMENT, _kind(sql)
        )
        return self

    async def fetchone(self) -> Any:
        return await self._owner._run(self._made().fetchone, _FETCH)

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        cursor = self._made()
        fetch = cursor.fetchmany if size is None else functools.partial(cursor.fetchmany, size)
        return await self._owner._run(fetch, _FETCH)

    async def fetchall(self) -> list[Any]:
        return await self._owner._run(self._made().fetchall, _FETCH)

    async def close(self) -> None:
        if self._cursor is not None:
            await self._owner._run(self._cursor.close, _CLOSE_CURSOR)

    async def __aiter__(self) -> AsyncIterator[Any]:
        while rows := await self.fetchmany(self._owner._iter_chunk_size):
            for row in rows:
                yield row

    @property
    def description(self) -> Any:
        return self._made().description

    @property
    def rowcount(self) -> int:
        return self._made().rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._made().lastrowid

    @property
    def arraysize(self) -> int:
        return self._made().arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._made().arraysize = value


_SYNCHRONOUS_NORMAL = 1  # PRAGMA synchronous: OFF 0, NORMAL 1, FULL 2, EXTRA 3

_BEGIN_WRITE, _BEGIN_READ, _END, _ROLLBACK_STATEMENT, _OTHER_STATEMENT = (
    "begin-write",
    "begin-read",
    "end",
    "rollback-statement",
    "other-statement",
)


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
    return _ROLLBACK_STATEMENT if verb == "ROLLBACK" else _OTHER_STATEMENT


def _serve(calls: queue.SimpleQueue[_Call | None]) -> None:
    """The connection's thread: its calls one at a time, each answered on its loop."""
    while (item := calls.get()) is not None:
        future, fn = item
        outcome: Callable[[asyncio.Future[Any], Any], None]
        try:
            outcome, value = _answer, fn()
        except BaseException as exc:  # (answered on the loop, as the call's own)
            outcome, value = _fail, exc
        if future is None:
            continue
        with contextlib.suppress(RuntimeError):  # the loop closed: no one is waiting
            future.get_loop().call_soon_threadsafe(outcome, future, value)


def _answer(future: asyncio.Future[Any], value: Any) -> None:
    if not future.done():  # (its waiter may have been cancelled)
        future.set_result(value)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


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
    """Opened on its own thread; the loop uses the connection between that thread's calls
    (never at the same time: SQLAlchemy runs one call at a time per connection, and
    `Connection` none beside a call still on the thread), hence check_same_thread=False.
    isolation_level=None: sqlite3 begins no transaction by itself, payoutd issues BEGIN
    (`store.db.tune_sqlite`)."""
    # sqlite3 binds int, float and str as they are, but looks every other value up in
    # its adapters, and on a miss asks the value and the protocol for __conform__ and
    # __adapt__: two AttributeErrors raised and dropped for every NULL bound, a dozen
    # per payout row. Found in the adapters, None is bound at the cost of one call.
    sqlite3.register_adapter(type(None), _null)
    calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
    # a daemon, as SQLAlchemy's own aiosqlite dialect makes aiosqlite's: a connection
    # left open (or a BEGIN waiting busy_timeout) does not hold up the interpreter's exit
    threading.Thread(target=_serve, args=(calls,), name="payoutd-sqlite", daemon=True).start()
    connection = Connection(calls, iter_chunk_size=64)
    try:
        connection._sqlite = await connection._hop(
            functools.partial(sqlite3.connect, path, check_same_thread=False, isolation_level=None)
        )
    except BaseException:
        calls.put_nowait(None)
        raise
    return connection
