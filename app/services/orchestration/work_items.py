"""Orchestration tasks and action plans: create, list, read (state changes go through `transitions`).

A task made here has no ticket: it carries a title, a type and a service area (which pick its SLA),
a priority, an author and optionally an assignee and an action plan. Rules make tasks through
`create_task(None, …, cause=…)`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import (
    ActionPlan, ActionPlanStatus, Permission, StateTransition, Task, TaskAssignment, TaskStatus, User, utcnow,
)
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.services.platform.access import get_scoped, parse_int, project_scope, resolve_project
from app.services.platform.errors import FieldErrors
from app.services.platform.field_values import parse_datetime
from app.services.platform.outbox import emit_event
from app.services.orchestration import sla
from app.services.orchestration.sla_reports import task_sla_summary
from app.services.orchestration.state_machines import ACTION_PLAN, TASK
from app.services.orchestration.transitions import Cause

TASK_TYPES = ("intake", "assessment", "review", "general")
PRIORITIES = ("low", "medium", "high", "urgent")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _task_fields(data: dict, errors: FieldErrors) -> dict:
    title = errors.text(data, "title", 255)
    task_type = str(data.get("task_type") or "general").strip().lower()
    if not _SLUG.match(task_type):
        errors.add("task_type", f"must be a short lowercase name like {', '.join(TASK_TYPES)}")
    area = str(data.get("service_area") or "general").strip().lower()
    if not _SLUG.match(area.replace(" ", "_")) or len(area) > 80:
        errors.add("service_area", "must be a short lowercase name (letters, digits, _ and -)")
    priority = str(data.get("priority") or "medium").strip().lower()
    if priority not in PRIORITIES:
        errors.add("priority", f"must be one of {', '.join(PRIORITIES)}, got {data.get('priority')!r}")
    description = str(data.get("description") or "")
    if len(description) > 10_000:
        errors.add("description", "must be at most 10000 characters")
    return {"title": title, "task_type": task_type, "service_area": area, "priority": priority,
            "description": description, "due_at": parse_datetime(data.get("due_at"), "due_at", errors)}


def _member(project_id: int, raw, errors: FieldErrors, field: str) -> int | None:
    if raw in (None, ""):
        return None
    user_id = parse_int(raw, errors, field)
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


def _plan_for(project_id: int, raw, errors: FieldErrors) -> int | None:
    if raw in (None, ""):
        return None
    plan_id = parse_int(raw, errors, "action_plan_id")
    plan = db.session.get(ActionPlan, plan_id) if plan_id is not None else None
    if plan_id is not None and (plan is None or plan.project_id != project_id):
        errors.add("action_plan_id", f"action plan {plan_id} does not exist in this project")
    elif plan is not None and plan.status == ActionPlanStatus.ARCHIVED:
        errors.add("action_plan_id", f"action plan {plan_id} is archived")
    else:
        return plan_id
    return None


def create_task(actor: User | None, data: dict, *, project_id: int | None = None, cause: Cause | None = None,
                commit: bool = True) -> Task:
    """Create a task (state `new`), start its SLA clocks and emit TaskCreated. `actor` None is
    automation: then `project_id` says where, and `cause` links it to the event behind it."""
    errors = FieldErrors()
    if actor is not None:
        require_permission(actor, Permission.CREATE_TASK)
        project_id = resolve_project(actor, data.get("project_id"), errors)
    fields = _task_fields(data, errors)
    if project_id is not None:
        fields["assignee_id"] = _member(project_id, data.get("assignee_id"), errors, "assignee_id")
        fields["action_plan_id"] = _plan_for(project_id, data.get("action_plan_id"), errors)
    errors.raise_if_any("Cannot create the task")
    now = utcnow()
    task = Task(project_id=project_id, status=TaskStatus.NEW.value, created_by_id=actor.id if actor else None,
                created_at=now, updated_at=now, data=dict(data.get("data") or {}) if isinstance(data.get("data"), dict)
                else {}, **fields)
    db.session.add(task)
    db.session.flush()
    sla.start_clocks(task, now)
    links = cause.event_kwargs() if cause else {"correlation_id": f"task:{task.id}"}
    emit_event("TaskCreated", "task", task.id, {
        "task_id": task.id, "project_id": task.project_id, "task_type": task.task_type,
        "service_area": task.service_area, "priority": task.priority, "title": task.title,
        "created_by_id": task.created_by_id, "assignee_id": task.assignee_id, "action_plan_id": task.action_plan_id,
    }, **links)
    audit.record(actor, "create", "task", task.id, {"title": task.title, "task_type": task.task_type},
                 source="api" if actor else "automation")
    if commit:
        db.session.commit()
    return task


def tasks_query(user: User, *, status: str | None = None, task_type: str | None = None,
                service_area: str | None = None, priority: str | None = None, assignee_id: int | None = None,
                action_plan_id: int | None = None, mine: bool = False, search: str | None = None) -> Select:
    """Tasks of the user's projects, newest first, filtered."""
    stmt = select(Task).where(Task.project_id.in_(project_scope(user)))
    if status:
        stmt = stmt.where(Task.status == status)
    if task_type:
        stmt = stmt.where(Task.task_type == task_type)
    if service_area:
        stmt = stmt.where(Task.service_area == service_area)
    if priority:
        stmt = stmt.where(Task.priority == priority)
    if assignee_id is not None:
        stmt = stmt.where(Task.assignee_id == assignee_id)
    if action_plan_id is not None:
        stmt = stmt.where(Task.action_plan_id == action_plan_id)
    if mine:
        on_step = select(TaskAssignment.id).where(TaskAssignment.task_id == Task.id,
                                                  TaskAssignment.user_id == user.id).exists()
        stmt = stmt.where(or_(Task.created_by_id == user.id, Task.assignee_id == user.id, on_step))
    if search:
        stmt = stmt.where(Task.title.ilike(f"%{search.strip()[:100]}%"))
    return stmt.order_by(Task.created_at.desc(), Task.id.desc())


