"""Migration 0007w: deliveries to a payout's callback_url name the payout, those made
before it included (from their event's subject); and it goes down again. On SQLite and
on a PostgreSQL database of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from payoutd.store.migrate import alembic_config
from tests import support


@pytest.fixture
def fresh_url(db_kind: str, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own."""
    if db_kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'payoutd.db'}"
        return
    name = support.create_pg_database()
    try:
        yield support.pg_url(name)
    finally:
        support.drop_pg_database(name)


@pytest.fixture
async def engine(fresh_url: str) -> AsyncIterator[AsyncEngine]:
    made = create_async_engine(fresh_url)
    yield made
    await made.dispose()


async def migrate(engine: AsyncEngine, how: str, revision: str) -> None:
    async with engine.begin() as conn:

        def run(sync_conn: Any) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            getattr(command, how)(cfg, revision)

        await conn.run_sync(run)


async def columns(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(
            lambda c: {col["name"] for col in inspect(c).get_columns("webhook_deliveries")}
        )


async def test_callback_deliveries_get_their_payout(engine: AsyncEngine) -> None:
    await migrate(engine, "upgrade", "0007")
    await migrate(engine, "downgrade", "0007")  # (a PostgreSQL database starts at head)
    now = datetime.now(UTC).replace(tzinfo=None)
    async with engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO outbox (id, merchant_id, type, subject_id, payload, created_at) "
                "VALUES ('ev1', 'm1', 'payout.created', 'p1', '{}', :now)"
            ),
            {"now": now},
        )
        for delivery_id, endpoint_id, url in (
            ("d-callback", None, "https://a.example/cb"),
            ("d-endpoint", "e1", "https://a.example/ep"),
        ):
            await conn.execute(
                text(
                    "INSERT INTO webhook_deliveries (id, merchant_id, endpoint_id, url, event_id, "
                    "event_seq, event_type, status, attempts, created_at) VALUES (:id, 'm1', "
                    ":endpoint_id, :url, 'ev1', 1, 'payout.created', 'pending', 0, :now)"
                ),
                {"id": delivery_id, "endpoint_id": endpoint_id, "url": url, "now": now},
            )

    await migrate(engine, "upgrade", "0007w")
    async with engine.connect() as conn:
        rows: dict[str, str | None] = dict(
            (await conn.execute(text("SELECT id, payout_id FROM webhook_deliveries"))).all()
        )
    assert rows == {"d-callback": "p1", "d-endpoint": None}

    await migrate(engine, "downgrade", "0007")
    assert "payout_id" not in await columns(engine)
    await migrate(engine, "upgrade", "head")
    assert "payout_id" in await columns(engine)
