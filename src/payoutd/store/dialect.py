"""The few statements whose spelling differs between PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam
from sqlalchemy.dialects import postgresql, sqlite


def insert(dialect: str, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on both databases."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def one_of(dialect: str, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL spelled `column = ANY($1)` with one array
    parameter: the statement's text is then the same for any number of values, so it is
    prepared once per connection instead of once per list length."""
    if dialect == "postgresql":
        matches: ColumnElement[bool] = column == any_(
            bindparam(None, list(values), type_=postgresql.ARRAY(column.type)))
        return matches
    result: ColumnElement[bool] = column.in_(list(values))
    return result
