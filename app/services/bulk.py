"""Writing many rows at once: primary keys reserved before the INSERT, and a buffer of rows that
goes out as one multi-row INSERT per table.

The outbox relay writes an alert, its AlertRaised event and a rule execution for every rule it
fires. Through the unit of work that was a flush per alert (to learn its id) and an object per row;
with ids drawn from the table's PostgreSQL sequence in blocks, and plain rows, a batch of 500
events costs a few statements. Reserved ids that go unused leave gaps, as a rolled-back INSERT does.
"""
from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from app.extensions import db

BLOCK = 200


def next_id(model) -> int | None:
    """An unused primary key for a new `model` row, or None where only the INSERT can assign one
    (SQLite)."""
    session = db.session()
    if session.get_bind().dialect.name != "postgresql":
        return None
    table = model.__table__
    pool = session.info.setdefault("reserved_ids", {}).setdefault(table.name, [])
    if not pool:
        sequence = func.pg_get_serial_sequence(table.name, table.primary_key.columns.keys()[0])
        pool.extend(reversed(session.execute(
            select(func.nextval(sequence)).select_from(func.generate_series(1, BLOCK))).scalars().all()))
    return pool.pop()


class RowBuffer:
    """Rows (dicts of column values, the same keys per table) waiting for `flush()`, which inserts
    them in the order their tables were first used — parents before children."""

    def __init__(self) -> None:
        self.rows: dict = defaultdict(list)

    def add(self, model, row: dict) -> None:
        self.rows[model].append(row)

    def flush(self) -> None:
        for model, rows in self.rows.items():
            if rows:
                db.session.execute(model.__table__.insert(), rows)
        self.rows.clear()

    def clear(self) -> None:
        self.rows.clear()
