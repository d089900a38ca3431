"""payoutd relies on no private API of SQLAlchemy or aiosqlite (issue 18): their
underscored names change between releases without notice. The SQLite connection is
payoutd's own (store.sqlite_driver) and type processing goes through public
`TypeEngine` methods (store.types)."""

from __future__ import annotations

import ast
from pathlib import Path

import aiosqlite
from sqlalchemy.ext.asyncio import AsyncConnection

import payoutd
from payoutd.store import sqlite_driver
from payoutd.store.db import Database

SOURCE = Path(payoutd.__file__).parent

# SQLAlchemy's TypeEngine internals: no payoutd name is spelled so
SQLALCHEMY_PRIVATE = frozenset(
    {"_cached_bind_processor", "_cached_result_processor", "_type_memos", "_dialect_info"}
)
# aiosqlite's Connection internals. payoutd's own classes may have attributes so named
# (the intake's `_running`), read on `self`; never on an object of another's.
AIOSQLITE_PRIVATE = frozenset(
    {"_execute", "_tx", "_connection", "_conn", "_running", "_thread", "_connect", "_stop_running"}
)


def private_uses(source: str) -> list[str]:
    """Where `source` imports aiosqlite or reads one of the names above."""
    found = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "aiosqlite" for a in node.names
        ):
            found.append(f"{line}: import aiosqlite")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "aiosqlite":
            found.append(f"{line}: from aiosqlite import")
        elif isinstance(node, ast.Attribute):
            on_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            if node.attr in SQLALCHEMY_PRIVATE or (node.attr in AIOSQLITE_PRIVATE and not on_self):
                found.append(f"{line}: .{node.attr}")
        elif isinstance(node, ast.Constant) and node.value in (
            SQLALCHEMY_PRIVATE | AIOSQLITE_PRIVATE
        ):
            found.append(f"{line}: {node.value!r}")  # getattr(obj, "_tx")
    return sorted(found, key=lambda use: int(use.split(":")[0]))


def test_no_module_of_payoutd_uses_a_private_api_of_sqlalchemy_or_aiosqlite() -> None:
    found = {
        str(path.relative_to(SOURCE)): uses
        for path in sorted(SOURCE.rglob("*.py"))
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}


def test_the_check_finds_what_payoutd_used_before() -> None:
    """What store.sqlite_driver and store.ledger did before issue 18."""
    before = """
import aiosqlite
class Connection(aiosqlite.Connection):
    async def _execute(self, fn, *args):
        return await super()._execute(fn, *args)
def amount(dialect):
    return ledger_accounts.c.balance.type._cached_result_processor(dialect, None)
async def connect(path):
    connection = Connection(path)
    connection._thread.daemon = True
    other._tx.put_nowait((future, call))
    return getattr(connection, "_connection")
"""
    assert private_uses(before) == [
        "2: import aiosqlite",
        "5: ._execute",
        "7: ._cached_result_processor",
        "10: ._thread",
        "11: ._tx",
        "12: '_connection'",
    ]


async def test_the_sqlite_connection_is_payoutds_own(sqlite_db: Database) -> None:
    """What SQLAlchemy's dialect drives is payoutd's class, not aiosqlite's."""
    conn: AsyncConnection
    async with sqlite_db.engine.connect() as conn:
        driver = await sqlite_driver.of(conn)
        assert not isinstance(driver, aiosqlite.Connection)
        assert type(driver).__mro__ == (sqlite_driver.Connection, object)
