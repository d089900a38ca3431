"""A PostgreSQL connection is checked before use only when it may have died unseen.

SQLAlchemy's `pool_pre_ping` pings every checkout, and its asyncpg ping is three round
trips (BEGIN, `;`, ROLLBACK): under load that was a quarter of the intake's round trips
per group commit, on connections that had been in use a millisecond before. What it
guards against is two different deaths:

* the server closed the connection (a restart, `pg_terminate_backend`, an idle
  timeout): the server's goodbye reaches the idle connection's socket and asyncpg marks
  it closed as soon as the event loop reads it. `is_closed()` costs nothing and is
  checked on every checkout, and so is whether the socket holds unread bytes (one
  non-blocking `select`): a goodbye that arrived in this turn of the loop, not yet
  read, sends the connection to the ping.
* the connection died without a word (a network path lost, a host gone): only a round
  trip finds out. A connection that was in use within the last `IDLE_SECONDS` is
  taken as alive, as PgBouncer's `server_check_delay` does; one idle longer is pinged.

What neither this nor pre-ping can close: a request that takes a connection in the
instant the server is ending it, before its goodbye is on the wire, fails (with pre-ping,
one that the server ends between the ping and the statement). A restart fails the
requests in flight either way.

A connection that fails is discarded with every connection older than it, and the pool
gives a new one: what pre-ping does (SQLAlchemy's InvalidatePoolError).
"""

from __future__ import annotations

import select
import time
from typing import Any

from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine

IDLE_SECONDS = 5.0
_CHECKED_IN = "payoutd_checked_in"


def install(engine: AsyncEngine, *, idle_seconds: float = IDLE_SECONDS) -> None:
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        driver = dbapi_conn.driver_connection
        if driver.is_closed():
            # as pre-ping does: a dead connection is likely not alone (a restart)
            raise exc.InvalidatePoolError("the server closed the connection")
        since = record.info.get(_CHECKED_IN)
        if (
            since is not None
            and time.monotonic() - since < idle_seconds
            and not has_unread_input(driver)
        ):
            return
        try:
            dialect.do_ping(dbapi_conn)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_conn, None):
                raise exc.InvalidatePoolError(f"ping failed: {error}") from error
            raise

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()  # it has just answered

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()


def has_unread_input(driver: Any) -> bool:
    """Whether the idle connection's socket holds bytes the event loop has not read yet.

    An idle connection receives nothing unless the server is saying goodbye (or, rarely,
    a notice): a termination that arrived in this very turn of the loop is seen here,
    before asyncpg has read it and marked the connection closed. asyncpg has no public
    accessor for its socket; without one, the connection is pinged."""
    transport = getattr(driver, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return True
    try:
        poller = select.poll()  # (select.select refuses descriptors from 1024 up)
        poller.register(sock.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True
