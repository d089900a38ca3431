"""The few statements whose spelling differs between PostgreSQL and SQLite."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite


def insert(dialect: str, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on both databases."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
