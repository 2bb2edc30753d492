"""Inserting many rows in one statement.

On PostgreSQL the rows go as one array per column through `unnest`: one short statement whatever
the batch size (executemany sends a statement per row; multi-row VALUES makes psycopg parse a
query with thousands of placeholders). Elsewhere, an ordinary executemany.
"""
from __future__ import annotations

import json
from contextlib import contextmanager, nullcontext
from functools import lru_cache

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import JSON

from app.extensions import db


@lru_cache(maxsize=64)
def _pg_statement(table: Table, columns: tuple[str, ...], returning: tuple[str, ...], conflict: tuple[str, ...]):
    dialect = postgresql.dialect()
    casts, selects = [], []
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        is_json = isinstance(column_type.dialect_impl(dialect), JSON)
        sql_type = "text" if is_json else column_type.compile(dialect=dialect)
        casts.append(f"CAST(%(c{i})b AS {sql_type}[])")
        selects.append(f"c{i}::jsonb" if is_json else f"c{i}")
    quoted = ", ".join(f'"{name}"' for name in columns)
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT {", ".join(selects)} '
           f'FROM unnest({", ".join(casts)}) AS u({", ".join(f"c{i}" for i in range(len(columns)))})')
    if conflict:
        sql += f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING"
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    json_columns = frozenset(i for i, name in enumerate(columns)
                             if isinstance(table.c[name].type.dialect_impl(dialect), JSON))
    return sql, json_columns


def insert_rows(table: Table, rows: list[dict], returning: tuple[str, ...] = (),
                on_conflict_do_nothing: tuple[str, ...] = ()) -> list:
    """Insert `rows` (dicts with the same keys) into `table` in the caller's transaction; returns the
    `returning` columns of the inserted rows (conflicting rows are skipped and not returned)."""
    if not rows:
        return []
    if not is_postgresql():
        return _insert_generic(table, rows, returning, on_conflict_do_nothing)
    columns = tuple(rows[0])
    statement, json_columns = _pg_statement(table, columns, returning, on_conflict_do_nothing)
    params = {}
    for i, name in enumerate(columns):
        values = [row[name] for row in rows]
        params[f"c{i}"] = ([None if v is None else json.dumps(v, default=str) for v in values]
                           if i in json_columns else values)
    # psycopg itself, in binary: dumping text arrays in text format (quoting every element) costs
    # more than the insert. Same connection, so the same transaction as the session's statements.
    with driver_connection().cursor(binary=True) as cursor:
        cursor.execute(statement, params)
        return cursor.fetchall() if returning else []


def _insert_generic(table: Table, rows: list[dict], returning, conflict) -> list:
    if conflict:
        from sqlalchemy.dialects.sqlite import insert

        statement = insert(table).on_conflict_do_nothing(index_elements=list(conflict))
    else:
        statement = table.insert()
    if returning:
        return db.session.execute(statement.returning(*(table.c[name] for name in returning)), rows).all()
    db.session.execute(statement, rows)
    return []


def is_postgresql() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def driver_connection():
    """The psycopg connection of the session's transaction (statements on it join that transaction)."""
    return db.session.connection().connection.driver_connection


@contextmanager
def pipelined():
    """Send the statements of the block without waiting for each answer (psycopg pipeline mode, on
    PostgreSQL; use it for statements that need no result from one another)."""
    with (driver_connection().pipeline() if is_postgresql() else nullcontext()):
        yield
