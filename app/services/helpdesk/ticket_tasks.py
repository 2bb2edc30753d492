"""Task operations (the seed's /tasks/api/tasks/ actions): list, actions on the board, complete with
end logic, move to the next step (staffed round-robin), manual assignment, per-user status.

Status changes go through `transitions.transition` (the one state machine), which also closes the
step's assignments and runs the workflow's end logic; `ACTIONS` only names the board's buttons. Step
moves and assignments are compare-and-set on the task row, write their outbox event and audit row,
and commit once.
"""
from __future__ import annotations

from flask import current_app
from sqlalchemy import Select, func, select, update

from app.extensions import db
from app.models import (
    AssignmentStatus, Permission, Task, TaskAssignment, TaskStatus, Ticket, User, Workflow, utcnow,
)
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.services.platform.access import get_scoped, project_scope
from app.services.platform.errors import Conflict, DomainError, FieldErrors, Forbidden, InvalidTransition, NotFound
from app.services.platform.outbox import emit_event
from app.services.helpdesk.round_robin import (
    OPEN_ASSIGNMENT, RoleSourceUnreachable, fetch_external_ids, lock_states, next_assignees, role_staffing,
    save_states, with_availability,
)
from app.services.orchestration.state_machines import TASK
from app.services.orchestration.task_queries import tasks_query, with_related
from app.services.orchestration.task_effects import close_step_assignments
from app.schemas.ticket_tasks import AssignUserIn, ReassignIn, TicketTaskFilters, UserStatusIn
from app.services.orchestration.transitions import allowed_transitions, finish, is_supervisor, transition

S = TaskStatus
TERMINAL = tuple(TASK.terminal)
# Board action → (the state it applies to, or None for any; the state it leads to; label). Which ones a
# user may take comes from the state machine (`transitions.allowed_transitions`).
ACTIONS: dict[str, tuple[str | None, str, str]] = {
    "start": (S.NEW.value, S.IN_PROGRESS.value, "Start"),
    "block": (None, S.BLOCKED.value, "Block"),
    "resume": (S.BLOCKED.value, S.IN_PROGRESS.value, "Resume"),
    "next_step": (None, S.IN_PROGRESS.value, "Next step"),
    "complete": (None, S.COMPLETED.value, "Complete"),
    "cancel": (None, S.CANCELLED.value, "Cancel"),
}


def task_list_query(user: User, filters: TicketTaskFilters) -> Select:
    """The seed's task list (both kinds unless `kind`) under its filters; `mine` and `user_id`: assigned
    to the task now (`task_queries`)."""
    return with_related(tasks_query(user, kind=filters.kind, status=filters.status, ticket_id=filters.ticket_id,
                                    workflow_id=filters.workflow_id, mine=filters.mine, assigned_to=filters.user_id,
                                    project_id=filters.project_id))


def get_task(user: User, task_id) -> Task:
    return get_scoped(Task, task_id, user, "task")


def current_assignments(task: Task) -> list[TaskAssignment]:
    return [a for a in task.assignments if a.step_id == task.current_step_id]


def fetch_task(user: User, task_id) -> Task:
    """A task as its reader fetches it (GET on the task API): the first fetch by one of its current
    step's assignees stamps the seed's `fetched_at`."""
    task = get_task(user, task_id)
    if task.fetched_at is None and any(a.user_id == user.id and a.status != AssignmentStatus.DECLINED.value
                                       for a in current_assignments(task)):
        now = utcnow()
        db.session.execute(update(Task).where(Task.id == task.id, Task.fetched_at.is_(None)).values(fetched_at=now))
        db.session.commit()
        db.session.refresh(task)
    return task


def assigned_users_by_status(user: User, task_id, status: str | None) -> tuple[Task, list[TaskAssignment]]:
    """The seed's `get_assigned_users_by_status`: the current step's assignees in that status (all without one)."""
    task = get_task(user, task_id)
    return task, [a for a in current_assignments(task) if status is None or a.status == status]


def allowed_actions(task: Task, user: User) -> list[str]:
    """The board actions this user may take on this task now, in display order. Completing a `new`
    task passes through in_progress (two transitions), as the seed's complete_task allows."""
    targets = allowed_transitions(task, user)
    may_work = S.IN_PROGRESS.value in targets or S.COMPLETED.value in targets
    out = []
    for name, (source, to, _label) in ACTIONS.items():
        if name == "next_step":
            ok = bool(task.workflow_id) and task.status in (S.NEW.value, S.IN_PROGRESS.value) and may_work
        elif name == "complete":
            ok = S.COMPLETED.value in targets or (task.status == S.NEW.value and S.IN_PROGRESS.value in targets)
        else:
            ok = (source is None or task.status == source) and to in targets
        if ok:
            out.append(name)
    return out


