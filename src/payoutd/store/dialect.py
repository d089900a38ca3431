"""The few statements whose spelling differs between PostgreSQL and SQLite."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Table, any_, bindparam, column, func, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection


def insert(dialect: str, table: Table) -> Any:
    """An INSERT that understands ON CONFLICT on both databases."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def one_of(dialect: str, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """`column IN values`. On PostgreSQL spelled `column = ANY($1)` with one array
    parameter: the statement's text is then the same for any number of values, so it is
    prepared once per connection instead of once per list length."""
    if dialect == "postgresql":
        matches: ColumnElement[bool] = column == any_(
            bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        )
        return matches
    result: ColumnElement[bool] = column.in_(list(values))
    return result


async def update_rows(
    conn: AsyncConnection,
    dialect: str,
    table: Table,
    match: Sequence[str],
    values: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *where: ColumnElement[bool],
) -> int:
    """Many rows' UPDATEs in one statement: each row of `rows` holds the `match` columns'
    values (which row to change) then the `values` columns' new values; `where` adds
    conditions every row must meet. Returns how many rows were changed, for the caller to
    check against how many it meant to change (a compare-and-set).

    PostgreSQL: UPDATE .. FROM unnest(arrays), one statement whose text is the same for
    any number of rows (compiled and prepared once) and whose rowcount counts the rows
    changed. SQLite: executemany, which reports the rows changed over all of them."""
    if not rows:
        return 0
    names = [*(f"w_{c}" for c in match), *(f"b_{c}" for c in values)]
    types = [table.c[c].type for c in (*match, *values)]
    if dialect == "postgresql":
        arrays = [
            bindparam(n, [row[i] for row in rows], type_=postgresql.ARRAY(t))
            for i, (n, t) in enumerate(zip(names, types, strict=True))
        ]
        v = (
            func.unnest(*arrays)
            .table_valued(*(column(n, t) for n, t in zip(names, types, strict=True)))
            .render_derived(name="v")
        )
        stmt = (
            update(table)
            .where(*(table.c[c] == v.c[f"w_{c}"] for c in match), *where)
            .values({c: v.c[f"b_{c}"] for c in values})
        )
        return int((await conn.execute(stmt)).rowcount)
    stmt = (
        update(table)
        .where(*(table.c[c] == bindparam(f"w_{c}") for c in match), *where)
        .values({c: bindparam(f"b_{c}", type_=table.c[c].type) for c in values})
    )
    result = await conn.execute(stmt, [dict(zip(names, row, strict=True)) for row in rows])
    return int(result.rowcount)
