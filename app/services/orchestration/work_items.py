"""Orchestration tasks and action plans: create, list, read (state changes go through `transitions`).

A task made here has no ticket: it carries a title, a type and a service area (which pick its SLA),
a priority, an author and optionally an assignee and an action plan. Rules make tasks through
`create_task(None, …, cause=…)`.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    ActionPlan, ActionPlanStatus, Permission, StateTransition, Task, TaskKind, TaskStatus, User, utcnow,
)
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import FieldErrors
from app.services.platform.events import task_created_payload
from app.services.platform.outbox import emit_event
from app.services.orchestration import sla
from app.services.orchestration.sla_reports import task_sla_summary
from app.services.orchestration.task_queries import tasks_query, with_related
from app.services.orchestration.transitions import Cause
from app.schemas.workflow import ActionPlanIn, TaskFilters, TaskIn

def _member(project_id: int, user_id: int | None, errors: FieldErrors, field: str) -> int | None:
    if user_id is None:
        return None
    target = db.session.get(User, user_id)
    if target is None or project_id not in target.project_ids:
        errors.add(field, f"user {user_id} does not exist in this project")
    elif not target.active:
        errors.add(field, f"user {target.username} is inactive")
    else:
        return user_id
    return None


def _assigned_to(project_id: int, reference: str | None) -> int | None:
    """The project's active user the seed's `assigned_to` names (by username, or by id when it is digits),
    if any: a reference to someone elsewhere is kept as sent and assigns no one here."""
    if not reference:
        return None
    by = User.id == int(reference) if reference.isascii() and reference.isdigit() and len(reference) < 10 \
        else User.username == reference
    user = db.session.execute(select(User).where(by, User.active.is_(True))).scalar_one_or_none()
    return user.id if user is not None and project_id in user.project_ids else None


def _plan_for(project_id: int, plan_id: int | None, errors: FieldErrors) -> int | None:
    if plan_id is None:
        return None
    plan = db.session.get(ActionPlan, plan_id)
    if plan is None or plan.project_id != project_id:
        errors.add("action_plan_id", f"action plan {plan_id} does not exist in this project")
    elif plan.status == ActionPlanStatus.ARCHIVED:
        errors.add("action_plan_id", f"action plan {plan_id} is archived")
    else:
        return plan_id
    return None


def create_task(actor: User | None, data: TaskIn, *, project_id: int | None = None, cause: Cause | None = None,
                commit: bool = True) -> Task:
    """Create a task (state `new`), start its SLA clocks and emit TaskCreated. `actor` None is
    automation: then `project_id` says where, and `cause` links it to the event behind it."""
    errors = FieldErrors()
    if actor is not None:
        require_permission(actor, Permission.CREATE_TASK)
        project_id = resolve_project(actor, data.project_id, errors)
    fields = {"title": data.title, "description": data.description, "task_type": data.task_type,
              "service_area": data.service_area, "priority": data.priority, "due_at": data.due_at}
    if project_id is not None:
        fields["assignee_id"] = _member(project_id, data.assignee_id, errors, "assignee_id")
        if data.assignee_id is None:
            fields["assignee_id"] = _assigned_to(project_id, data.assigned_to)
        fields["action_plan_id"] = _plan_for(project_id, data.action_plan_id, errors)
    fields["assigned_to"] = data.assigned_to
    errors.raise_if_any("Cannot create the task")
    now = utcnow()
    task = Task(project_id=project_id, kind=TaskKind.WORK_ITEM.value, status=TaskStatus.NEW.value,
                created_by_id=actor.id if actor else None,
                created_at=now, updated_at=now, data=dict(data.data or {}), **fields)
    db.session.add(task)
    db.session.flush()
    sla.start_clocks(task, now)
    links = cause.event_kwargs() if cause else {"correlation_id": f"task:{task.id}"}
    emit_event("TaskCreated", "task", task.id, task_created_payload(
        task.id, task.project_id, kind=task.kind, title=task.title, status=task.status, task_type=task.task_type,
        service_area=task.service_area, priority=task.priority, created_by_id=task.created_by_id,
        assignee_id=task.assignee_id, action_plan_id=task.action_plan_id), **links)
    audit.record(actor, "create", "task", task.id, {"title": task.title, "task_type": task.task_type},
                 source="api" if actor else "automation")
    if commit:
        db.session.commit()
    return task


def task_list_query(user: User, filters: TaskFilters) -> Select:
    """Tasks of both kinds (unless `kind`) of the user's projects under the list's filters; `mine` and
    `assignee_id`: assigned to the task now (`task_queries`)."""
    return with_related(tasks_query(
        user, kind=filters.kind, status=filters.status, task_type=filters.task_type,
        service_area=filters.service_area, priority=filters.priority, assigned_to=filters.assignee_id,
        created_by=filters.created_by_id, action_plan_id=filters.action_plan_id, mine=filters.mine,
        search=filters.search))


def get_task(user: User, task_id) -> Task:
    return get_scoped(Task, task_id, user, "task")


@dataclass
class TaskDetail:
    task: Task
    history: list[StateTransition]  # oldest first
    sla: dict | None  # its SLA clock summary (None: no clock)


def task_detail(user: User, task_id) -> TaskDetail:
    """A task of the user's projects with its state changes and its SLA clock."""
    task = get_task(user, task_id)
    return TaskDetail(task, state_history("task", task.id), task_sla_summary([task.id]).get(task.id))


