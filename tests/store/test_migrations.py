"""The Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from payoutd.store.tables import metadata


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