def _task_filters(args) -> dict:
    errors = FieldErrors()
    out: dict = {}
    if args.get("status"):
        out["status"] = TASK.normalise(args["status"])
        if out["status"] is None:
            errors.add("status", f"must be one of {', '.join(TASK.states)}, got {args['status']!r}")
    if args.get("priority"):
        out["priority"] = str(args["priority"]).lower()
        if out["priority"] not in PRIORITIES:
            errors.add("priority", f"must be one of {', '.join(PRIORITIES)}")
    for name in ("task_type", "service_area", "search"):
        if args.get(name):
            out[name] = str(args[name]).strip().lower() if name != "search" else str(args[name])
    for name in ("assignee_id", "action_plan_id"):
        if args.get(name) not in (None, ""):
            out[name] = parse_int(args[name], errors, name)
    out["mine"] = str(args.get("mine", "")).lower() in ("1", "true", "yes")
    errors.raise_if_any("Invalid query")
    return out


def task_list_query(user: User, args) -> Select:
    """Tasks of the user's projects filtered by query-string values (`args`: status with aliases,
    task_type, service_area, priority, assignee_id, action_plan_id, mine, search); a bad value is a
    400 naming it."""
    return tasks_query(user, **_task_filters(args))


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

def create_action_plan(user: User, data: dict) -> ActionPlan:
    require_permission(user, Permission.CREATE_ACTION_PLAN)
    errors = FieldErrors()
    project_id = resolve_project(user, data.get("project_id"), errors)
    title = errors.text(data, "title", 255)
    area = str(data.get("service_area") or "general").strip().lower()
    if not _SLUG.match(area) or len(area) > 80:
        errors.add("service_area", "must be a short lowercase name (letters, digits, _ and -)")
    description = str(data.get("description") or "")
    errors.raise_if_any("Cannot create the action plan")
    now = utcnow()
    plan = ActionPlan(project_id=project_id, title=title, description=description, service_area=area,
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
    """Action plans of the user's projects, newest first; `status` a state or an alias (an unknown one
    filters nothing)."""
    stmt = select(ActionPlan).where(ActionPlan.project_id.in_(project_scope(user)))
    status = ACTION_PLAN.normalise(status)
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
