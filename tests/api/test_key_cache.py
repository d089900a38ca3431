"""The key rows an API process keeps (payoutd.api.reads): changes through its own API
apply at once, other processes' changes within `auth_cache_seconds`, and the cache never
turns into a write per request."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import event

from payoutd.api.reads import KeyCache, KeyRow
from payoutd.services import access
from payoutd.store.merchants import ApiKey
from tests import support
from tests.support import Harness


async def test_a_key_deleted_through_this_api_stops_working_at_once(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    r = await h.client.post("/v1/api-keys", headers=m.headers,
                            json={"name": "spare", "scopes": ["read"]})
    assert r.status_code == 201, r.text
    spare = {"Authorization": f"Bearer {r.json()['key']}"}
    assert (await h.client.get("/v1/balances", headers=spare)).status_code == 200  # cached
    r = await h.client.delete(f"/v1/api-keys/{r.json()['id']}", headers=m.headers)
    assert r.status_code == 204, r.text
    assert (await h.client.get("/v1/balances", headers=spare)).status_code == 401


async def test_another_process_s_change_is_seen_within_the_cache_time(
        tmp_path: Path, database_url: str | None) -> None:
    settings = support.test_settings(tmp_path, database_url, auth_cache_seconds=0.3)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant("Acme", BTC="1")
        assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200
        async with h.rt.db.unit() as uow:  # as another API process or host would
            key = (await uow.merchants.keys(m.id))[0]
            await access.delete_key(uow, h.rt.ctx, m.id, key.id, actor="test", source=None)
        # at most auth_cache_seconds later, refused
        await asyncio.sleep(0.35)
        assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 401


async def test_no_cache_reads_every_time(tmp_path: Path, database_url: str | None) -> None:
    settings = support.test_settings(tmp_path, database_url, auth_cache_seconds=0)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant("Acme", BTC="1")
        assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200
        async with h.rt.db.unit() as uow:
            key = (await uow.merchants.keys(m.id))[0]
            await access.delete_key(uow, h.rt.ctx, m.id, key.id, actor="test", source=None)
        assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 401


async def test_last_used_is_written_once_a_minute_not_per_request(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    touches = 0

    def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
        nonlocal touches
        if statement.lstrip().upper().startswith("UPDATE API_KEYS"):
            touches += 1

    engine = h.rt.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(20):
            assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200
        assert touches == 1
        h.clock.advance(61)
        for _ in range(5):
            assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200
        assert touches == 2
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_a_read_that_began_before_a_clear_is_not_kept() -> None:
    cache = KeyCache(ttl=60)
    key = ApiKey("k", "m", "pk_x", "h", frozenset({"read"}), None, datetime.now(UTC), None,
                 None)
    row = KeyRow(key, None)
    began, read_at = cache.generation, time.monotonic()
    cache.clear()  # a change was answered while that read ran
    cache.put("pk_x", row, began, read_at)
    assert cache.get("pk_x") is None
    cache.put("pk_x", row, cache.generation, read_at)
    assert cache.get("pk_x") is row


def test_a_row_s_age_counts_from_when_its_read_was_asked() -> None:
    cache = KeyCache(ttl=60)
    key = ApiKey("k", "m", "pk_x", "h", frozenset({"read"}), None, datetime.now(UTC), None,
                 None)
    cache.put("pk_x", KeyRow(key, None), cache.generation, time.monotonic() - 61)
    assert cache.get("pk_x") is None  # the read waited: already older than the ttl
