"""Migrations: one head, and the models match what the migrations build (`flask db check`)."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.models import Base


def test_one_alembic_head(app):
    config = app.extensions["migrate"].migrate.get_config(directory="migrations")
    assert len(ScriptDirectory.from_config(config).get_heads()) == 1


def test_models_match_migrations(app, db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == [], f"models differ from migrations; run `flask db migrate`: {diff}"


def test_flask_db_check_is_clean(runner):
    result = runner.invoke(args=["db", "check"])
    assert result.exit_code == 0, result.output
