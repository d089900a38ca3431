"""Fixtures: every API test runs on SQLite and on PostgreSQL.

PostgreSQL tests skip when no server answers on 127.0.0.1:5432, except under CI=true,
where they fail instead: CI must prove both databases."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests import support


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return support.create_sqlite_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    if not support.pg_available():
        if support.IN_CI:
            pytest.fail("PostgreSQL is required in CI (127.0.0.1:5432) but did not answer")
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432")
    name = support.create_pg_database()
    yield name
    support.drop_pg_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(
    db_kind: str, request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> str | None:
    if db_kind == "postgres":
        return support.pg_url(request.getfixturevalue("pg_database"))
    support.copy_template(sqlite_template, tmp_path)
    return None


@pytest.fixture
def pg_url(pg_database: str) -> str:
    return support.pg_url(pg_database)


@pytest.fixture
async def h(database_url: str | None, tmp_path: Path) -> AsyncIterator[support.Harness]:
    settings = support.test_settings(tmp_path, database_url)
    async with support.harness(settings, truncate=database_url is not None) as harness:
        yield harness


@pytest.fixture
async def pg(pg_url: str, tmp_path: Path) -> AsyncIterator[support.Harness]:
    """PostgreSQL only: for the concurrency tests."""
    settings = support.test_settings(tmp_path, pg_url, db_pool_size=40)
    async with support.harness(settings, truncate=True) as harness:
        yield harness


@pytest.fixture
def redis_url() -> str:
    """Redis on 127.0.0.1:6379, for limits shared by several API processes; skips (fails
    under CI=true) when none answers."""
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            pass
    except OSError:
        if support.IN_CI:
            pytest.fail("Redis is required in CI (127.0.0.1:6379) but did not answer")
        pytest.skip("Redis is not reachable on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379"
