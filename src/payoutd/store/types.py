"""Column types that keep amounts exact and timestamps in UTC on both databases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from payoutd.domain.money import fmt


class Amount(TypeDecorator[Decimal]):
    """NUMERIC(38, 18) on PostgreSQL; TEXT on SQLite, whose NUMERIC affinity would turn
    values into 8-byte floats and lose digits (DESIGN §1.6). Never compare or add these
    in SQL on SQLite: the arithmetic happens in Python there."""

    impl = Numeric(38, 18)  # so SQL expressions (+, -, >=) are numeric, not string concatenation
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, 18, asdecimal=True))
        return dialect.type_descriptor(String(64))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, Decimal):
            value = Decimal(value)
        return value if dialect.name == "postgresql" else fmt(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime")
        value = value.astimezone(UTC)
        return value if dialect.name == "postgresql" else value.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def bind_processor(type_: TypeEngine[Any], dialect: Dialect) -> Any:
    """The function that turns a value into what `dialect`'s driver binds for `type_`, or
    None when the value goes as it is: what SQLAlchemy applies when it executes. For
    statements payoutd sends to the driver itself; callers keep it (it is the same for
    the life of the dialect)."""
    return type_.dialect_impl(dialect).bind_processor(dialect)


def result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Any:
    """The function that turns what `dialect`'s driver returns for `type_` into its Python
    value, or None when the value is used as it is (see `bind_processor`)."""
    return type_.dialect_impl(dialect).result_processor(dialect, None)
