"""Views are parse → one service call → render, and permission checks live in services: a view module
never touches the database (no `db`, no SQLAlchemy, no query building, no commit or rollback) and
never checks a permission itself (no `require_permission`, `@permission_required`, `has_permission`,
`is_admin`) — it only asks for a login. Read from the source with `ast`, nothing is imported.

BLUEPRINTS lists the blueprint packages this covers, every module in each (views, serializers,
helpers alike)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BLUEPRINTS_DIR = Path(__file__).resolve().parents[1] / "app" / "blueprints"

BLUEPRINTS = ("api", "automation", "jobs", "observability", "ogc", "processes", "sla")

# Modules whose import means talking to the database.
DATABASE_MODULES = ("sqlalchemy", "flask_sqlalchemy")
# Names a view must not import: the session, and the permission checks that belong to services.
BANNED_IMPORTS = {"db", "require_permission", "permission_required"}
# Names, and attributes (`x.name`), of the database API and of permission checks.
BANNED_NAMES = {"db", "select", "require_permission", "permission_required"}
BANNED_ATTRIBUTES = {
    "session", "query", "paginate", "scalars", "scalar_one", "scalar_one_or_none", "where", "filter", "filter_by",
    "order_by", "commit", "rollback", "flush", "require_permission", "has_permission", "is_admin",
}


def _modules() -> list[Path]:
    return sorted(path for name in BLUEPRINTS for path in (BLUEPRINTS_DIR / name).rglob("*.py"))


def _offences(source: str) -> list[str]:
    """What in this module's source touches the database or checks a permission."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"import {a.name}" for a in node.names if a.name.split(".")[0] in DATABASE_MODULES]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module.split(".")[0] in DATABASE_MODULES:
                found.append(f"from {module} import …")
            found += [f"from {module} import {a.name}" for a in node.names if a.name in BANNED_IMPORTS]
        elif isinstance(node, ast.Name) and node.id in BANNED_NAMES:
            found.append(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in BANNED_ATTRIBUTES:
            found.append(f".{node.attr}")
    return found


def test_every_covered_blueprint_exists():
    missing = [name for name in BLUEPRINTS if not list((BLUEPRINTS_DIR / name).glob("*.py"))]
    assert not missing, f"no such blueprint package: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_views_neither_query_nor_check_permissions(path):
    assert not _offences(path.read_text()), "queries and permission checks belong to services"


def test_the_check_sees_queries_and_permission_checks():
    view = ("from sqlalchemy import select\nfrom app.extensions import db\n"
            "from app.services.platform.permissions import require_permission\n"
            "def index():\n    require_permission(current_user, 'X')\n    if current_user.is_admin:\n"
            "        db.session.commit()\n    return db.session.execute(select(Job).where(Job.id == 1)).scalars()\n")
    assert {"from sqlalchemy import …", "from app.extensions import db", "require_permission", "db", ".session",
            ".commit", ".is_admin", "select", ".where", ".scalars"} <= set(_offences(view))
