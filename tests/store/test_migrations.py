"""The Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyotp
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from payoutd.domain.webhooks import new_secret
from payoutd.secretbox import KeyFile, SecretBox, is_sealed
from payoutd.store.migrate import downgrade, upgrade
from payoutd.store.tables import api_keys, merchants, metadata, webhook_endpoints
from tests import support


async def test_migrated_schema_matches_tables(database_url: str | None, tmp_path: Path) -> None:
    url = database_url or f"sqlite+aiosqlite:///{tmp_path / 'payoutd.db'}"
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:

            def diff(sync_conn: Any) -> list[Any]:
                ctx = MigrationContext.configure(sync_conn, opts={"compare_type": False})
                return list(compare_metadata(ctx, metadata))

            assert await conn.run_sync(diff) == []
    finally:
        await engine.dispose()


@pytest.fixture
def at_0006(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A database migrated up to 0006 only, the revision before secrets were sealed."""
    if db_kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        asyncio.run(_upgrade_to(url, "0006"))
        yield url
        return
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database("0006")
    try:
        yield support.pg_url(name)
    finally:
        support.drop_pg_database(name)


async def _upgrade_to(url: str, revision: str) -> None:
    engine = create_async_engine(url)
    await upgrade(engine, revision)
    await engine.dispose()


SECRET_COLUMNS = [
    (merchants, "webhook_secret"),
    (merchants, "totp_secret"),
    (api_keys, "signing_secret"),
    (webhook_endpoints, "secret"),
    (webhook_endpoints, "previous_secret"),
]


async def _stored(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as conn:
        return [
            (await conn.execute(select(table.c[column]))).scalar_one()
            for table, column in SECRET_COLUMNS
        ]


async def test_0007_seals_the_secrets_stored_before_it_and_0006_gets_them_back(
    at_0006: str, tmp_path: Path
) -> None:
    plain = [
        new_secret(),
        pyotp.random_base32(),
        secrets.token_urlsafe(32),
        new_secret(),
        new_secret(),
    ]
    now = datetime.now(UTC)
    engine = create_async_engine(at_0006)
    box = SecretBox.from_file(KeyFile(tmp_path / "secret.key"))
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(merchants).values(
                    id="m1",
                    name="Acme",
                    created_at=now,
                    webhook_secret=plain[0],
                    totp_secret=plain[1],
                )
            )
            await conn.execute(
                text(
                    "INSERT INTO api_keys (id, merchant_id, prefix, key_hash, scopes, created_at,"
                    " signing_secret) VALUES ('k1', 'm1', 'pk_1', :h, 'read', :now, :s)"
                ),
                {"h": "0" * 64, "now": now, "s": plain[2]},
            )
            await conn.execute(
                insert(webhook_endpoints).values(
                    id="e1",
                    merchant_id="m1",
                    url="https://example.com/hooks",
                    event_types=["*"],
                    secret=plain[3],
                    previous_secret=plain[4],
                    status="enabled",
                    created_at=now,
                    updated_at=now,
                )
            )

        await upgrade(engine, "0007", secrets=box)
        sealed = await _stored(engine)
        assert all(is_sealed(v) for v in sealed), sealed
        assert [box.open(v) for v in sealed] == plain
        async with engine.connect() as conn:
            # only the hash of a key made before 0007 was ever stored: no sealed copy
            assert (await conn.execute(select(api_keys.c.secret_sealed))).scalar_one() is None

        await downgrade(engine, "0006", secrets=box)
        assert await _stored(engine) == plain
    finally:
        await engine.dispose()
