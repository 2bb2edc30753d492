"""Declarative base, naming convention and column types shared by every model."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import JSON, Boolean, ColumnElement, DateTime, MetaData, String, bindparam, literal
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class _PathRange(ColumnElement):
    """`lower <= column < upper`, with the operators of the path index's text_pattern_ops on PostgreSQL."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("lower", InternalTraversal.dp_clauseelement),
                           ("upper", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, lower: str, upper: str) -> None:
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        self.lower, self.upper = literal(lower, String()), literal(upper, String())

    @property
    def _from_objects(self) -> list:
        """The column's table: `select(func.count()).where(under_path(...))` counts rows of it."""
        return self.column._from_objects


@compiles(_PathRange)
def _path_range(element, compiler, **kw) -> str:  # SQLite compares bytes
    column = compiler.process(element.column, **kw)
    return f"({column} >= {compiler.process(element.lower, **kw)} AND {column} < {compiler.process(element.upper, **kw)})"


@compiles(_PathRange, "postgresql")
def _path_range_pg(element, compiler, **kw) -> str:
    column = compiler.process(element.column, **kw)
    return (f"({column} ~>=~ {compiler.process(element.lower, **kw)} "
            f"AND {column} ~<~ {compiler.process(element.upper, **kw)})")


class _InValues(ColumnElement):
    """`column IN (the values of parameter `name`)`, see `in_values`."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement), ("name", InternalTraversal.dp_string)]

    def __init__(self, column, name: str) -> None:
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        self.name = name

    @property
    def _from_objects(self) -> list:
        return self.column._from_objects


@compiles(_InValues)
def _in_values(element, compiler, **kw) -> str:
    return f"({compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)})"


@compiles(_InValues, "postgresql")
def _in_values_pg(element, compiler, **kw) -> str:
    values = bindparam(element.name, type_=postgresql.ARRAY(element.column.type))
    return f"{compiler.process(element.column, **kw)} = ANY({compiler.process(values, **kw)})"


def in_values(column, name: str) -> ColumnElement:
    """`column` is one of the values of parameter `name` (a list), for statements built once and run
    with other values: on PostgreSQL `column = ANY(%(name)s)`, one array parameter (an expanding IN is
    rendered again on every call, and each length of list is another statement to prepare); elsewhere
    an expanding IN."""
    return _InValues(column, name)


def under_path(column, path: str) -> ColumnElement:
    """`column` (a materialised path, "1.7.") starts with `path`: the subtree, as the range
    [`path`, `path` with its last character's successor) that the path index answers by itself.
    (`LIKE '1.7.%'` makes PostgreSQL test the pattern again on every row of that range — half the time
    of counting a 250,000-unit region — and, statements being prepared, a generic plan of `LIKE $1`
    cannot use the index at all; a range of bound values can.)"""
    return _PathRange(column, path, path[:-1] + chr(ord(path[-1]) + 1))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use timezone-aware UTC values")
            value = value.astimezone(timezone.utc)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
