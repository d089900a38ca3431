"""A PostgreSQL connection is checked before use only when it may have died unseen.

SQLAlchemy's `pool_pre_ping` pings every checkout, and its asyncpg ping is three round
trips (BEGIN, `;`, ROLLBACK): under load that was a quarter of the intake's round trips
per group commit, on connections that had been in use a millisecond before. What it
guards against is two different deaths:

* the server closed the connection (a restart, `pg_terminate_backend`, an idle
  timeout): the server's goodbye reaches the idle connection's socket and asyncpg marks
  it closed as soon as the event loop reads it. `is_closed()` costs nothing and is
  checked on every checkout.
* the connection died without a word (a network path lost, a host gone): only a round
  trip finds out. A connection that was in use within the last `IDLE_SECONDS` is
  taken as alive, as PgBouncer's `server_check_delay` does; one idle longer is pinged.

A connection that fails either check is discarded and the pool gives another
(SQLAlchemy's DisconnectionError protocol, the same one pre-ping uses).
"""

from __future__ import annotations

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
        if dbapi_conn.driver_connection.is_closed():
            raise exc.DisconnectionError("the server closed the connection")
        since = record.info.get(_CHECKED_IN)
        if since is not None and time.monotonic() - since < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as error:
            raise exc.DisconnectionError(f"ping failed: {error}") from error

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()  # it has just answered

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()
