"""Tickets as people and clients see them: the queue, one ticket, submitting tickets (form, API; queued
batches are `ticket_batches`)."""
from __future__ import annotations

import uuid

from sqlalchemy import Select, func, or_, select

from app.extensions import db
from app.models import Permission, Task, TaskAssignment, Ticket, User
from app.services.platform.permissions import require_permission
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import FieldErrors
from app.services.helpdesk.intake import Outcome, receive_ticket, receive_tickets
from app.schemas.tickets import TicketBatchIn, TicketIn


def tickets_query(user: User, status: str | None = None, priority: str | None = None, department: str | None = None,
                  search: str | None = None, project_id: int | None = None) -> Select:
    """The ticket queue, newest first; `search` looks in the external id, subject and requester."""
    stmt = select(Ticket).where(Ticket.project_id.in_(project_scope(user)))
    if status:
        stmt = stmt.where(Ticket.allocation_status == status)
    if priority:
        stmt = stmt.where(Ticket.priority == priority)
    if department:
        stmt = stmt.where(func.lower(Ticket.department) == department.strip().lower())
    if search and search.strip():
        like = f"%{search.strip()}%"
        stmt = stmt.where(or_(Ticket.external_id.ilike(like), Ticket.subject.ilike(like), Ticket.requester.ilike(like)))
    if project_id is not None:
        stmt = stmt.where(Ticket.project_id == project_id)
    return stmt.order_by(Ticket.received_at.desc(), Ticket.id.desc())


def get_ticket(user: User, ticket_id) -> Ticket:
    return get_scoped(Ticket, ticket_id, user, "ticket", missing=f"Ticket {ticket_id} not found")


def queue_counts(user: User) -> dict[str, int]:
    return dict(db.session.execute(select(Ticket.allocation_status, func.count())
                                   .where(Ticket.project_id.in_(project_scope(user)))
                                   .group_by(Ticket.allocation_status)).all())


def assignments_by_task(task_ids: list[int]) -> dict[int, list[TaskAssignment]]:
    """Current-step assignments of these tasks, in one query (for lists)."""
    if not task_ids:
        return {}
    rows = db.session.execute(select(TaskAssignment).join(Task, Task.id == TaskAssignment.task_id).where(
        TaskAssignment.task_id.in_(task_ids), TaskAssignment.step_id == Task.current_step_id)
        .order_by(TaskAssignment.id)).scalars()
    out: dict[int, list[TaskAssignment]] = {}
    for row in rows:
        out.setdefault(row.task_id, []).append(row)
    return out


def receiving_project(user: User, project_id: int | None) -> int:
    """The project tickets sent by `user` go to (CREATE_TASK needed; `project_id` when they have several)."""
    require_permission(user, Permission.CREATE_TASK)
    errors = FieldErrors()
    project_id = resolve_project(user, project_id, errors)
    errors.raise_if_any("Cannot receive tickets")
    return project_id


def submit_ticket(user: User, ticket: TicketIn) -> Outcome:
    """One ticket from the form or the API, processed now. Invalid data is a 400 naming every bad
    field and stores nothing. Without an external id (the form), one is made; without a requester,
    it is the user."""
    project_id = receiving_project(user, ticket.project_id)
    made = {}
    if ticket.external_id is None:
        made["external_id"] = f"WEB-{uuid.uuid4().hex[:10].upper()}"
    if not ticket.requester:
        made["requester"] = user.display_name[:255]
    return receive_ticket(project_id, ticket.model_copy(update=made), strict=True)


def submit_batch(user: User, batch: TicketBatchIn) -> list[Outcome]:
    """Many tickets processed now (bulk with ?sync=1); each gets its own outcome."""
    return receive_tickets(receiving_project(user, batch.project_id), batch.tickets)
