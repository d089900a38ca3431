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


def _row(prefix: str) -> KeyRow:
    return KeyRow(ApiKey("k-" + prefix, "m", prefix, "h", frozenset({"read"}), None,
                         datetime.now(UTC), None, None), None)


def test_rows_in_use_past_half_their_life_are_renewed_with_an_expired_one() -> None:
    cache = KeyCache(ttl=1.0)
    now = time.monotonic()
    cache.put("pk_old", _row("pk_old"), cache.generation, now - 0.8)  # past half its life
    cache.put("pk_new", _row("pk_new"), cache.generation, now - 0.1)  # young
    cache.put("pk_idle", _row("pk_idle"), cache.generation, now - 0.8)  # never found
    assert cache.get("pk_old") and cache.get("pk_new")
    assert cache.renewable(time.monotonic(), besides="pk_gone") == ["pk_old"]
    assert cache.renewable(time.monotonic(), besides="pk_old") == []
    cache.clear()
    assert cache.renewable(time.monotonic(), besides="pk_x") == []


async def test_many_keys_in_use_are_read_together_not_one_by_one(
        tmp_path: Path, database_url: str | None) -> None:
    """64 keys used over and over for three lifetimes of their rows: the first expiry
    renews the others in use that are about to expire, so the keys are read once each
    and then together, not once each per lifetime (three times each)."""
    settings = support.test_settings(tmp_path, database_url, auth_cache_seconds=0.5)
    async with support.harness(settings, truncate=database_url is not None) as h:
        ms = [await h.merchant(f"M{i}") for i in range(64)]
        reads = 0

        def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            nonlocal reads
            if "FROM api_keys" in statement and "JOIN" in statement.upper():
                reads += 1

        engine = h.rt.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            started = time.monotonic()
            while time.monotonic() - started < 1.6:
                for m in ms:
                    r = await h.client.get("/v1/balances", headers=m.headers)
                    assert r.status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert 64 <= reads < 64 + 16, reads
