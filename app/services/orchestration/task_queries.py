"""The one query over tasks of both kinds (ticket tasks and work items), used by both task APIs, the
task board and the pages, so "my tasks" means the same everywhere.

A user is **assigned to** a task now when they are its assignee, or hold an assignment that is not
declined on its current step (only ticket tasks have steps). "Mine" is that, for the caller; who created
a task is a filter of its own (`created_by`)."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Select, or_, select
from sqlalchemy.orm import selectinload

from app.models import AssignmentStatus, Task, TaskAssignment, User, Workflow
from app.services.platform.access import project_scope


def assigned_now(user_id: int) -> ColumnElement[bool]:
    """Tasks this user is assigned to now: the assignee, or on the current step (not declined)."""
    on_current_step = select(TaskAssignment.id).where(
        TaskAssignment.task_id == Task.id, TaskAssignment.step_id == Task.current_step_id,
        TaskAssignment.user_id == user_id, TaskAssignment.status != AssignmentStatus.DECLINED.value).exists()
    return or_(Task.assignee_id == user_id, on_current_step)


def step_assignee_ids(task: Task) -> list[int]:
    """Users on the task's current step now (not declined): `assigned_now` read off a loaded task."""
    return [a.user_id for a in task.assignments
            if a.step_id == task.current_step_id and a.status != AssignmentStatus.DECLINED.value]


def tasks_query(user: User, *, kind: str | None = None, status: str | None = None, mine: bool = False,
                assigned_to: int | None = None, created_by: int | None = None, project_id: int | None = None,
                ticket_id: int | None = None, workflow_id: int | None = None, action_plan_id: int | None = None,
                task_type: str | None = None, service_area: str | None = None, priority: str | None = None,
                search: str | None = None) -> Select:
    """Tasks of the user's projects, newest first, under the given filters (None: any). `mine`: the
    user is assigned to them now; `assigned_to`: that user is; `search`: in the title."""
    stmt = select(Task).where(Task.project_id.in_(project_scope(user)))
    equal = ((Task.kind, kind), (Task.status, status), (Task.project_id, project_id), (Task.ticket_id, ticket_id),
             (Task.workflow_id, workflow_id), (Task.action_plan_id, action_plan_id), (Task.task_type, task_type),
             (Task.service_area, service_area), (Task.priority, priority), (Task.created_by_id, created_by))
    for column, value in equal:
        if value is not None and value != "":
            stmt = stmt.where(column == value)
    for user_id in {user.id if mine else None, assigned_to} - {None}:
        stmt = stmt.where(assigned_now(user_id))
    if search:
        stmt = stmt.where(Task.title.ilike(f"%{search.strip()[:100]}%"))
    return stmt.order_by(Task.created_at.desc(), Task.id.desc())


def with_related(stmt: Select) -> Select:
    """`stmt` loading what a task's card or JSON shows (ticket, workflow steps, assignments, assignee),
    a page of tasks in a few queries."""
    return stmt.options(selectinload(Task.ticket), selectinload(Task.assignments), selectinload(Task.assignee),
                        selectinload(Task.current_step),
                        selectinload(Task.workflow).selectinload(Workflow.steps))
