"""The import architecture of app/, read from the source with `ast` (nothing is imported, so this runs
in a fraction of a second). Every import statement counts, those inside functions too: a
function-level import hides a cycle from Python at import time, not from the design.

(a) No import cycle anywhere under app/.
(b) Layers, lowest first (LAYERS): models ← infrastructure ← services ← processes, rq_jobs ←
    blueprints and the other interfaces ← the app factory. A module never imports a higher layer.
    Between the service domain packages, dependencies go one way (DOMAIN_IMPORTS):

        helpdesk ──→ orchestration ──→ processing ──→ platform
        planning ─────────────────────→ processing ──→ platform

    platform imports no other domain; helpdesk and planning never import each other.
(c) Services know nothing of the web: no request, g, session, current_user (flask_login), templates,
    app.security or app.blueprints. The acting principal and validated values come in as arguments;
    `flask.current_app` (for config) is fine.

Enqueueing an RQ job function by its dotted name is not an import and is not seen here.
"""
from __future__ import annotations

import ast
import graphlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import pytest

APP_DIR = Path(__file__).resolve().parents[1] / "app"

# Lowest first; a module belongs to the layer of its longest matching prefix.
LAYERS = (
    ("models", ("app.models",)),
    ("infrastructure", ("app.config", "app.extensions", "app.embedded_redis", "app.devstack", "app.logging_filters",
                        "app.logging_setup")),
    ("services", ("app.services", "app.schemas")),  # input schemas sit with the services they feed
    ("processes and RQ jobs", ("app.processes", "app.rq_jobs")),
    ("interfaces", ("app.blueprints", "app.security", "app.errors", "app.request_limits", "app.web_delivery",
                    "app.template_helpers",
                    "app.cli", "app.demo")),
    ("application", ("app",)),  # the package root only: create_app wires every layer together
)
# Upward edges that are the design, not a slip.
ALLOWED_UPWARD = {
    # A job run outside worker.py (an RQ work horse, a test) builds its Flask app with the factory.
    ("app.rq_jobs", "app"),
}

# What each service domain package may import (besides itself); acyclic, see the module docstring.
DOMAIN_IMPORTS = {
    "platform": set(),
    "processing": {"platform"},
    "planning": {"processing", "platform"},
    "orchestration": {"processing", "platform"},
    "helpdesk": {"orchestration", "processing", "platform"},
}

# Names a service must not import: they exist only while a request is handled, or they answer one.
REQUEST_SIDE = {
    "flask": {"request", "g", "session", "render_template", "render_template_string", "flash", "redirect", "abort",
              "make_response", "jsonify"},
    "flask_jwt_extended": {"get_jwt", "get_jwt_identity", "get_current_user", "verify_jwt_in_request",
                           "jwt_required", "current_user"},
}
WEB_MODULES = ("flask_login", "app.security", "app.blueprints")


# --- the import graph --------------------------------------------------------------------------

@dataclass(frozen=True)
class Import:
    """One imported name: `module` is absolute (relative imports resolved); `name` is what
    `from module import name` takes, None for `import module`."""

    module: str
    name: str | None
    line: int


@dataclass
class ImportGraph:
    paths: dict[str, Path]  # module name → its file, relative to the project ("app/services/…")
    imports: dict[str, list[Import]] = field(default_factory=dict)  # every import statement, app or not
    edges: dict[str, dict[str, int]] = field(default_factory=dict)  # module → {app module it imports: line}

    def where(self, source: str, target: str) -> str:
        return f"{self.paths[source]}:{self.edges[source][target]}"


