"""What a ticket task's change of state does besides the state itself, for every entry point of
`transitions` (the board, /tasks/api, /api/workflow single and batch, automation rules):

- its current step's assignments close: `completed` when the task completes, `declined` when it is
  cancelled (assignments already completed or declined keep their status);
- its workflow's end logic runs on completion (`notification`: a NotificationRequested event, caused
  by the completion's event and in its chain);
- completing it before its workflow's last step is refused (`StepsRemaining`, 409, naming the steps
  left) unless the caller confirms skipping them; the audit row then records which steps were
  skipped and by whom.

Work items (no workflow step) have none of these. Everything runs in the caller's transaction and is
set-based: one SELECT for the workflows of all the tasks completed, one UPDATE for the assignments of
all the tasks closed, the events returned for the caller's multi-row INSERT.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import case, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models import AssignmentStatus, EndLogic, Task, TaskAssignment, TaskStatus, Ticket, User, Workflow, WorkflowStep
from app.services.platform.errors import Conflict
from app.services.platform.outbox import event_values

A, S = AssignmentStatus, TaskStatus
OPEN_ASSIGNMENT = (A.ASSIGNED.value, A.IN_PROGRESS.value, A.ON_HOLD.value)
# What a task's entering a state does to its current step's open assignments.
CLOSES_ASSIGNMENTS = {S.COMPLETED.value: A.COMPLETED.value, S.CANCELLED.value: A.DECLINED.value}


class StepsRemaining(Conflict):
    """Completing a ticket task before its workflow's last step, without confirming the skip."""

    code = "steps_remaining"
    title = "Workflow steps remain"


@dataclass(frozen=True)
class Route:
    """A ticket task's way through its workflow, as its completion needs it."""

    steps: tuple[dict, ...]  # every step, in order: {"id", "name", "order"}
    position: int | None  # the current step's index in `steps` (None: not among them any more)
    notify: bool  # the end logic asks for a NotificationRequested event
    ticket: tuple[str, str, str] | None  # the ticket's external id, subject and requester

    @property
    def remaining(self) -> tuple[dict, ...]:
        """The steps after the current one: what completing the task now skips."""
        return () if self.position is None else self.steps[self.position + 1:]


def load_routes(tasks: Iterable[Task]) -> dict[int, Route]:
    """The routes of the ticket tasks among `tasks` (one SELECT, none without a ticket task)."""
    current = {task.id: task.current_step_id for task in tasks if task.current_step_id is not None}
    if not current:
        return {}
    rows = db.session.execute(
        select(Task.id, Workflow.end_logic, WorkflowStep.id, WorkflowStep.name, WorkflowStep.order,
               Ticket.external_id, Ticket.subject, Ticket.requester)
        .join(Workflow, Workflow.id == Task.workflow_id).join(WorkflowStep, WorkflowStep.workflow_id == Workflow.id)
        .outerjoin(Ticket, Ticket.id == Task.ticket_id).where(Task.id.in_(current))
        .order_by(Task.id, WorkflowStep.order, WorkflowStep.id)).all()
    steps: dict[int, list[dict]] = {}
    facts: dict[int, tuple] = {}
    for task_id, end_logic, step_id, name, order, external_id, subject, requester in rows:
        steps.setdefault(task_id, []).append({"id": step_id, "name": name, "order": order})
        facts[task_id] = (end_logic == EndLogic.NOTIFICATION.value,
                          (external_id, subject, requester) if external_id is not None else None)
    routes = {}
    for task_id, its_steps in steps.items():
        ids = [step["id"] for step in its_steps]
        position = ids.index(current[task_id]) if current[task_id] in ids else None
        routes[task_id] = Route(tuple(its_steps), position, *facts[task_id])
    return routes


