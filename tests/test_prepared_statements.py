"""Statements are prepared (psycopg's prepare_threshold, see app.config.engine_options); a subtree query
must write its path prefix into the SQL, or a prepared `path LIKE $1` may take PostgreSQL's generic
plan, which cannot use the path index (2 ms → 50 ms on 100,000 units)."""
from __future__ import annotations

import ast
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.dialects import postgresql

from app.config import engine_options
from app.models import OrgUnit
from app.models.base import under_path

APP_DIR = Path(__file__).resolve().parents[1] / "app"


def test_the_prefix_is_written_into_the_sql():
    stmt = select(OrgUnit.id).where(under_path(OrgUnit.path, "1.7."))
    sql = str(stmt.compile(dialect=postgresql.psycopg.dialect(), compile_kwargs={"render_postcompile": True}))
    assert "org_units.path LIKE '1.7.%%'" in sql or "org_units.path LIKE '1.7.%'" in sql
    assert "%(param" not in sql


def test_prepared_statements_are_on():
    assert "prepare_threshold" not in engine_options("postgresql+psycopg://u@h/db").get("connect_args", {})


def _bound_path_likes(tree: ast.AST) -> list[int]:
    """Lines of `<x>.path.like(...)` calls: every subtree filter goes through under_path."""
    return [node.lineno for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "like"
            and isinstance(node.func.value, ast.Attribute) and node.func.value.attr == "path"]


def test_no_subtree_filter_binds_its_prefix():
    found = {str(path.relative_to(APP_DIR.parent)): lines for path in APP_DIR.rglob("*.py")
             if (lines := _bound_path_likes(ast.parse(path.read_text())))}
    assert found == {}, f"use app.models.base.under_path for subtree filters: {found}"


def test_the_guard_sees_a_bound_prefix():
    assert _bound_path_likes(ast.parse('q.where(Team.path.like(root + "%"))')) == [1]
