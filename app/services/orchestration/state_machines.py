"""The state machines of tasks and action plans: their explicit transition tables (DESIGN, "State
machines"), the event each change emits and how a task's events are correlated.

Tables only, no database: `transitions` changes states by them, `sla` correlates its clock events
like transitions do, rule validation and previews check edges against them, `/api/workflow/metadata`
describes them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from app.models import ActionPlan, ActionPlanStatus, Permission, Task, TaskStatus

S, P = TaskStatus, ActionPlanStatus


@dataclass(frozen=True)
class Machine:
    entity_type: str
    model: type
    label: str
    initial: str
    edges: dict[str, tuple[str, ...]]
    permission: str
    event_type: str
    aliases: dict[str, str] = field(default_factory=dict)
    reason_required: frozenset = frozenset()

    @property
    def states(self) -> list[str]:
        return list(self.edges)

    @property
    def terminal(self) -> list[str]:
        return [s for s, targets in self.edges.items() if not targets]

    @property
    def active(self) -> list[str]:
        """The states a row can still leave (not terminal), in table order."""
        return [s for s, targets in self.edges.items() if targets]

    @property
    def targets(self) -> list[str]:
        """The states some transition leads to (what a move may ask for), in table order."""
        reachable = {t for targets in self.edges.values() for t in targets}
        return [s for s in self.edges if s in reachable]

    def normalise(self, raw) -> str | None:
        text = str(raw or "").strip().lower()
        text = self.aliases.get(text, text)
        return text if text in self.edges else None


TASK = Machine(
    entity_type="task", model=Task, label="task", initial=S.NEW.value,
    edges={
        S.NEW.value: (S.IN_PROGRESS.value, S.BLOCKED.value, S.CANCELLED.value),
        S.IN_PROGRESS.value: (S.COMPLETED.value, S.BLOCKED.value, S.CANCELLED.value),
        S.BLOCKED.value: (S.IN_PROGRESS.value, S.CANCELLED.value),
        S.COMPLETED.value: (),
        S.CANCELLED.value: (),
    },
    permission=Permission.UPDATE_TASK.value, event_type="TaskStatusChanged",
    aliases={"pending": S.NEW.value, "on_hold": S.BLOCKED.value},  # the ticket service's names
    reason_required=frozenset({S.BLOCKED.value, S.CANCELLED.value}),
)
ACTION_PLAN = Machine(
    entity_type="action_plan", model=ActionPlan, label="action plan", initial=P.DRAFT.value,
    edges={P.DRAFT.value: (P.ACTIVE.value, P.ARCHIVED.value), P.ACTIVE.value: (P.ARCHIVED.value,), P.ARCHIVED.value: ()},
    permission=Permission.ACTIVATE_ACTION_PLAN.value, event_type="ActionPlanStatusChanged",
)
MACHINES = {m.entity_type: m for m in (TASK, ACTION_PLAN)}
# SLA clocks pause in these task states unless a config says otherwise (a blocked task waits on others).
DEFAULT_PAUSE_STATES = (S.BLOCKED.value,)


def machine_for(obj) -> Machine:
    return TASK if isinstance(obj, Task) else ACTION_PLAN


def task_correlation(task_id: int, ticket_id: int | None) -> str:
    """A ticket's tasks share the ticket's correlation id; other tasks have their own."""
    return f"ticket:{ticket_id}" if ticket_id else f"task:{task_id}"


def metadata() -> dict:
    """States, transitions and aliases of both machines (for /api/workflow/metadata)."""
    return {m.entity_type: {"states": m.states, "initial": m.initial, "terminal": m.terminal,
                            "transitions": {s: list(t) for s, t in m.edges.items()}, "aliases": m.aliases,
                            "permission": m.permission, "event_type": m.event_type,
                            "reason_required": sorted(m.reason_required)}
            for m in MACHINES.values()}
