"""Statements are prepared (psycopg's prepare_threshold, see app.config.engine_options), so a subtree filter
must be one a generic plan can answer from the path index: a range of paths with the index's
text_pattern_ops operators, never `path LIKE $1` (a generic plan cannot use the index for it: 2 ms →
50 ms on 100,000 units)."""
from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from app.config import engine_options
from app.models import OrgUnit
from app.models.base import in_values, under_path

APP_DIR = Path(__file__).resolve().parents[1] / "app"


def test_a_subtree_is_a_range_of_paths():
    stmt = select(OrgUnit.id).where(under_path(OrgUnit.path, "1.7."))
    pg = stmt.compile(dialect=postgresql.psycopg.dialect())
    assert "org_units.path ~>=~ %(param_1)s::VARCHAR AND org_units.path ~<~ %(param_2)s::VARCHAR" in str(pg)
    assert (pg.params["param_1"], pg.params["param_2"]) == ("1.7.", "1.7/")  # "/" follows "." in ASCII
    lite = stmt.compile(dialect=sqlite.dialect())
    assert "org_units.path >= ? AND org_units.path < ?" in str(lite)
    # a count of the subtree names the table by the range alone
    counted = select(func.count()).where(under_path(OrgUnit.path, "1.7."))
    assert "FROM org_units" in str(counted.compile(dialect=sqlite.dialect()))


def test_the_range_holds_the_subtree_and_nothing_else(db, app):
    from app.models import OrgUnitType, Project

    project = Project(name="Paths")
    kind = OrgUnitType(name="Unit", short_name="U", depth=1, project=project)
    db.session.add_all([project, kind])
    db.session.flush()
    paths = ["1.", "1.7.", "1.7.42.", "1.7.42.9.", "1.70.", "1.8.", "17."]
    db.session.add_all([OrgUnit(name=p, project_id=project.id, org_unit_type_id=kind.id, path=p, depth=p.count(".") - 1)
                        for p in paths])
    db.session.flush()
    found = db.session.scalars(select(OrgUnit.path).where(OrgUnit.project_id == project.id,
                                                          under_path(OrgUnit.path, "1.7."))).all()
    assert sorted(found) == ["1.7.", "1.7.42.", "1.7.42.9."]
    db.session.rollback()


def test_a_list_of_values_is_one_array_parameter_on_postgresql(db, app):
    from app.models import Project

    stmt = select(OrgUnit.id).where(in_values(OrgUnit.id, "ids"))
    assert "org_units.id = ANY(%(ids)s::INTEGER[])" in str(stmt.compile(dialect=postgresql.psycopg.dialect()))
    assert "org_units.id IN (__[POSTCOMPILE_ids])" in str(stmt.compile(dialect=sqlite.dialect()))
    db.session.add_all([Project(name="A"), Project(name="B")])
    db.session.flush()
    named = select(Project.name).where(in_values(Project.name, "names")).order_by(Project.name)
    assert db.session.scalars(named, {"names": ["B", "A", "C"]}).all() == ["A", "B"]
    assert db.session.scalars(named, {"names": []}).all() == []
    db.session.rollback()


def test_prepared_statements_are_on():
    assert "prepare_threshold" not in engine_options("postgresql+psycopg://u@h/db").get("connect_args", {})


def _bound_path_likes(tree: ast.AST) -> list[int]:
    """Lines of `<x>.path.like(...)` calls: every subtree filter goes through under_path."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "like"
            and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "path"]


def test_no_subtree_filter_is_a_like():
    found = {str(path.relative_to(APP_DIR.parent)): lines for path in APP_DIR.rglob("*.py")
             if (lines := _bound_path_likes(ast.parse(path.read_text())))}
    assert found == {}, f"use app.models.base.under_path for subtree filters: {found}"


def test_the_guard_sees_a_like_on_a_path():
    assert _bound_path_likes(ast.parse('q.where(Team.path.like(root + "%"))')) == [1]
