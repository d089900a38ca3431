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
from payoutd.domain.access import ApiKey
from payoutd.services import access
from tests import support
from tests.support import Harness


async def test_a_key_deleted_through_this_api_stops_working_at_once(h: Harness) -> None:
    m = await h.merchant("Acme", BTC="1")
    r = await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"name": "spare", "scopes": ["read"]}
    )
    assert r.status_code == 201, r.text
    spare = {"Authorization": f"Bearer {r.json()['key']}"}
    assert (await h.client.get("/v1/balances", headers=spare)).status_code == 200  # cached
    r = await h.client.delete(f"/v1/api-keys/{r.json()['id']}", headers=m.headers)
    assert r.status_code == 204, r.text
    assert (await h.client.get("/v1/balances", headers=spare)).status_code == 401


async def test_another_process_s_change_is_seen_within_the_cache_time(
    tmp_path: Path, database_url: str | None
) -> None:
    settings = support.test_settings(tmp_path, database_url, auth_cache_seconds=0.3)
    async with support.harness(settings, truncate=database_url is not None) as h:
        m = await h.merchant("Acme", BTC="1")
        assert (await h.client.get("/v1/balances", headers=m.headers)).status_code == 200
        async with h.rt.db.unit() as uow:  # as another API process or host would
            key = (await uow.merchants.keys(m.id))[0]
            await access.delete_key(uow, h.rt.ctx, m.id, key.id, None, actor="test", source=None)
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
            await access.delete_key(uow, h.rt.ctx, m.id, key.id, None, actor="test", source=None)
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
    key = ApiKey("k", "m", "pk_x", "h", frozenset({"read"}), None, datetime.now(UTC), None, None)
    row = KeyRow(key, None)
    began, read_at = cache.generation, time.monotonic()
    cache.clear()  # a change was answered while that read ran
    cache.put("pk_x", row, began, read_at)
    assert cache.get("pk_x") is None
    cache.put("pk_x", row, cache.generation, read_at)
    assert cache.get("pk_x") is row


def test_a_row_s_age_counts_from_when_its_read_was_asked() -> None:
    cache = KeyCache(ttl=60)
    key = ApiKey("k", "m", "pk_x", "h", frozenset({"read"}), None, datetime.now(UTC), None, None)
    cache.put("pk_x", KeyRow(key, None), cache.generation, time.monotonic() - 61)
    assert cache.get("pk_x") is None  # the read waited: already older than the ttl


def _row(prefix: str) -> KeyRow:
    return KeyRow(
        ApiKey(
            "k-" + prefix,
            "m",
            prefix,
            "h",
            frozenset({"read"}),
            None,
            datetime.now(UTC),
            None,
            None,
        ),
        None,
    )


def test_rows_in_use_past_half_their_life_are_renewed_with_an_expired_one() -> None:
    cache = KeyCache(ttl=1.0)
    now = time.monotonic()
    cache.put("pk_old", _row("pk_old"), cache.generation, now - 0.8)  # past half its life
    cache.put("pk_new", _row("pk_new"), cache.generation, now - 0.1)  # young
    cache.put(
        "pk_idle", _row("pk_idle"), cache.generation, now - 0.8, used=False
    )  # only renewed with another, never asked for
    assert cache.get("pk_old") and cache.get("pk_new")
    assert cache.renewable(time.monotonic(), besides="pk_gone") == ["pk_old"]
    assert cache.renewable(time.monotonic(), besides="pk_old") == []
    cache.drop("pk_old")  # a read that did not find it
    assert cache.get("pk_old") is None
    assert cache.renewable(time.monotonic(), besides="pk_gone") == []
    cache.clear()
    assert cache.get("pk_new") is None


async def test_many_keys_in_use_are_read_together_not_one_by_one(
    tmp_path: Path, database_url: str | None
) -> None:
    """64 keys used over and over for three lifetimes of their rows (on the cache's own
    clock, moved by hand): the first expiry renews the others in use that are about to
    expire, so the keys are read once each and then together, not once each per
    lifetime."""
    settings = support.test_settings(tmp_path, database_url, auth_cache_seconds=0.5)
    async with support.harness(settings, truncate=database_url is not None) as h:
        ms = [await h.merchant(f"M{i}") for i in range(64)]
        cache: KeyCache = h.app.state.key_cache
        now = [1000.0]
        cache.clock = lambda: now[0]
        reads = 0

        def count(conn: object, cursor: object, statement: str, *rest: object) -> None:
            nonlocal reads
            if "FROM api_keys" in statement and "JOIN" in statement.upper():
                reads += 1

        engine = h.rt.db.engine.sync_engine
        event.listen(engine, "before_cursor_execute", count)
        try:
            for _ in range(24):  # 1.5 s: a round of the 64 keys every 1/16 s
                for m in ms:
                    r = await h.client.get("/v1/balances", headers=m.headers)
                    assert r.status_code == 200
                    now[0] += 1 / 16 / 64
        finally:
            event.remove(engine, "before_cursor_execute", count)
        # 64 first reads, then a renewal about every 0.25-0.5 s; one by one, each key
        # would be read again every 0.5 s: about 192 reads
        assert 64 <= reads <= 64 + 8, reads


async def test_a_key_deleted_elsewhere_is_refused_after_a_renewal_read_it(h: Harness) -> None:
    """Renewed with another key's read, before its own row expired."""
    m = await h.merchant("Acme", BTC="1")
    r = await h.client.post(
        "/v1/api-keys", headers=m.headers, json={"name": "spare", "scopes": ["read"]}
    )
    spare = {"Authorization": f"Bearer {r.json()['key']}"}
    cache: KeyCache = h.app.state.key_cache
    cache.ttl = 60.0
    now = [1000.0]
    cache.clock = lambda: now[0]
    for headers in (m.headers, spare):  # both cached, both in use
        assert (await h.client.get("/v1/balances", headers=headers)).status_code == 200
    async with h.rt.db.unit() as uow:  # deleted as another process would
        key = next(k for k in await uow.merchants.keys(m.id) if k.name == "spare")
        await access.delete_key(uow, h.rt.ctx, m.id, key.id, None, actor="test", source=None)
    now[0] += 45  # the spare key's row is past half its life, still cached
    other = await h.merchant("Other", BTC="1")  # a miss: its read renews the spare key's
    assert (await h.client.get("/v1/balances", headers=other.headers)).status_code == 200
    assert (await h.client.get("/v1/balances", headers=spare)).status_code == 401