def confirm_completion(task: Task, to_state: str, skip: bool, routes: dict[int, Route], actor: User | None,
                       rule_id: int | None = None) -> dict:
    """What the audit row of moving `task` to `to_state` adds to its context: nothing, unless it
    completes a ticket task before its workflow's last step — refused with StepsRemaining unless
    `skip` confirms it, and then which steps were skipped and by whom (a user, or a rule). `routes`
    are `load_routes`' (loaded here for the task when missing). Reads only: call it before writing."""
    if to_state != S.COMPLETED.value or task.current_step_id is None:
        return {}
    if task.id not in routes:
        routes.update(load_routes([task]))
    route = routes.get(task.id)
    if route is None or not route.remaining:
        return {}
    skipped = [dict(step) for step in route.remaining]
    if not skip:
        current = route.steps[route.position]
        names = ", ".join(f"'{step['name']}'" for step in skipped)
        raise StepsRemaining(
            f"Task {task.id} is at step {route.position + 1} of {len(route.steps)} ('{current['name']}'); "
            f"completing it now would skip {names}. Move it to the next step, or confirm the skip "
            f"(skip_remaining_steps: true).",
            {"current_step": {**current, "position": route.position + 1}, "steps_count": len(route.steps),
             "remaining_steps": skipped})
    by = {"user_id": actor.id, "username": actor.username} if actor is not None else {"rule_id": rule_id}
    return {"skipped_steps": skipped, "skipped_by": by}


def has_effects(task: Task, to_state: str) -> bool:
    """Whether `apply` does anything for `task` entering `to_state`: it closes its step's assignments
    (and may run the end logic) only for a ticket task on a step that completes or is cancelled."""
    return to_state in CLOSES_ASSIGNMENTS and task.current_step_id is not None


def apply(changes: list[tuple[Task, str, dict]], routes: dict[int, Route], now: datetime) -> list[dict]:
    """The effects of applied changes — (task, the state it entered, the event the change wrote):
    one UPDATE closes the current step's assignments of the ticket tasks that completed or were
    cancelled; returns the NotificationRequested events of the completions whose workflow asks for
    one, for the caller to insert with its own events."""
    closing = {task.id: (task.current_step_id, CLOSES_ASSIGNMENTS[to_state]) for task, to_state, _ in changes
               if has_effects(task, to_state)}
    worked = close_step_assignments(closing, now)
    events = []
    for task, to_state, event in changes:
        route = routes.get(task.id)
        if to_state != S.COMPLETED.value or route is None or not route.notify or route.ticket is None:
            continue
        external_id, subject, requester = route.ticket
        events.append(event_values(
            "NotificationRequested", "task", task.id,
            {"task_id": task.id, "ticket_id": task.ticket_id, "project_id": task.project_id, "reason": "task_completed",
             "subject": f"Ticket {external_id} resolved: {subject}", "user_ids": worked.get(task.id, []),
             "requester": requester},
            correlation_id=event["correlation_id"], causation_id=event["id"], depth=event["depth"],
            rule_chain=event["rule_chain"]))
    return events


def close_step_assignments(closing: dict[int, tuple[int, str]], now: datetime) -> dict[int, list[int]]:
    """One UPDATE: for each task id → (step id, status), the task's open assignments on that step
    take that status. Returns, for each task, the users who worked the step (its assignments not
    declined, in assignment order). Loaded assignments are kept in step."""
    if not closing:
        return {}
    a = TaskAssignment
    is_open = a.status.in_(OPEN_ASSIGNMENT)
    stmt = (update(a).where(a.task_id.in_(closing),
                            a.step_id == case({t: step for t, (step, _) in closing.items()}, value=a.task_id),
                            or_(is_open, a.status == A.COMPLETED.value))
            .values(status=case((is_open, case({t: status for t, (_, status) in closing.items()}, value=a.task_id)),
                                else_=a.status),
                    updated_at=case((is_open, now), else_=a.updated_at))
            .returning(a.id, a.task_id, a.user_id, a.status, a.updated_at).execution_options(synchronize_session=False))
    worked: dict[int, list[tuple[int, int]]] = {}
    for row in db.session.execute(stmt).all():
        loaded = db.session.identity_map.get(identity_key(TaskAssignment, row.id))
        if loaded is not None:
            set_committed_value(loaded, "status", row.status)
            set_committed_value(loaded, "updated_at", row.updated_at)
        if row.status != A.DECLINED.value:
            worked.setdefault(row.task_id, []).append((row.id, row.user_id))
    return {task_id: [user_id for _, user_id in sorted(rows)] for task_id, rows in worked.items()}
