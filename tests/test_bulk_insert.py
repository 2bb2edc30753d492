"""Statements sent together (`pipelined`), and the COMMIT sent with them: all of them or none."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from psycopg import errors as pg_errors

from app.models import Project, utcnow
from app.services.platform.bulk_insert import (
    begin_in_pipeline, driver_connection, insert_rows, pipelined, send, send_rows,
)

_PROJECTS = Project.__table__
NOW = utcnow()


def _names(db) -> list[str]:
    db.session.rollback()
    return sorted(db.session.execute(select(Project.name)).scalars())


def test_statements_sent_with_their_commit_are_committed(app, db):
    with pipelined(commit=True):
        inserted = send_rows(_PROJECTS, [{"name": "A", "description": "", "created_at": NOW}, {"name": "B", "description": "", "created_at": NOW}],
                             returning=("name",))
        counted = send(select(func.count()).select_from(_PROJECTS))
    db.session.commit()
    assert sorted(row[0] for row in inserted.all()) == ["A", "B"]
    assert counted.all()[0][0] == 2
    assert _names(db) == ["A", "B"]


def test_a_failing_statement_commits_nothing_sent_with_it(app, db):
    insert_rows(_PROJECTS, [{"name": "A", "description": "", "created_at": NOW}])
    db.session.commit()
    with pytest.raises((IntegrityError, pg_errors.UniqueViolation)):
        with pipelined(commit=True):
            insert_rows(_PROJECTS, [{"name": "B", "description": "", "created_at": NOW}])
            send_rows(_PROJECTS, [{"name": "A", "description": "", "created_at": NOW}])  # the unique name is taken
    db.session.rollback()
    assert _names(db) == ["A"]
    db.session.execute(text("SELECT 1"))  # the session works on


def test_orm_changes_pending_before_are_committed_with_them(app, db):
    db.session.add(Project(name="From the ORM"))
    with pipelined(commit=True):
        insert_rows(_PROJECTS, [{"name": "From a row", "description": "", "created_at": NOW}])
    db.session.commit()
    assert _names(db) == ["From a row", "From the ORM"]


def _committed_names(db) -> list[str]:
    """What another connection sees (committed rows only)."""
    with db.engine.connect() as other:
        return sorted(other.execute(select(Project.name)).scalars())


def test_a_transaction_begun_in_a_pipeline_holds_its_writes_until_the_commit(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: elsewhere there is no pipeline")
    db.session.rollback()
    begin_in_pipeline()
    with pipelined(begin=True):
        insert_rows(_PROJECTS, [{"name": "In the pipeline", "description": "", "created_at": NOW}])
    db.session.execute(Project.__table__.insert().values(name="After it", description="", created_at=NOW))
    assert _committed_names(db) == []  # both inside the transaction the pipeline began: nothing seen yet
    db.session.commit()
    assert _committed_names(db) == ["After it", "In the pipeline"]


def test_a_transaction_begun_in_a_pipeline_rolls_back_whole(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: elsewhere there is no pipeline")
    db.session.rollback()
    begin_in_pipeline()
    with pytest.raises((IntegrityError, pg_errors.UniqueViolation)):
        with pipelined(begin=True, commit=True):
            insert_rows(_PROJECTS, [{"name": "B", "description": "", "created_at": NOW}])
            send_rows(_PROJECTS, [{"name": "B", "description": "", "created_at": NOW}])
    db.session.rollback()
    assert _committed_names(db) == []
    db.session.execute(text("SELECT 1"))  # the session works on


def test_the_connection_goes_back_to_the_pool_transactional(app, db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL: elsewhere there is no pipeline")
    db.session.rollback()
    begin_in_pipeline()
    with pipelined(begin=True, commit=True):
        insert_rows(_PROJECTS, [{"name": "Committed", "description": "", "created_at": NOW}])
        used = driver_connection()
        assert used.autocommit
    db.session.commit()
    # the next transaction of the session is an ordinary one again, whichever pooled connection it gets
    db.session.execute(Project.__table__.insert().values(name="Rolled back", description="", created_at=NOW))
    assert not used.autocommit and not driver_connection().autocommit
    db.session.rollback()
    assert _committed_names(db) == ["Committed"]
