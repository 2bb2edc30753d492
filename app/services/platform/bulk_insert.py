"""Inserting many rows in one statement, and sending several statements in one round trip.

On PostgreSQL the rows go as one array per column through `unnest`: one short statement whatever
the batch size (executemany sends a statement per row; multi-row VALUES makes psycopg parse a
query with thousands of placeholders); a few rows go as one JSON parameter, which costs less to send
than arrays. `send_rows_together` inserts into several tables in one statement. Elsewhere, an
ordinary executemany.

`send` runs a Core statement on the session's connection and hands back its rows later (`Deferred`):
inside `pipelined()`, on PostgreSQL, statements are sent without waiting, and reading the first
answer waits for all of them — a request's independent reads and writes cost one round trip.

`send_with_rows` sends an UPDATE … RETURNING and rows that exist only if it changed something, as one
statement (a compare-and-set with the rows that record it: nothing to undo when it changed nothing).

`RowBuffer` collects rows to insert that way later, and `next_id` reserves a primary key before the
INSERT, so a row that others name (an alert named by its AlertRaised event) needs no flush of its own:
the outbox relay writes a batch's alerts, events and rule executions in three statements.
"""
from __future__ import annotations

import json
import warnings
from collections import defaultdict
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from psycopg.pq import TransactionStatus
from sqlalchemy import Integer, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import psycopg as pg_psycopg
from sqlalchemy.types import JSON

from app.extensions import db


# Up to this many rows go as one JSON parameter; more, as one array per column. For a few rows, psycopg spends
# more dumping arrays than the values themselves (a 15-column row: 0.17 ms against 0.07 as separate
# parameters), and the rows as one JSON text less than either.
JSON_ROWS = 8


@lru_cache(maxsize=64)
def _column_types(table: Table, columns: tuple[str, ...]) -> tuple[tuple[str, ...], frozenset]:
    """(SQL type of each column, the positions of JSON columns — sent as text, cast to jsonb)."""
    dialect = postgresql.dialect()
    types, json_columns = [], set()
    for i, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type.dialect_impl(dialect), JSON):
            types.append("jsonb")
            json_columns.add(i)
        else:
            types.append(column_type.compile(dialect=dialect))
    return tuple(types), frozenset(json_columns)


def _pg_tail(conflict: tuple[str, ...], returning: tuple[str, ...], lock: bool = False,
             reserve: Table | None = None) -> str:
    if lock:  # a no-op update: it locks the existing row and returns it; xmax is 0 on a row just inserted
        sql = f' ON CONFLICT ({", ".join(conflict)}) DO UPDATE SET "{conflict[-1]}" = excluded."{conflict[-1]}"'
        extra = ["xmax = 0 AS inserted"]
        if reserve is not None:  # and a primary key for a row of that table, drawn from its sequence
            key = reserve.primary_key.columns.keys()[0]
            extra.append(f"nextval(pg_get_serial_sequence('{reserve.name}', '{key}')) AS reserved_id")
        return sql + " RETURNING " + ", ".join([*(f'"{name}"' for name in returning), *extra])
    sql = f" ON CONFLICT ({', '.join(conflict)}) DO NOTHING" if conflict else ""
    return sql + (" RETURNING " + ", ".join(f'"{name}"' for name in returning) if returning else "")


@lru_cache(maxsize=64)
def _pg_statement(table: Table, columns: tuple[str, ...], returning: tuple[str, ...], conflict: tuple[str, ...],
                  lock: bool = False, reserve: Table | None = None):
    types, json_columns = _column_types(table, columns)
    casts = [f"CAST(%(c{i})b AS {'text' if i in json_columns else sql_type}[])" for i, sql_type in enumerate(types)]
    selects = [f"c{i}::jsonb" if i in json_columns else f"c{i}" for i in range(len(columns))]
    quoted = ", ".join(f'"{name}"' for name in columns)
    sql = (f'INSERT INTO "{table.name}" ({quoted}) SELECT {", ".join(selects)} '
           f'FROM unnest({", ".join(casts)}) AS u({", ".join(f"c{i}" for i in range(len(columns)))})')
    return sql + _pg_tail(conflict, returning, lock, reserve), json_columns


