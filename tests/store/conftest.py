"""A migrated SQLite database with a scratch table `t`, for the SQLite driver's tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from payoutd.bootstrap import build_database
from payoutd.store.db import Database
from payoutd.store.migrate import upgrade
from tests.support import test_settings as settings_for


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    database = build_database(settings_for(tmp_path, None))
    await upgrade(database.engine)
    async with database.unit() as uow:
        await uow.conn.execute(text("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)"))
    yield database
    await database.dispose()