# Action plans ---------------------------------------------------------------------------------

def create_action_plan(user: User, data: ActionPlanIn) -> ActionPlan:
    """Create a draft action plan in the user's project (or `data.project_id`). Commits."""
    require_permission(user, Permission.CREATE_ACTION_PLAN)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    errors.raise_if_any("Cannot create the action plan")
    title, description, area = data.title, data.description, data.service_area
    now = utcnow()
    plan = ActionPlan(project_id=project_id, title=title, description=description, service_area=area,
                      goals=list(data.goals or []), plan_metadata=dict(data.metadata or {}),
                      status=ActionPlanStatus.DRAFT.value, created_by_id=user.id, created_at=now, updated_at=now)
    db.session.add(plan)
    db.session.flush()
    emit_event("ActionPlanCreated", "action_plan", plan.id, {
        "action_plan_id": plan.id, "project_id": plan.project_id, "service_area": plan.service_area,
        "title": plan.title, "created_by_id": user.id}, correlation_id=f"action_plan:{plan.id}")
    audit.record(user, "create", "action_plan", plan.id, {"title": title}, source="api")
    db.session.commit()
    return plan


def action_plans_query(user: User, status: str | None = None, service_area: str | None = None) -> Select:
    """Action plans of the user's projects, newest first, in a state and a service area."""
    stmt = select(ActionPlan).where(ActionPlan.project_id.in_(project_scope(user)))
    if status:
        stmt = stmt.where(ActionPlan.status == status)
    if service_area:
        stmt = stmt.where(ActionPlan.service_area == service_area)
    return stmt.order_by(ActionPlan.created_at.desc(), ActionPlan.id.desc())


def get_action_plan(user: User, plan_id) -> ActionPlan:
    return get_scoped(ActionPlan, plan_id, user, "action plan")


def action_plan_task_counts(plan_ids: list[int]) -> dict[int, int]:
    """How many tasks each plan has, for a page of plans in one query."""
    if not plan_ids:
        return {}
    rows = db.session.execute(select(Task.action_plan_id, func.count()).where(Task.action_plan_id.in_(plan_ids))
                              .group_by(Task.action_plan_id))
    return {plan_id: count for plan_id, count in rows}


def state_history(entity_type: str, entity_id: int) -> list[StateTransition]:
    """A task's or action plan's state changes (`entity_type` "task" or "action_plan"), oldest first."""
    return list(db.session.execute(
        select(StateTransition).where(StateTransition.entity_type == entity_type,
                                      StateTransition.entity_id == entity_id)
        .order_by(StateTransition.id)).scalars())


def action_plan_history(plan: ActionPlan) -> list[StateTransition]:
    """The plan's state changes, oldest first, with their actors loaded."""
    return list(db.session.execute(
        select(StateTransition).options(selectinload(StateTransition.actor))
        .where(StateTransition.entity_type == "action_plan", StateTransition.entity_id == plan.id)
        .order_by(StateTransition.id)).scalars())


@dataclass
class ActionPlanDetail:
    plan: ActionPlan
    history: list[StateTransition]  # oldest first


def action_plan_detail(user: User, plan_id) -> ActionPlanDetail:
    """An action plan of the user's projects with its state changes."""
    plan = get_action_plan(user, plan_id)
    return ActionPlanDetail(plan, state_history("action_plan", plan.id))