@lru_cache(maxsize=256)
def _pg_json_statement(table: Table, columns: tuple[str, ...], returning: tuple[str, ...],
                       conflict: tuple[str, ...], lock: bool = False, reserve: Table | None = None) -> str:
    quoted = ", ".join(f'"{name}"' for name in columns)
    return (f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} '
            f'FROM json_populate_recordset(NULL::"{table.name}", %s::json)'
            + _pg_tail(conflict, returning, lock, reserve))


def _pg_insert(table: Table, rows: list[dict], returning: tuple[str, ...] = (),
               conflict: tuple[str, ...] = (), lock: bool = False,
               reserve: Table | None = None) -> tuple[str, dict | list]:
    """(statement, parameters) inserting `rows` on PostgreSQL: a few rows as one JSON parameter
    (`json_populate_recordset`: psycopg converts the query once — it caches statements of up to 50
    parameters — and dumps one string, not every value), more as one array per column through unnest."""
    columns = tuple(rows[0])
    if len(rows) <= JSON_ROWS:
        return (_pg_json_statement(table, columns, returning, conflict, lock, reserve),
                [json.dumps(rows, default=str)])
    statement, json_columns = _pg_statement(table, columns, returning, conflict, lock, reserve)
    params = {}
    for i, name in enumerate(columns):
        values = [row[name] for row in rows]
        params[f"c{i}"] = _json_texts(values) if i in json_columns else values
    return statement, params


def insert_rows(table: Table, rows: list[dict], returning: tuple[str, ...] = (),
                on_conflict_do_nothing: tuple[str, ...] = ()) -> list:
    """Insert `rows` (dicts with the same keys) into `table` in the caller's transaction; returns the
    `returning` columns of the inserted rows (conflicting rows are skipped and not returned)."""
    return send_rows(table, rows, returning, on_conflict_do_nothing).all()


def send_rows(table: Table, rows: list[dict], returning: tuple[str, ...] = (),
              on_conflict_do_nothing: tuple[str, ...] = ()) -> "Deferred":
    """`insert_rows`, its returned rows read later (see `Deferred`)."""
    if not rows:
        return Deferred(rows=[])
    if not is_postgresql():
        return Deferred(rows=_insert_generic(table, rows, returning, on_conflict_do_nothing))
    statement, params = _pg_insert(table, rows, returning, on_conflict_do_nothing)
    # psycopg itself, in binary: dumping text arrays in text format (quoting every element) costs
    # more than the insert. Same connection, so the same transaction as the session's statements.
    cursor = driver_connection().cursor(binary=True)
    cursor.execute(statement, params)
    return Deferred(cursor if returning else None, rows=None if returning else [])


def send_rows_or_lock(table: Table, rows: list[dict], conflict: tuple[str, ...], returning: tuple[str, ...],
                      reserve: Table | None = None) -> "Deferred":
    """PostgreSQL: insert `rows`; a row that conflicts on `conflict` (a unique key) locks the existing
    one instead (as SELECT … FOR UPDATE would, in the order of `rows`). Every row comes back, with the
    `returning` columns and `inserted` (False: it existed), and with `reserve`, `reserved_id`: an unused
    primary key of that table for a row to go with it. One statement where an insert, a locking read and
    the ids would be three."""
    from psycopg.rows import namedtuple_row

    if not rows:
        return Deferred(rows=[])
    statement, params = _pg_insert(table, rows, returning, conflict, lock=True, reserve=reserve)
    cursor = driver_connection().cursor(row_factory=namedtuple_row, binary=True)
    cursor.execute(statement, params)
    return Deferred(cursor)


def send_rows_together(inserts: list[tuple[Table, list[dict]]]) -> None:
    """Insert each table's rows (`insert_rows` without RETURNING), in the caller's transaction. On
    PostgreSQL all of them go as one statement — each INSERT but the last in a WITH (one statement costs
    both sides less than several); the rows are checked against foreign keys once all are in, so a table
    may name rows inserted with it. Elsewhere, one INSERT a table, in the order given."""
    inserts = [(table, rows) for table, rows in inserts if rows]
    if not inserts:
        return
    if not is_postgresql():
        for table, rows in inserts:
            _insert_generic(table, rows, (), ())
        return
    statement = _together_statement(tuple((table, tuple(rows[0])) for table, rows in inserts))
    # Each table's rows as one JSON parameter (see `_pg_insert`), whatever their number.
    driver_connection().cursor().execute(statement, [json.dumps(rows, default=str) for _table, rows in inserts])


