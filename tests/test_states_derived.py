"""Task states are derived from the state machine, never restated (issue 14, point 3): the lists of
states, terminal states, pause states and rule targets come from `state_machines.TASK` and the
`TaskStatus` enum. A scan of app/ fails on a hand-written collection of task states."""
from __future__ import annotations

import ast
import re
from pathlib import Path

from app.models import TaskStatus
from app.schemas import automation as automation_schema
from app.schemas import sla as sla_schema
from app.services.helpdesk import task_board, ticket_tasks
from app.services.orchestration import metrics_exposition
from app.services.orchestration.state_machines import ACTION_PLAN, TASK
from app.template_helpers import TASK_BADGES

APP = Path(__file__).resolve().parent.parent / "app"
STATES = {s.value for s in TaskStatus}
MEMBERS = {s.name for s in TaskStatus}
# The tables themselves (the machine's edges, the enum) are where states are stated.
OWNERS = {APP / "services/orchestration/state_machines.py"}


def _enum_aliases(tree: ast.Module) -> set[str]:
    """Names a module binds to TaskStatus (`S = TaskStatus`, `S, P = TaskStatus, ActionPlanStatus`)."""
    names = {"TaskStatus"}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        for target in node.targets:
            pairs = (zip(target.elts, node.value.elts) if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple)
                     else [(target, node.value)])
            names |= {t.id for t, v in pairs if isinstance(t, ast.Name) and isinstance(v, ast.Name) and v.id in names}
    return names


# The sets the machine names: spelling one of them out with the enum is restating it too.
DERIVED = [frozenset(TASK.states), frozenset(TASK.active), frozenset(TASK.terminal), frozenset(TASK.targets),
           frozenset(TASK.reason_required)]


def _state_of(node: ast.AST, aliases: set[str]) -> tuple[str, bool] | None:
    """The task state an expression spells out, and whether as text: "blocked" (text), TaskStatus.BLOCKED
    or S.BLOCKED.value (the enum). None: not a task state."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return (node.value, True) if node.value in STATES else None
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value
    if isinstance(node, ast.Attribute) and node.attr in MEMBERS and isinstance(node.value, ast.Name) \
            and node.value.id in aliases:
        return TaskStatus[node.attr].value, False
    return None


def _restated(items: list[ast.AST], aliases: set[str], whole_table_ok: bool = False) -> bool:
    """Two or more items, every one of them a task state (a mixed list is about something else), and
    either written as text or, with the enum, one of the sets the machine names (a dict keyed by the
    enum is a table of what each state does, not a restated set). (A subset such as
    "new or in_progress" written with the enum is a rule of its own, not a restatement.)"""
    found = [_state_of(item, aliases) for item in items]
    if len(found) < 2 or not all(found):
        return False
    states = frozenset(state for state, _text in found)
    if whole_table_ok and (states == STATES or not any(text for _state, text in found)):
        return False  # a per-state table: one entry per state, or keys written with the enum
    return any(text for _state, text in found) or states in DERIVED


def python_restatements(path: Path) -> list[int]:
    """Line numbers of hand-written task state collections in a Python module."""
    tree = ast.parse(path.read_text(), str(path))
    aliases = _enum_aliases(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)) and _restated(node.elts, aliases):
            found.append(node.lineno)
        elif isinstance(node, ast.Dict) and _restated([k for k in node.keys if k is not None], aliases,
                                                      whole_table_ok=True):
            found.append(node.lineno)
    return sorted(found)


_GROUP = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")
_QUOTED = re.compile(r"""['"]([a-z_]+)['"]""")


def template_restatements(path: Path) -> list[int]:
    """Line numbers of Jinja tuples, lists and dict literals whose quoted items are all task states."""
    found = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        for group in _GROUP.finditer(line):
            words = _QUOTED.findall(group.group(1))
            keys_only = re.findall(r"""['"]([a-z_]+)['"]\s*:""", group.group(1))
            for items in (words, keys_only):
                if len(items) >= 2 and all(w in STATES for w in items):
                    found.append(number)
                    break
    return found


def test_no_module_or_template_restates_task_states():
    python = [f"{path.relative_to(APP.parent)}:{line}" for path in sorted(APP.rglob("*.py"))
              if path not in OWNERS and "models" not in path.parts for line in python_restatements(path)]
    templates = [f"{path.relative_to(APP.parent)}:{line}" for path in sorted(APP.rglob("*.html"))
                 for line in template_restatements(path)]
    assert python + templates == [], "derive these from state_machines.TASK (states, active, terminal, targets)"


def test_the_scan_catches_restatements(tmp_path):
    """The scan is not vacuous: each way the states used to be restated is caught, and neighbours
    that merely share a word are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from app.models import TaskStatus\nS = TaskStatus\n"
        "ACTIVE = ('new', 'in_progress', 'blocked')\n"           # 3: caught
        "TERMINAL = (S.COMPLETED.value, S.CANCELLED.value)\n"     # 4: caught (TASK.terminal)
        "COUNTS = {'new': 0, 'completed': 0}\n"                    # 5: caught (a partial per-state table)
        "WORKABLE = (S.NEW.value, S.IN_PROGRESS.value)\n"          # a rule of its own, with the enum
        "ASSIGNMENT = ('assigned', 'in_progress', 'on_hold')\n"   # assignment statuses: not task states
        "ALIASES = {'completed': 'success', 'cancelled': 'failed', 'error': 'failed'}\n"
        "BADGES = {S.NEW: 1, S.IN_PROGRESS: 2, S.BLOCKED: 3, S.COMPLETED: 4, S.CANCELLED: 5}\n")
    assert python_restatements(sample) == [3, 4, 5]
    page = tmp_path / "page.html"
    page.write_text("{% if t.status not in ('completed', 'cancelled') %}\n"
                    "{% if clock.status not in ('met', 'cancelled') %}\n"
                    "{% set cls = {'new': 'badge-queued', 'blocked': 'badge-error'}.get(s) %}\n")
    assert template_restatements(page) == [1, 3]


def test_derived_lists_follow_the_machine():
    assert TASK.active == ["new", "in_progress", "blocked"] and TASK.terminal == ["completed", "cancelled"]
    assert set(TASK.active) | set(TASK.terminal) == set(TASK.states) == STATES
    assert metrics_exposition.ACTIVE_TASK_STATES == tuple(TASK.active)
    assert sla_schema.PAUSABLE_STATES == tuple(TASK.active)
    assert ticket_tasks.TERMINAL == tuple(TASK.terminal) and task_board.COLUMNS == TASK.states
    # a rule may only ask for a state some transition leads to
    assert automation_schema.TASK_TARGETS == ("in_progress", "blocked", "completed", "cancelled")
    assert automation_schema.PLAN_TARGETS == tuple(ACTION_PLAN.targets) == ("active", "archived")
    assert set(automation_schema.REASON_REQUIRED) == TASK.reason_required
    assert set(TASK_BADGES) == STATES  # every state has its badge on the board


def test_stats_and_the_sla_form_list_every_state(client, login, make_user, api_token):
    """What clients see comes from the machine: /api/workflow/stats counts every state (zeros too),
    the SLA config form offers exactly the non-terminal states as pause states."""
    user = make_user(role="admin", username="states-admin")
    stats = client.get("/api/workflow/stats", headers=api_token(user)).get_json()
    assert stats["tasks"]["by_state"] == dict.fromkeys(TASK.states, 0)
    login(user)
    page = client.get("/sla/configs/new").get_data(as_text=True)
    offered = re.findall(r'name="pause_states" value="([a-z_]+)"', page)
    assert offered == TASK.active