def _module_name(path: Path) -> str:
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _statements(tree: ast.AST, package: str) -> list[Import]:
    out = []
    for node in ast.walk(tree):  # every statement, inside functions too
        if isinstance(node, ast.Import):
            out += [Import(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # `from . import x` in package a.b names a.b; `from .. import x` names a
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(anchor + ([module] if module else []))
            out += [Import(module, alias.name, node.lineno) for alias in node.names]
    return out


def _resolve(statement: Import, paths: dict[str, Path]) -> str | None:
    """The app module a statement imports: `from pkg import mod` is pkg.mod, `from mod import name` is
    mod, `import a.b.c` is the longest prefix that is a module; None outside app."""
    if statement.name and f"{statement.module}.{statement.name}" in paths:
        return f"{statement.module}.{statement.name}"
    name = statement.module
    while name and name not in paths:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(app_dir: Path) -> ImportGraph:
    files = [path.relative_to(app_dir.parent) for path in sorted(app_dir.rglob("*.py"))]
    graph = ImportGraph({_module_name(path): path for path in files})
    for module, path in graph.paths.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        statements = _statements(ast.parse((app_dir.parent / path).read_text(), str(path)), package)
        graph.imports[module] = statements
        graph.edges[module] = {}
        for statement in statements:
            target = _resolve(statement, graph.paths)
            if target and target != module:
                graph.edges[module].setdefault(target, statement.line)
    return graph


def strongly_connected(edges: dict[str, dict | set]) -> list[list[str]]:
    """The import cycles: strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(cycles)


@cache
def app_graph() -> ImportGraph:
    return import_graph(APP_DIR)


def _within(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def layer_of(module: str) -> int | None:
    """The rank in LAYERS of the longest prefix naming this module (None: in no layer)."""
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if _within(module, prefix) and (prefix != "app" or module == "app")]
    return max(matches)[1] if matches else None


def domain_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[2] if len(parts) > 2 and parts[:2] == ["app", "services"] else None


# --- (a) no cycles -----------------------------------------------------------------------------

def _path(edges: dict[str, dict], start: str, goal: str, members: set[str]) -> list[str] | None:
    """A shortest import path start → … → goal inside `members` (breadth first)."""
    previous = {start: None}
    queue = [start]
    for node in queue:
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = previous[node]
            return path[::-1]
        for nxt in sorted(edges[node]):
            if nxt in members and nxt not in previous:
                previous[nxt] = node
                queue.append(nxt)
    return None


def _shortest_cycles(graph: ImportGraph, component: list[str], limit: int = 3) -> list[list[str]]:
    """The shortest cycles of a component: a big component is read best as the few small loops that
    tie it together."""
    members, cycles = set(component), {}
    for source in component:
        for target in graph.edges[source]:
            if target in members:
                loop = [source] + _path(graph.edges, target, source, members)
                cycles.setdefault(frozenset(loop), loop)
    return sorted(cycles.values(), key=len)[:limit]


def _describe(graph: ImportGraph, component: list[str]) -> str:
    lines = [f"  {len(component)} modules import each other: {', '.join(component)}"]
    for loop in _shortest_cycles(graph, component):
        lines.append("    loop: " + " → ".join(loop))
        lines += [f"      {graph.where(a, b)}  {a} → {b}" for a, b in zip(loop, loop[1:])]
    return "\n".join(lines)


def test_no_import_cycles():
    graph = app_graph()
    cycles = strongly_connected(graph.edges)
    if cycles:
        pytest.fail("Import cycles under app/ (file:line  importer → imported). Break each loop by moving the "
                    "piece both sides need into a lower module both import; an import inside a function "
                    "still counts.\n" + "\n".join(_describe(graph, c) for c in cycles), pytrace=False)


def test_cycle_finder_on_a_tiny_graph():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a", "e"}, "e": {"d"}, "f": set()}
    assert strongly_connected(edges) == [["a", "b", "c"], ["d", "e"]]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_a_new_cycle_would_fail(tmp_path):
    """A cycle through a function-level import, a `from package import module` and a relative import."""
    app_dir = tmp_path / "app"
    (app_dir / "pages").mkdir(parents=True)
    (app_dir / "__init__.py").write_text("")
    (app_dir / "low.py").write_text("def f():\n    from app.high import g\n    return g\n")
    (app_dir / "high.py").write_text("from app import low\n")
    (app_dir / "pages" / "__init__.py").write_text("bp = object()\nfrom . import views\n")
    (app_dir / "pages" / "views.py").write_text("from . import bp\n")
    graph = import_graph(app_dir)
    assert graph.edges["app.low"] == {"app.high": 2} and graph.edges["app.high"] == {"app.low": 1}
    assert strongly_connected(graph.edges) == [["app.high", "app.low"], ["app.pages", "app.pages.views"]]


# --- (b) layers --------------------------------------------------------------------------------

def test_every_module_has_a_layer():
    unplaced = sorted(m for m in app_graph().paths if layer_of(m) is None)
    if unplaced:
        pytest.fail(f"Modules in no layer: add their prefix to LAYERS in {__name__}: {unplaced}", pytrace=False)


def test_layers_import_only_downwards():
    graph = app_graph()
    upward = []
    for source, targets in sorted(graph.edges.items()):
        for target in sorted(targets):
            low, high = layer_of(source), layer_of(target)
            allowed = any(_within(source, s) and target == t for s, t in ALLOWED_UPWARD)
            if None not in (low, high) and high > low and not allowed:
                upward.append(f"  {graph.where(source, target)}  {source} ({LAYERS[low][0]}) imports "
                              f"{target} ({LAYERS[high][0]})")
    if upward:
        pytest.fail("A lower layer imports a higher one (layers: " + " ← ".join(name for name, _ in LAYERS)
                    + "). Move the shared code down, or pass values in:\n" + "\n".join(upward), pytrace=False)


def test_domain_order_is_one_way():
    graphlib.TopologicalSorter(DOMAIN_IMPORTS).prepare()  # raises CycleError if the table has a loop
    packages = {p.name for p in (APP_DIR / "services").iterdir() if (p / "__init__.py").exists()}
    assert packages == set(DOMAIN_IMPORTS), f"Place each service package in DOMAIN_IMPORTS: {sorted(packages)}"


def test_service_domains_import_only_lower_domains():
    graph = app_graph()
    loose = sorted(m for m in graph.paths if _within(m, "app.services") and m != "app.services" and not domain_of(m))
    if loose:
        pytest.fail(f"Service modules belong in a domain package ({', '.join(DOMAIN_IMPORTS)}): {loose}",
                    pytrace=False)
    wrong = []
    for source, targets in sorted(graph.edges.items()):
        for target in sorted(targets):
            mine, theirs = domain_of(source), domain_of(target)
            if mine and theirs and mine != theirs and theirs not in DOMAIN_IMPORTS[mine]:
                wrong.append(f"  {graph.where(source, target)}  {source} ({mine}) imports {target} ({theirs})")
    if wrong:
        allowed = "; ".join(f"{d} → {', '.join(sorted(ds)) or 'nothing'}" for d, ds in DOMAIN_IMPORTS.items())
        pytest.fail(f"A service domain imports one it must not (allowed: {allowed}). Move the shared piece to "
                    "the lower domain:\n" + "\n".join(wrong), pytrace=False)


# --- (c) services without the web --------------------------------------------------------------

def _web_import(statement: Import, graph: ImportGraph) -> str | None:
    """Why this import puts the web into a service, or None."""
    if statement.name is None and statement.module in REQUEST_SIDE:
        return f"`import {statement.module}`: import the names you use, e.g. `from flask import current_app`"
    if statement.name in REQUEST_SIDE.get(statement.module, ()) or statement.name == "current_user":
        return f"{statement.module}.{statement.name} exists only while a request is handled"
    target = _resolve(statement, graph.paths) or statement.module
    if any(_within(target, web) for web in WEB_MODULES):
        return f"{target} is the request side"
    return None


def test_services_know_nothing_of_the_web():
    graph = app_graph()
    found = []
    for module, statements in sorted(graph.imports.items()):
        if not _within(module, "app.services"):
            continue
        for statement in statements:
            why = _web_import(statement, graph)
            if why:
                found.append(f"  {graph.paths[module]}:{statement.line}  {why}")
    if found:
        pytest.fail("Services take the acting principal and validated values as arguments; the view reads "
                    "the request and passes them in:\n" + "\n".join(found), pytrace=False)


@pytest.mark.parametrize("source, web", [
    ("from flask import request", True), ("from flask import g", True), ("import flask", True),
    ("from flask_login import current_user", True), ("from app.security import current_user", True),
    ("from app.blueprints.api import bp", True), ("from flask import current_app", False),
])
def test_web_import_check(source, web):
    graph = ImportGraph({"app.security": Path("app/security.py"), "app.blueprints.api": Path("app/blueprints/api")})
    statement = _statements(ast.parse(source), "app.services.platform")[0]
    assert (_web_import(statement, graph) is not None) is web