@lru_cache(maxsize=64)
def _together_statement(tables: tuple[tuple[Table, tuple[str, ...]], ...]) -> str:
    parts = [_pg_json_statement(table, columns, (), ()) for table, columns in tables]
    ctes = ", ".join(f"t{n} AS ({statement})" for n, statement in enumerate(parts[:-1]))
    return (f"WITH {ctes} " if ctes else "") + parts[-1]


class Deferred:
    """The rows of a statement sent with `send` or `send_rows`. On PostgreSQL inside `pipelined()`,
    reading them (`all`) waits for the answers to every statement sent so far: one round trip for
    all of them. Elsewhere the statement has already run and its rows are here."""

    def __init__(self, cursor=None, rows: list | None = None) -> None:
        self._cursor, self._rows = cursor, rows

    def all(self) -> list:
        if self._rows is None:
            self._rows = self._cursor.fetchall()
            self._cursor.close()
        return self._rows


@lru_cache(maxsize=128)
def _compiled(statement):
    return statement.compile(dialect=pg_psycopg.dialect())


def send(statement, params: dict | None = None) -> Deferred:
    """Execute a Core statement (built once, at import: it is compiled once) with `params` in the
    session's transaction; its rows, with attribute access, come from the returned `Deferred`.
    Bind values go to psycopg as they are (no SQLAlchemy type processing): use plain values. The Deferred
    of a statement that returns no rows (an UPDATE without RETURNING) is not to be read."""
    if not is_postgresql():
        result = db.session.execute(statement, params or {})
        returns_rows = not statement.is_dml or bool(statement.exported_columns)  # exported: RETURNING's
        return Deferred(rows=result.all() if returns_rows else [])
    from psycopg.rows import namedtuple_row

    state = _compiled(statement).construct_expanded_state(params or {})
    cursor = driver_connection().cursor(row_factory=namedtuple_row)
    cursor.execute(state.statement, state.parameters)
    return Deferred(cursor)


def send_with_rows(change, params: dict, rows: dict[Table, dict]) -> Deferred:
    """`change` (an UPDATE … RETURNING built once, with `params`) and, for each table of `rows`, one row
    inserted only if `change` returned rows — one statement (`WITH changed AS (UPDATE …), inserted_0 AS
    (INSERT … SELECT … FROM changed) SELECT * FROM changed`), so the rows exist exactly when the change happened;
    `change`'s RETURNING rows come from the Deferred. PostgreSQL only (SQLite has no UPDATE in a WITH).
    Row values are plain values; JSON ones are dumped here as `send_rows` dumps them."""
    tables = tuple((table, tuple(row)) for table, row in rows.items())
    values = dict(params)
    for i, (table, columns) in enumerate(tables):
        json_columns = _column_types(table, columns)[1]
        for position, name in enumerate(columns):
            value = rows[table][name]
            values[f"r{i}_{name}"] = _json_text(value) if position in json_columns else value
    return send(_with_rows_statement(change, tables), values)


@lru_cache(maxsize=64)
def _with_rows_statement(change, tables: tuple[tuple[Table, tuple[str, ...]], ...]):
    changed = change.cte("changed")
    inserts = []
    for i, (table, columns) in enumerate(tables):
        row = select(*(bindparam(f"r{i}_{name}", type_=table.c[name].type) for name in columns)).select_from(changed)
        inserts.append(insert(table).from_select(list(columns), row, include_defaults=False).cte(f"inserted_{i}"))
    return select(changed).add_cte(*inserts)


def _json_text(value) -> str | None:
    """A JSON column's value as the text PostgreSQL casts to jsonb (None stays NULL)."""
    return None if value is None else json.dumps(value, default=str)


