"""Tickets as people and clients see them: the queue, one ticket, submitting tickets (form, API, RQ)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import redis
from sqlalchemy import Select, func, or_, select

from app.extensions import db, get_queue
from app.models import AllocationStatus, Permission, Task, TaskAssignment, Ticket, User
from app.services.platform.permissions import require_permission
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import DomainError, FieldErrors, NotFound, ValidationFailed
from app.services.helpdesk.intake import MAX_BATCH, Outcome, receive_ticket, receive_tickets
from app.services.helpdesk.intake_parsing import ID_KEYS, REQUESTER_KEYS

QUEUE_STATUSES = tuple(s.value for s in AllocationStatus if s != AllocationStatus.NOT_FOUND)
BATCH_RESULT_TTL = 24 * 3600


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


def _project(user: User, raw) -> int:
    require_permission(user, Permission.CREATE_TASK)
    errors = FieldErrors()
    project_id = resolve_project(user, raw, errors)
    errors.raise_if_any("Cannot receive tickets")
    return project_id


def submit_ticket(user: User, data: dict) -> Outcome:
    """One ticket from the form or the API, processed now. Invalid data is a 400 naming every bad
    field and stores nothing. Without an external id (the form), one is generated."""
    project_id = _project(user, data.get("project_id"))
    payload = {k: v for k, v in data.items() if k not in ("project_id", "csrf_token")}
    if not any(payload.get(k) not in (None, "") for k in ID_KEYS):
        payload["external_id"] = f"WEB-{uuid.uuid4().hex[:10].upper()}"
    if not any(payload.get(k) for k in REQUESTER_KEYS):
        payload["requester"] = user.display_name
    return receive_ticket(project_id, payload, strict=True)


def _batch_body(data) -> tuple[object, list]:
    """A bulk body is a list of tickets, or {"tickets": [...], "project_id"?}."""
    if isinstance(data, list):
        return None, data
    if isinstance(data, dict) and isinstance(data.get("tickets"), list):
        return data.get("project_id"), data["tickets"]
    raise ValidationFailed("Send a list of tickets, or {\"tickets\": [...]}.", {"tickets": ["must be a list"]})


def submit_batch(user: User, data) -> list[Outcome]:
    """Many tickets processed now (bulk with ?sync=1); each gets its own outcome."""
    project, tickets = _batch_body(data)
    return receive_tickets(_project(user, project), tickets)


def enqueue_batch(user: User, data) -> str:
    """Queue one RQ job for the whole batch; returns its id (GET /api/tickets/batches/<id>/)."""
    project, tickets = _batch_body(data)
    project_id = _project(user, project)
    if not tickets or len(tickets) > MAX_BATCH:
        raise ValidationFailed(f"Send 1 to {MAX_BATCH} tickets.", {"tickets": [f"must hold 1 to {MAX_BATCH} items"]})
    job_id = f"tickets-{uuid.uuid4()}"
    try:
        get_queue().enqueue_call("app.rq_jobs.intake.receive_tickets_job", args=(project_id, tickets), job_id=job_id,
                                 timeout=600, result_ttl=BATCH_RESULT_TTL, failure_ttl=7 * 24 * 3600,
                                 meta={"project_id": project_id, "user_id": user.id, "count": len(tickets)},
                                 description=f"receive {len(tickets)} tickets for project {project_id}")
    except redis.RedisError as exc:
        raise DomainError("The job queue is unreachable; the tickets were not received.") from exc
    return job_id


@dataclass(frozen=True)
class TicketBatch:
    """A queued batch of tickets: its RQ status and, once finished, its summary (`summarize_outcomes`)."""

    id: str
    status: str
    count: int | None
    enqueued_at: datetime | None
    result: dict | None = None


def batch_status(user: User, job_id: str) -> TicketBatch:
    """A queued batch as its submitter's project sees it: status and, once done, its summary."""
    from rq.exceptions import NoSuchJobError
    from rq.job import Job

    from app.extensions import get_redis

    try:
        job = Job.fetch(job_id, connection=get_redis()) if job_id.startswith("tickets-") else None
    except NoSuchJobError:
        job = None
    if job is None or job.meta.get("project_id") not in user.project_ids:
        raise NotFound(f"No ticket batch '{job_id}'")
    status = getattr(job.get_status(refresh=True), "value", None) or str(job.get_status())
    return TicketBatch(job.id, status, job.meta.get("count"), job.enqueued_at,
                       job.return_value() if status == "finished" else None)
