"""PostgreSQL connections the server has closed, or that idled long, are checked before
use (payoutd.store.pool_checks): a request after a restart or a terminated backend is
answered, never a 5xx; a connection in steady use is not pinged."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy.engine.interfaces import DBAPIConnection

from payoutd.store import pool_checks
from tests.support import Harness

pytestmark = pytest.mark.postgres


async def _terminate_backends(h: Harness) -> int:
    """Ends every server process of payoutd's database but the caller's, as a restart
    or an administrator would."""
    url = h.rt.db.engine.url
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        return int(
            await conn.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


def _count_pings(h: Harness) -> list[int]:
    pings = [0]
    dialect = h.rt.db.engine.sync_engine.dialect
    original = dialect.do_ping

    def counting(dbapi_conn: DBAPIConnection) -> bool:
        pings[0] += 1
        return original(dbapi_conn)

    # counts this one engine's pings: an instance attribute over the dialect's method, which
    # mypy takes for the unbound method (with self)
    dialect.do_ping = counting  # type: ignore[method-assign,assignment]
    return pings


async def test_a_request_after_the_backends_were_terminated_is_answered(pg: Harness) -> None:
    m = await pg.merchant(BTC="1")
    headers = {"Authorization": f"Bearer {m.key}"}
    for _ in range(3):
        assert (await pg.client.get("/v1/balances", headers=headers)).status_code == 200
    assert await _terminate_backends(pg) >= 1
    await asyncio.sleep(0.2)  # the server's goodbye reaches the idle sockets
    for _ in range(3):
        r = await pg.client.get("/v1/balances", headers=headers)
        assert r.status_code == 200, r.text


async def test_a_connection_idle_longer_than_the_delay_is_pinged_and_a_busy_one_is_not(
    pg: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    m = await pg.merchant(BTC="1")
    headers = {"Authorization": f"Bearer {m.key}"}
    pings = _count_pings(pg)
    for _ in range(5):
        assert (await pg.client.get("/v1/balances", headers=headers)).status_code == 200
    assert pings[0] == 0  # in use a moment ago: taken as alive

    # the same engine with a delay of zero: every checkout is "idle", so pinged
    engine = pg.rt.db.engine
    pool_checks.install(engine, idle_seconds=0)  # (its listeners go with the engine)
    assert (await pg.client.get("/v1/balances", headers=headers)).status_code == 200
    assert pings[0] >= 1