def _json_texts(values: list) -> list:
    """Each value as JSON text; a value shared by many rows (one calendar snapshot for a batch of
    SLA clocks) is dumped once."""
    texts: dict[int, str] = {}
    for value in values:
        if value is not None and id(value) not in texts:
            texts[id(value)] = _json_text(value)
    return [None if value is None else texts[id(value)] for value in values]


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


# The psycopg connection of the `pipelined()` block under way in this thread (its statements, sent with
# `send` and `send_rows`, need not ask the session for it again).
_PIPELINE: ContextVar = ContextVar("pipelined_connection", default=None)


def is_postgresql() -> bool:
    return _PIPELINE.get() is not None or db.session.get_bind().dialect.name == "postgresql"


def driver_connection():
    """The psycopg connection of the session's transaction (statements on it join that transaction)."""
    return _PIPELINE.get() or db.session.connection().connection.driver_connection


def begin_in_pipeline() -> None:
    """Have the session's next transaction begin with the statements of the first `pipelined(begin=True)`
    block, not in a round trip of its own (psycopg sends BEGIN and waits for it before the first statement
    of a pipeline). PostgreSQL; call before the session uses the database (afterwards it does nothing):
    until that block, the session's statements commit each on its own, so send no write before it."""
    if not is_postgresql():
        return
    with warnings.catch_warnings():  # a session that holds a connection already keeps it as it is
        warnings.simplefilter("ignore")
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


@contextmanager
def pipelined(commit: bool = False, begin: bool = False):
    """Send the statements of the block without waiting for each answer (psycopg pipeline mode, on
    PostgreSQL; use it for statements that need no result from one another).

    `commit`: the transaction's COMMIT goes in the same round trip, after the block's statements (a
    lock taken earlier is released a round trip sooner). The caller then calls `db.session.commit()`
    at once, which has nothing left to send; if a statement fails, nothing is committed and the error
    is raised here. Pending ORM changes are flushed first, so that they are committed too.

    `begin`: after `begin_in_pipeline`, the transaction's BEGIN goes first in the same round trip."""
    if not is_postgresql():
        yield
        return
    if commit:
        db.session.flush()
    connection = driver_connection()
    pinned = _PIPELINE.set(connection)
    try:
        with connection.pipeline():
            if begin and connection.autocommit and connection.info.transaction_status == TransactionStatus.IDLE:
                connection.execute("BEGIN", prepare=False)
            yield
            if commit:  # a statement, not connection.commit(): that would sync, a round trip of its own
                connection.execute("COMMIT", prepare=False)
    finally:
        _PIPELINE.reset(pinned)


def send_ids(model, count: int) -> Deferred | None:
    """`count` unused primary keys for new `model` rows from its PostgreSQL sequence, read later
    (see `Deferred`), so rows naming them can go in the same round trip as the INSERT; None on SQLite,
    where only the INSERT assigns one."""
    if not is_postgresql():
        return None
    return send(_ids_statement(model.__table__), {"n": count})


@lru_cache(maxsize=32)
def _ids_statement(table: Table):
    sequence = func.pg_get_serial_sequence(table.name, table.primary_key.columns.keys()[0])
    return select(func.nextval(sequence)).select_from(func.generate_series(1, bindparam("n", type_=Integer)))


ID_BLOCK = 200


def next_id(model) -> int | None:
    """An unused primary key for a new `model` row, drawn from its PostgreSQL sequence in blocks
    (unused ones leave gaps, as a rolled-back INSERT does); None on SQLite, where only the INSERT
    assigns one."""
    if not is_postgresql():
        return None
    table = model.__table__
    pool = db.session().info.setdefault("reserved_ids", {}).setdefault(table.name, [])
    if not pool:
        pool.extend(reversed([row[0] for row in send_ids(model, ID_BLOCK).all()]))
    return pool.pop()


class RowBuffer:
    """Rows (dicts with the same keys per model) waiting for `flush()`, which inserts each model's
    rows with `insert_rows`, models in the order they were first added (parents before children)."""

    def __init__(self) -> None:
        self.rows: dict = defaultdict(list)

    def add(self, model, row: dict) -> None:
        self.rows[model].append(row)

    def flush(self) -> None:
        for model, rows in self.rows.items():
            insert_rows(model.__table__, rows)
        self.rows.clear()

    def clear(self) -> None:
        self.rows.clear()
