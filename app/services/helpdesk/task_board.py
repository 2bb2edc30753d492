"""The task board: tasks by status column, with what each card shows loaded up front."""
from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from app.extensions import db
from app.models import Task, TaskStatus, User, Workflow
from app.services.helpdesk.ticket_tasks import tasks_query

COLUMNS = [s.value for s in TaskStatus]
OPEN_LIMIT, CLOSED_LIMIT = 100, 20  # closed columns show the most recent only


def board_columns(user: User, mine: bool = False, workflow_id: int | None = None) -> dict:
    """{status: [tasks]} (newest first) and {status: total} for the caller's projects; `mine` keeps
    tasks whose current step the caller is assigned to."""
    columns, totals = {}, {}
    for status in COLUMNS:
        stmt = tasks_query(user, status=status, workflow_id=workflow_id, assigned_user_id=user.id if mine else None)
        totals[status] = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        limit = CLOSED_LIMIT if status in ("completed", "cancelled") else OPEN_LIMIT
        columns[status] = db.session.execute(stmt.options(
            selectinload(Task.ticket), selectinload(Task.assignments), selectinload(Task.assignee), selectinload(Task.current_step),
            selectinload(Task.workflow).selectinload(Workflow.steps)).limit(limit)).scalars().all()
    return {"columns": columns, "totals": totals}