def _check_action(user: User, task: Task, action: str) -> None:
    if action not in ACTIONS:
        raise NotFound(f"No action '{action}'; actions are {', '.join(ACTIONS)}")
    if action in allowed_actions(task, user):
        return
    require_permission(user, Permission.UPDATE_TASK)
    source, to, _label = ACTIONS[action]
    possible = {"next_step": bool(task.workflow_id) and task.status in (S.NEW.value, S.IN_PROGRESS.value),
                "complete": task.status in (S.NEW.value, S.IN_PROGRESS.value)}.get(
        action, (source is None or task.status == source) and to in TASK.edges.get(task.status, ()))
    if not possible:
        raise InvalidTransition(f"Task {task.id} is {task.status}; '{action}' is not possible now.",
                                {"from": task.status, "allowed": allowed_actions(task, user)})
    raise Forbidden(f"Only the task's assignees or a supervisor can {action.replace('_', ' ')} task {task.id}.",
                    {"permission": Permission.UPDATE_TASK.value})


def _compare_and_set(task: Task, **values) -> None:
    """Change the task only if nobody else changed it since it was read (also locks the row)."""
    changed = db.session.execute(
        update(Task).where(Task.id == task.id, Task.status == task.status, Task.current_step_id == task.current_step_id)
        .values(updated_at=utcnow(), **values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        db.session.rollback()
        raise Conflict(f"Task {task.id} changed meanwhile; reload it and try again.")


def _event(event_type: str, task: Task, payload: dict, causation_id: str | None = None):
    return emit_event(event_type, "task", task.id, {"task_id": task.id, "ticket_id": task.ticket_id,
                                                    "project_id": task.project_id, **payload},
                      correlation_id=f"ticket:{task.ticket_id}", causation_id=causation_id)


def perform_action(user: User, task_id, action: str, reason: str = "", skip_remaining_steps: bool = False) -> Task:
    """Apply a board action (start, block, resume, next_step, complete, cancel) through the state machine
    (which closes the step's assignments of a cancelled task). `skip_remaining_steps`: see complete_task."""
    task = get_task(user, task_id)
    if action == "next_step":
        return move_to_next_step(user, task.id)
    if action == "complete":
        return complete_task(user, task.id, reason, skip_remaining_steps)
    _check_action(user, task, action)
    result = transition(user, "task", task.id, ACTIONS[action][1], reason=reason, context={"action": action},
                        commit=False)
    _follow(user, task, ACTIONS[action][1])
    finish(result)
    db.session.refresh(task)
    return task


# The actor's own status on the step follows what they do to the task, so the card has one status control.
_OWN_STATUS = {S.IN_PROGRESS.value: AssignmentStatus.IN_PROGRESS.value, S.BLOCKED.value: AssignmentStatus.ON_HOLD.value}


def _follow(user: User, task: Task, to_state: str) -> None:
    """Set the actor's open assignment on the current step to match the task's new state (if they have one)."""
    own = _OWN_STATUS.get(to_state)
    mine = next((a for a in current_assignments(task) if a.user_id == user.id and a.status in OPEN_ASSIGNMENT), None)
    if own and mine is not None and mine.status != own:
        mine.status, mine.updated_at = own, utcnow()


def complete_task(user: User, task_id, reason: str = "", skip_remaining_steps: bool = False) -> Task:
    """Complete the task (a `new` one passes through in_progress, in one commit); the transition closes
    its step's assignments and runs its workflow's end logic. Before the workflow's last step it is
    refused (StepsRemaining, nothing written) unless `skip_remaining_steps` confirms skipping the rest."""
    task = get_task(user, task_id)
    _check_action(user, task, "complete")
    try:
        if task.status == S.NEW.value:
            transition(user, "task", task.id, S.IN_PROGRESS.value, reason=reason, context={"action": "complete"},
                       commit=False)
        result = transition(user, "task", task.id, S.COMPLETED.value, reason=reason, context={"action": "complete"},
                            commit=False, skip_remaining_steps=skip_remaining_steps)
    except DomainError:
        db.session.rollback()  # the start above, if any, goes with the refusal
        raise
    finish(result)
    db.session.refresh(task)
    return task


def move_to_next_step(user: User, task_id) -> Task:
    """Move to the next step by order and staff its role round-robin; at the last step, complete."""
    task = get_task(user, task_id)
    _check_action(user, task, "next_step")
    steps = list(task.workflow.steps)
    position = next((i for i, s in enumerate(steps) if s.id == task.current_step_id), len(steps))
    if position + 1 >= len(steps):
        return complete_task(user, task.id)
    step, role = steps[position + 1], steps[position + 1].role
    staffing = role_staffing({role.id: role.name})[role.id]  # before any lock: it may be an HTTP call
    if isinstance(staffing, RoleSourceUnreachable):
        raise staffing
    if not any(m.active for m in staffing.members):
        raise Conflict(f"No active users for role '{role.name}' of step '{step.name}'; the task stays where it is.")
    previous_step = task.current_step_id
    _compare_and_set(task, current_step_id=step.id)
    now = utcnow()
    picks = _pick(role, staffing, now)
    if not picks:
        db.session.rollback()
        raise Conflict(f"Nobody can take step '{step.name}' now for role '{role.name}'; the task stays where it is.")
    close_step_assignments({task.id: (previous_step, AssignmentStatus.COMPLETED.value)}, now)
    for pick in picks:
        db.session.add(TaskAssignment(task_id=task.id, step_id=step.id, user_id=pick.user_id, username=pick.username,
                                      role_name=role.name, status="assigned", reason=pick.reason, assigned_on=now,
                                      updated_at=now))
    _event("TaskStepChanged", task, {"from_step_id": previous_step, "to_step_id": step.id, "actor_id": user.id,
                                     "assignees": [p.user_id for p in picks]})
    audit.record(user, "next_step", "task", task.id, {"step": [previous_step, step.id]})
    db.session.commit()
    db.session.expire(task)
    return task


def _pick(role, staffing, now, exclude: frozenset[int] = frozenset(), limit: int | None = None) -> list:
    """Staff a role in the current transaction: lock its state, read who is free, pick (its mode,
    availability, cap; never `exclude`d users), store the rotation."""
    last = lock_states([role.id])[role.id]
    found, load = with_availability({role.id: staffing}, now.date())
    members = [m for m in found[role.id].members if m.user_id not in exclude]
    picks, last = next_assignees(members, last, limit or staffing.limit, role.name, mode=staffing.mode,
                                 cap=staffing.cap, load=load)
    save_states({role.id: last})
    return picks


def _open_task(user: User, task_id) -> Task:
    task = get_task(user, task_id)
    if task.status in TERMINAL:
        raise InvalidTransition(f"Task {task.id} is {task.status}; its assignments cannot change.")
    return task


def assign_user(user: User, task_id, data: AssignUserIn) -> TaskAssignment:
    """Put a user of the task's project on its current step (supervisors)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    task = _open_task(user, task_id)
    if task.current_step_id is None:
        raise Conflict(f"Task {task.id} has no workflow step to assign users to.")
    errors = FieldErrors()
    role = data.role or task.current_step.role.name
    user_id, username = _assignee(task, data, role, errors)
    if user_id is not None and any(a.user_id == user_id and a.status != AssignmentStatus.DECLINED.value
                                   for a in current_assignments(task)):
        errors.add("userID", f"{username or user_id} is already assigned to this step")
    errors.raise_if_any("Cannot assign user")
    assignment = TaskAssignment(task_id=task.id, step_id=task.current_step_id, user_id=user_id,
                                username=username, role_name=role, status=AssignmentStatus.ASSIGNED.value,
                                reason=f"assigned manually by {user.username}")
    db.session.add(assignment)
    _event("TaskAssigned", task, {"user_id": user_id, "step_id": task.current_step_id, "actor_id": user.id})
    audit.record(user, "assign_user", "task", task.id, {"user_id": user_id})
    db.session.commit()
    return assignment


def _assignee(task: Task, data: AssignUserIn, role: str, errors: FieldErrors) -> tuple[int | None, str]:
    """Who `assign_user` names: a user of the task's project by `userID`, else by `username` or `email`;
    with TTS_SERVICE_URL set, also a user of the external role source (an id it lists for the role, not
    one of ours: the assignment keeps the `username` or `email` sent as its name)."""
    field, by = ("userID", User.id == data.userID) if data.userID is not None else \
        ("username", User.username == data.username) if data.username else ("email", func.lower(User.email) == data.email.lower())
    target = db.session.execute(select(User).where(by)).scalar_one_or_none()
    if target is not None and task.project_id in target.project_ids:
        if not target.active:
            errors.add(field, f"user {target.username} is inactive")
        return target.id, target.username
    if target is None and data.userID is not None and current_app.config.get("TTS_SERVICE_URL"):
        if data.userID in fetch_external_ids(role):  # RoleSourceUnreachable (503) when it cannot say
            return data.userID, (data.username or data.email or "")[:80]
        errors.add("userID", f"user {data.userID} is neither a user of this project nor listed by the role source "
                             f"for role '{role}'")
        return None, ""
    errors.add(field, f"user {getattr(data, field)} does not exist in this project")
    return None, ""


def reassign(user: User, task_id, data: ReassignIn) -> Task:
    """Leave the task's current step with a reason: the caller declines their own assignment, or a lead
    moves someone's (`user_id`) to `to_user_id`; without one, the step's role picks who takes over
    (its mode; away, on-leave and capped users skipped). Recorded as a `TaskReassigned` event (the
    task's history on its ticket's page) and an audit row. Commits once."""
    task = _open_task(user, task_id)
    leaving = data.user_id or user.id
    lead = is_supervisor(user)
    if (leaving != user.id or data.to_user_id is not None) and not lead:
        raise Forbidden("Only a lead can reassign someone else's work or choose who takes it; you can decline "
                        "your own.", {"permission": Permission.MANAGE_WORKFLOWS.value})
    how = "declined" if leaving == user.id and data.to_user_id is None else "reassigned"
    staffing = _staffing_for(task)
    now = utcnow()
    _compare_and_set(task)
    _leave_step(user, task, leaving, data.to_user_id, data.reason, how, staffing, now)
    db.session.commit()
    db.session.expire(task)
    return task


def _staffing_for(task: Task):
    """The current step's role staffing, read before any lock (the role source may be an HTTP call)."""
    if task.current_step_id is None:
        raise Conflict(f"Task {task.id} has no workflow step; it has no assignments to leave.")
    role = task.current_step.role
    staffing = role_staffing({role.id: role.name})[role.id]
    if isinstance(staffing, RoleSourceUnreachable):
        raise staffing
    return staffing


def _leave_step(actor: User, task: Task, leaving: int, to_user_id: int | None, reason: str, how: str, staffing,
                now) -> int | None:
    """Decline `leaving`'s open assignment on the current step and put someone in their place (the one
    named, else the role's pick among the free users not on the step yet). Returns who took over (None:
    nobody was free). Writes the event and the audit row; the caller commits."""
    open_here = [a for a in current_assignments(task) if a.status in OPEN_ASSIGNMENT]
    assignment = next((a for a in open_here if a.user_id == leaving), None)
    errors = FieldErrors()
    if assignment is None:
        errors.add("user_id", f"user {leaving} has no open assignment on the current step of task {task.id}")
    target = None
    if to_user_id is not None:
        target = db.session.get(User, to_user_id)
        if target is None or task.project_id not in target.project_ids:
            errors.add("to_user_id", f"user {to_user_id} does not exist in this project")
        elif not target.active:
            errors.add("to_user_id", f"user {target.username} is inactive")
        elif any(a.user_id == target.id for a in open_here):
            errors.add("to_user_id", f"{target.username} is already on this step")
    errors.raise_if_any("Cannot reassign")
    assignment.status, assignment.updated_at = AssignmentStatus.DECLINED.value, now
    role = task.current_step.role
    if target is not None:
        taker = (target.id, target.username, f"{how} to them by {actor.username}: {reason}")
    else:
        picks = _pick(role, staffing, now, exclude=frozenset(a.user_id for a in open_here), limit=1)
        taker = (picks[0].user_id, picks[0].username, f"replaces user {leaving} ({how}): {picks[0].reason}") \
            if picks else None
    if taker is not None:
        db.session.add(TaskAssignment(task_id=task.id, step_id=task.current_step_id, user_id=taker[0],
                                      username=taker[1][:80], role_name=role.name, status="assigned",
                                      reason=taker[2][:500], assigned_on=now, updated_at=now))
    to_id = taker[0] if taker else None
    _event("TaskReassigned", task, {"step_id": task.current_step_id, "from_user_id": leaving, "to_user_id": to_id,
                                    "how": how, "reason": reason, "actor_id": actor.id})
    audit.record(actor, how, "task", task.id, {"from_user_id": leaving, "to_user_id": to_id, "reason": reason})
    return to_id


def hand_back_tasks(actor: User, agent: User, reason: str) -> list[tuple[int, int | None]]:
    """Hand back every open ticket task step `agent` holds (they are going away): each to whoever its
    role picks now. Returns [(task id, who took over or None)]; the caller commits."""
    tasks = db.session.execute(
        select(Task).join(TaskAssignment, (TaskAssignment.task_id == Task.id)
                          & (TaskAssignment.step_id == Task.current_step_id))
        .where(TaskAssignment.user_id == agent.id, TaskAssignment.status.in_(OPEN_ASSIGNMENT),
               Task.status.not_in(TERMINAL), Task.project_id.in_(project_scope(actor)))
        .order_by(Task.id).distinct()).scalars().all()
    roles = {t.current_step.role.id: t.current_step.role.name for t in tasks}
    staffing = role_staffing(roles)  # one read of the role source for all the tasks
    now, out = utcnow(), []
    for task in tasks:
        found = staffing[task.current_step.role.id]
        if isinstance(found, RoleSourceUnreachable):
            raise found
        _compare_and_set(task)
        out.append((task.id, _leave_step(actor, task, agent.id, None, reason, "handed_back", found, now)))
    return out


def update_user_status(user: User, task_id, data: UserStatusIn) -> TaskAssignment:
    """Set one assignee's status on the current step: the assignee, or a supervisor."""
    require_permission(user, Permission.UPDATE_TASK)
    task = _open_task(user, task_id)
    errors = FieldErrors()
    user_id, status = data.user_id, data.status
    assignment = next((a for a in current_assignments(task) if a.user_id == user_id), None)
    if assignment is None:
        errors.add("user_id", f"user {user_id} is not assigned to the current step of task {task.id}")
    errors.raise_if_any("Cannot update the user's status")
    if assignment.user_id != user.id and not is_supervisor(user):
        raise Forbidden("Only that user or a supervisor can change their status.")
    before = assignment.status
    assignment.status, assignment.updated_at = status, utcnow()
    _event("TaskUserStatusChanged", task, {"user_id": user_id, "from": before, "to": status, "actor_id": user.id})
    audit.record(user, "update_user_status", "task", task.id, {"user_id": user_id, "status": [before, status]})
    db.session.commit()
    return assignment


def create_task_for_ticket(user: User, ticket_id: int) -> Task:
    """Allocate a ticket that has no task yet (manual trigger or retry). The outcome is stored on the
    ticket either way; a failure is then raised (409, or 503 when the role source is unreachable)."""
    from app.services.helpdesk.intake import allocate_tickets
    from app.services.helpdesk.tickets import get_ticket

    require_permission(user, Permission.CREATE_TASK)
    ticket = get_ticket(user, ticket_id)
    if ticket.is_task_allocated:
        raise Conflict(f"Ticket {ticket.external_id} already has task {ticket.task.id if ticket.task else '?'}.")
    outcome = allocate_tickets([ticket.id])[0]
    if outcome.task_id:
        return db.session.get(Task, outcome.task_id)
    if outcome.allocation_status == "role_source_unreachable":
        raise RoleSourceUnreachable(outcome.message, {"allocation_status": [outcome.allocation_status]})
    raise Conflict(outcome.message or "The ticket could not be allocated.",
                   {"allocation_status": [outcome.allocation_status or "unknown"]})


def workflow_statistics(user: User, project_id: int | None = None) -> dict:
    """Task counts by status for each workflow of the caller's projects, and ticket allocation counts."""
    require_permission(user, Permission.VIEW_STATS)
    scope = [project_id] if project_id in user.project_ids else project_scope(user)
    per_workflow: dict[int, dict] = {}
    for wf in db.session.execute(select(Workflow).where(Workflow.project_id.in_(scope)).order_by(Workflow.name)).scalars():
        per_workflow[wf.id] = {"workflow_id": wf.id, "name": wf.name, "status": wf.status,
                               "is_published": wf.is_published, "total_tasks": 0,
                               "by_status": {s.value: 0 for s in TaskStatus}}
    for wf_id, status, count in db.session.execute(
            select(Task.workflow_id, Task.status, func.count()).where(Task.project_id.in_(scope))
            .group_by(Task.workflow_id, Task.status)).all():
        if wf_id in per_workflow:
            per_workflow[wf_id]["by_status"][status] = count
            per_workflow[wf_id]["total_tasks"] += count
    totals = {s.value: sum(w["by_status"][s.value] for w in per_workflow.values()) for s in TaskStatus}
    tickets = dict(db.session.execute(select(Ticket.allocation_status, func.count())
                                      .where(Ticket.project_id.in_(scope)).group_by(Ticket.allocation_status)).all())
    return {"workflows": list(per_workflow.values()), "totals": {"tasks": sum(totals.values()), "by_status": totals},
            "tickets": {"total": sum(tickets.values()), "by_allocation_status": tickets}}
