"""Alembic, driven from code: `payoutd migrate`, `serve` at start, and the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine

from payoutd.services.ports import Secrets

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, secrets: Secrets | None = None
) -> None:
    """`secrets`: for the migrations that seal or open stored secrets (0007); a database
    with none stored needs none."""
    await _run(engine, command.upgrade, revision, secrets)


async def downgrade(engine: AsyncEngine, revision: str, *, secrets: Secrets | None = None) -> None:
    await _run(engine, command.downgrade, revision, secrets)


async def _run(
    engine: AsyncEngine, step: Callable[[Config, str], None], revision: str, secrets: Secrets | None
) -> None:
    async with engine.begin() as conn:

        def run(sync_conn: object) -> None:
            cfg = alembic_config()
            cfg.attributes["connection"] = sync_conn
            cfg.attributes["secret_box"] = secrets
            step(cfg, revision)

        await conn.run_sync(run)
