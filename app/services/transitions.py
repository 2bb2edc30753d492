"""The state machines of tasks and action plans, and the one `transition()` that changes a state.

Explicit transition tables (DESIGN, "State machines"). `transition()` checks the edge, the permission,
who may act on this row and the guards; then a compare-and-set on the state column, the audit row
(`StateTransition`), the SLA clocks and the outbox event — one commit. `allowed_transitions` drives
the buttons and `/api/workflow/metadata`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm.attributes import set_committed_value

from app.extensions import db
from app.models import (
    ActionPlan, ActionPlanStatus, OutboxEvent, Permission, StateTransition, Task, TaskStatus, User, utcnow,
)
from app.services.access import get_scoped
from app.services.errors import Conflict, DomainError, FieldErrors, Forbidden, InvalidTransition
from app.services.outbox import event_values

log = logging.getLogger(__name__)
S, P = TaskStatus, ActionPlanStatus
_EVENT_INSERT = OutboxEvent.__table__.insert()
_AUDIT_INSERT = StateTransition.__table__.insert()


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


@dataclass(frozen=True)
class Cause:
    """The event (and rule) an automated change comes from: the loop guard's and causation chain's input."""

    event_id: str
    correlation_id: str | None
    depth: int
    rule_chain: tuple = ()

    @classmethod
    def of(cls, event: OutboxEvent, rule_id: int | None = None) -> "Cause":
        chain = tuple(event.rule_chain or ()) + ((rule_id,) if rule_id is not None else ())
        return cls(event.id, event.correlation_id, event.depth, chain)

    def event_kwargs(self) -> dict:
        return {"causation_id": self.event_id, "correlation_id": self.correlation_id,
                "depth": self.depth + 1, "rule_chain": list(self.rule_chain)}


@dataclass
class TransitionResult:
    entity: Task | ActionPlan
    from_state: str
    to_state: str
    event_id: str  # the outbox event it wrote
    correlation_id: str


def is_supervisor(user: User) -> bool:
    return user.is_admin or user.has_permission(Permission.MANAGE_WORKFLOWS)


def _is_assigned(task: Task, user: User) -> bool:
    if task.assignee_id == user.id:
        return True
    if task.ticket_id is None:  # only ticket tasks have per-step assignments
        return False
    return any(a.user_id == user.id and a.step_id == task.current_step_id and a.status != "declined"
               for a in task.assignments)


def _may_act(machine: Machine, obj, user: User, to_state: str) -> bool:
    """Who may make this change on this row (beyond holding the permission)."""
    if machine is ACTION_PLAN or is_supervisor(user):
        return True
    created = obj.created_by_id == user.id
    if to_state == S.CANCELLED.value:  # assignees work a task; only its author or a supervisor drops it
        return created
    return created or _is_assigned(obj, user)


def allowed_transitions(obj, user: User | None) -> list[str]:
    """The states this user may move this row to now (in table order); None = the system."""
    machine = machine_for(obj)
    targets = list(machine.edges.get(obj.status, ()))
    if user is None:
        return targets
    if not user.has_permission(machine.permission):
        return []
    return [t for t in targets if _may_act(machine, obj, user, t)]


def machine_for(obj) -> Machine:
    return TASK if isinstance(obj, Task) else ACTION_PLAN


def task_correlation(task_id: int, ticket_id: int | None) -> str:
    """A ticket's tasks share the ticket's correlation id; other tasks have their own."""
    return f"ticket:{ticket_id}" if ticket_id else f"task:{task_id}"


def _correlation(machine: Machine, obj) -> str:
    if machine is TASK:
        return task_correlation(obj.id, obj.ticket_id)
    return f"{machine.entity_type}:{obj.id}"


def _payload(machine: Machine, obj, before: str, after: str, actor: User | None, reason: str) -> dict:
    common = {"from": before, "to": after, "project_id": obj.project_id, "service_area": obj.service_area,
              "actor_id": actor.id if actor else None, "reason": reason}
    if machine is TASK:
        return {"task_id": obj.id, "ticket_id": obj.ticket_id, "title": obj.title, "task_type": obj.task_type,
                "priority": obj.priority,
                "action_plan_id": obj.action_plan_id, "assignee_id": obj.assignee_id, **common}
    return {"action_plan_id": obj.id, "title": obj.title, **common}


def _count(entity_type: str, result: str) -> None:
    from app.services.metrics import count

    count("workflow_transition_total", entity_type=entity_type, result=result)


def transition(actor: User | None, entity_type: str, entity_id, to_state, *, reason: str = "",
               context: dict | None = None, expected_state: str | None = None, correlation_id: str | None = None,
               cause: Cause | None = None, commit: bool = True, now: datetime | None = None) -> TransitionResult:
    """Move a task or action plan to `to_state`. `actor` None is the system (automation): no
    permission check, and `cause` links the change to the event that led to it. With commit=False
    the caller owns the transaction (the outbox relay runs rules inside its own)."""
    machine = MACHINES.get(entity_type)
    if machine is None:
        raise InvalidTransition(f"No state machine for {entity_type!r}; there are {', '.join(MACHINES)}.")
    try:
        result = _transition(machine, actor, entity_id, to_state, reason, context, expected_state, correlation_id,
                             cause, now)
    except DomainError as exc:
        _count(machine.entity_type, {"InvalidTransition": "invalid", "Forbidden": "forbidden",
                                     "Conflict": "conflict"}.get(type(exc).__name__, "rejected"))
        raise
    if commit:
        finish(result)
    return result


def finish(result: TransitionResult) -> None:
    """Commit a transition made with commit=False (after the caller's own changes), count and log it."""
    entity_type, entity_id = machine_for(result.entity).entity_type, result.entity.id  # before commit expires them
    db.session.commit()
    _count(entity_type, "success")
    log.info("%s %s: %s → %s", entity_type, entity_id, result.from_state, result.to_state,
             extra={"correlation_id": result.correlation_id, "event_id": result.event_id})


def _load(machine: Machine, actor: User | None, entity_id):
    if actor is not None:
        return get_scoped(machine.model, entity_id, actor, machine.label)
    obj = db.session.get(machine.model, int(entity_id))
    if obj is None:
        from app.services.errors import NotFound

        raise NotFound(f"No {machine.label} {entity_id}")
    return obj


def _transition(machine: Machine, actor, entity_id, raw_to, reason, context, expected_state, correlation_id, cause,
                now) -> TransitionResult:
    obj = _load(machine, actor, entity_id)
    errors = FieldErrors()
    to_state = machine.normalise(raw_to)
    if to_state is None:
        errors.add("to_state", f"must be one of {', '.join(machine.states)}, got {raw_to!r}")
    reason = str(reason or "").strip()
    if len(reason) > 500:
        errors.add("reason", "must be at most 500 characters")
    errors.raise_if_any(f"Cannot change {machine.label} {obj.id}")
    before = obj.status
    if expected_state is not None and machine.normalise(expected_state) != before:
        raise Conflict(f"{machine.label.capitalize()} {obj.id} is {before}, not {expected_state}; reload it.",
                       {"status": [before]})
    if to_state not in machine.edges.get(before, ()):
        raise InvalidTransition(
            f"{machine.label.capitalize()} {obj.id} cannot go from {before} to {to_state}.",
            {"from": before, "to": to_state, "allowed": list(machine.edges.get(before, ()))})
    if actor is not None:
        if not actor.has_permission(machine.permission):
            raise Forbidden(f"You need the {machine.permission} permission to change {machine.label}s.",
                            {"permission": machine.permission})
        if not _may_act(machine, obj, actor, to_state):
            raise Forbidden(f"Only the {machine.label}'s author, its assignees or a supervisor can move it to "
                            f"{to_state}." if to_state != S.CANCELLED.value else
                            f"Only the {machine.label}'s author or a supervisor can cancel it.",
                            {"permission": machine.permission})
    if to_state in machine.reason_required and not reason:
        errors.add("reason", f"is required to move a {machine.label} to {to_state}")
        errors.raise_if_any(f"Cannot change {machine.label} {obj.id}")
    now = now or utcnow()
    _compare_and_set(machine, obj, before, to_state, actor, now)
    cid = correlation_id or (cause.correlation_id if cause else None) or _correlation(machine, obj)
    chain = cause.event_kwargs() if cause else {"correlation_id": cid}
    chain["correlation_id"] = cid
    # The event and the audit row are plain INSERTs: nothing reads them back in this transaction.
    event = event_values(machine.event_type, machine.entity_type, obj.id,
                         _payload(machine, obj, before, to_state, actor, reason), **chain)
    db.session.execute(_EVENT_INSERT, event)
    db.session.execute(_AUDIT_INSERT, {
        "entity_type": machine.entity_type, "entity_id": obj.id, "from_state": before, "to_state": to_state,
        "actor_id": actor.id if actor else None, "reason": reason, "context": dict(context or {}),
        "correlation_id": cid, "event_id": event["id"], "at": now})
    if machine is TASK:
        from app.services import sla

        sla.on_task_transition(obj, before, to_state, now)
    return TransitionResult(obj, before, to_state, event["id"], cid)


def _compare_and_set(machine: Machine, obj, before: str, to_state: str, actor, now: datetime) -> None:
    """Write the new state only if the row is still in `before` (this also locks it until commit)."""
    model = machine.model
    values = {"status": to_state, "updated_at": now}
    if machine is TASK:
        if to_state == S.COMPLETED.value:
            values["completed_at"] = now
        if to_state == S.IN_PROGRESS.value and obj.assignee_id is None and obj.ticket_id is None and actor is not None:
            values["assignee_id"] = actor.id  # starting an unassigned task claims it
    elif to_state == P.ACTIVE.value:
        values["activated_at"] = now
    elif to_state == P.ARCHIVED.value:
        values["archived_at"] = now
    changed = db.session.execute(
        update(model).where(model.id == obj.id, model.status == before).values(**values)
        .execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise Conflict(f"{machine.label.capitalize()} {obj.id} changed meanwhile; reload it and try again.",
                       {"status": [before]})
    for name, value in values.items():  # keep the loaded object in step, without a second UPDATE
        set_committed_value(obj, name, value)


def metadata() -> dict:
    """States, transitions and aliases of both machines (for /api/workflow/metadata)."""
    return {m.entity_type: {"states": m.states, "initial": m.initial, "terminal": m.terminal,
                            "transitions": {s: list(t) for s, t in m.edges.items()}, "aliases": m.aliases,
                            "permission": m.permission, "event_type": m.event_type,
                            "reason_required": sorted(m.reason_required)}
            for m in MACHINES.values()}
