"""Views are thin: parse → one service call → render, and permission checks live in the services.
Read from the source of every module of the blueprints in THIN (nothing is imported).

A view module
- never touches the database: no `db`, nothing of sqlalchemy (queries, pages, commits and rollbacks
  are the services');
- uses model classes (app.models) only in type annotations: rows come from services;
- checks no permission (`require_permission`, `permission_required`, `has_permission`, `is_admin`):
  the service it calls authorizes the acting user, and hands pages `can_…` flags; a view asks only
  for a login.

Every blueprint package is listed in THIN.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

BLUEPRINTS = Path(__file__).resolve().parents[1] / "app" / "blueprints"

THIN = (
    "action_plans", "admin", "api", "auth", "automation", "jobs", "main", "observability", "ogc", "orgunits",
    "plannings", "processes", "sla", "tasks_api", "tasks_board", "teams", "tickets", "tickets_api", "workflow_api",
    "workflows",
)
PERMISSION_CHECKS = {"require_permission", "permission_required", "has_permission", "is_admin", "is_platform_operator"}
# (module, name) pairs that are the design: the RQ dashboard is a third-party blueprint, guarded where it is mounted.
ALLOWED = {("admin/__init__.py", "is_platform_operator")}


def _annotation_nodes(tree: ast.AST) -> set[int]:
    """ids of every node inside a type annotation (arguments, return values, annotated assignments)."""
    roots = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = node.args
            every = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
            roots += [a.annotation for a in every if a.annotation] + ([node.returns] if node.returns else [])
        elif isinstance(node, ast.AnnAssign):
            roots.append(node.annotation)
    return {id(inner) for root in roots for inner in ast.walk(root)}


def _database_module(module: str) -> bool:
    return module.split(".")[0] in ("sqlalchemy", "flask_sqlalchemy")


def _name_check(ident: str, name: str) -> str | None:
    if ident == "db":
        return "uses the database (`db`)"
    if ident in PERMISSION_CHECKS and (name, ident) not in ALLOWED:
        return f"checks a permission ({ident}); the service does"
    return None


def violations(source: str, name: str = "<view>") -> list[str]:
    """What in this module's source is not a thin view's business, one line each."""
    tree = ast.parse(source)
    found: set[tuple[int, str]] = set()
    models: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {(node.lineno, f"imports {a.name}") for a in node.names
                      if _database_module(a.name) or a.name == "app.models"}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module == "app.models":
                models |= {alias.asname or alias.name for alias in node.names}
            elif _database_module(module):
                found.add((node.lineno, f"imports {module}"))
            found |= {(node.lineno, why) for a in node.names if (why := _name_check(a.asname or a.name, name))}
    in_annotations = _annotation_nodes(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Name, ast.Attribute)):
            ident = node.id if isinstance(node, ast.Name) else node.attr
            why = _name_check(ident, name)
            if why is None and isinstance(node, ast.Name) and ident in models and id(node) not in in_annotations:
                why = f"uses the model {ident} beyond an annotation; services return rows"
            if why:
                found.add((node.lineno, why))
    return [f"{name}:{line} {why}" for line, why in sorted(found)]


def _modules() -> list[Path]:
    return sorted(p for blueprint in THIN for p in
                  ((BLUEPRINTS / blueprint).rglob("*.py") if (BLUEPRINTS / blueprint).is_dir()
                   else [BLUEPRINTS / f"{blueprint}.py"]))


def test_every_blueprint_is_thin():
    """Every blueprint package is checked (a new one is added to THIN), and every entry exists."""
    packages = {p.name for p in BLUEPRINTS.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(THIN)


def test_views_only_parse_call_a_service_and_render():
    found = [line for path in _modules()
             for line in violations(path.read_text(), str(path.relative_to(BLUEPRINTS)))]
    if found:
        pytest.fail("Views parse their input, call one service (which authorizes the acting user) and render; "
                    "move these into the service:\n  " + "\n  ".join(found), pytrace=False)


@pytest.mark.parametrize("source, thin", [
    ("from app.extensions import db\n", False),
    ("def view():\n    return svc.page(db.session)\n", False),
    ("from sqlalchemy import select\n", False),
    ("import sqlalchemy.orm\n", False),
    ("from app.models import Task\ndef view():\n    return Task.query.all()\n", False),
    ("from app.models import Permission\nok = user.has_permission(Permission.UPDATE_TASK)\n", False),
    ("from app.services.platform.permissions import require_permission\n", False),
    ("from app.security import permission_required\n", False),
    ("if not current_user.is_admin:\n    abort(403)\n", False),
    ("from app.models import Task\ndef view(task: Task) -> Task:\n    x: Task = task\n    return x\n", True),
    ("from app.extensions import csrf\nfrom app.services.helpdesk import tickets as svc\n"
     "def view():\n    return render_template('t.html', **vars(svc.ticket_page(current_user, 1)))\n", True),
])
def test_the_check(source, thin):
    assert (violations(source) == []) is thin
