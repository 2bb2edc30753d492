"""What the ticket pages show: the queue (filters, counts, a page of tickets) with the new-ticket
form, and one ticket with its task and events; and the page actions (submit the form, retry an
allocation). Each function scopes to the acting user's projects and returns plain values."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select

from app.extensions import db
from app.models import (
    Category, Department, OutboxEvent, Permission, Project, Task, TaskAssignment, Ticket, User, WorkflowStep,
)
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk import tickets as svc
from app.services.helpdesk.intake import Outcome
from app.schemas.parsing import validate_data
from app.schemas.tickets import PRIORITIES, QUEUE_STATUSES, TicketIn, TicketQueueFilters
from app.schemas.ticket_tasks import CommentIn, ReassignIn
from app.services.helpdesk.comments import Moment, block_reason, comment_on_ticket, ticket_timeline
from app.services.helpdesk.round_robin import OPEN_ASSIGNMENT
from app.services.helpdesk.ticket_tasks import TERMINAL, create_task_for_ticket, current_assignments, reassign
from app.services.orchestration.transitions import is_supervisor
from app.services.platform.errors import Conflict, DomainError, FieldErrors, ValidationFailed
from app.services.platform.users import project_users
from app.services.platform.paging import page_of

PER_PAGE = 25


@dataclass
class TicketQueue:
    """The queue page: a page of tickets under `filters` (status, priority, department, q; "" for none), the
    counts by status, and the new-ticket form (shown with CREATE_TASK)."""

    page: Pagination
    filters: dict[str, str]
    statuses: tuple[str, ...]
    priorities: tuple[str, ...]
    counts: dict[str, int]
    assignments: dict[int, list[TaskAssignment]]
    form: dict
    errors: dict
    can_create: bool
    departments: list[Department]
    categories: list[Category]
    projects: list[Project]
    form_open: bool = False
    can_manage_catalog: bool = False


def ticket_queue(user: User, filters: TicketQueueFilters, form: dict | None = None,
                 errors: dict | None = None) -> TicketQueue:
    """One page (25) of the user's projects' tickets, newest first, filtered; the form filled with
    `form` and its `errors` (open when there are errors)."""
    stmt = svc.tickets_query(user, status=filters.status, priority=filters.priority, department=filters.department,
                             search=filters.q)
    tickets = page_of(stmt, filters.page, PER_PAGE)
    return TicketQueue(
        page=tickets, filters={k: v or "" for k, v in filters.model_dump(exclude={"page"}).items()},
        statuses=QUEUE_STATUSES, priorities=PRIORITIES,
        counts=svc.queue_counts(user),
        assignments=svc.assignments_by_task([t.task.id for t in tickets.items if t.task]),
        form=form if form is not None else {"priority": "medium"}, errors=errors or {},
        can_create=user.has_permission(Permission.CREATE_TASK),
        departments=list(db.session.execute(catalog.departments_query(user)).scalars()),
        categories=list(db.session.execute(catalog.categories_query(user)).scalars()),
        projects=list(user.projects), form_open=bool(errors),
        can_manage_catalog=user.has_permission(Permission.MANAGE_WORKFLOWS))


@dataclass
class SubmittedTicket:
    """A new-ticket submission: its intake outcome, or the queue again with the form's errors."""

    outcome: Outcome | None = None
    queue: TicketQueue | None = None


def submit_ticket_form(user: User, form: dict, filters: TicketQueueFilters) -> SubmittedTicket:
    """Receive a ticket from the queue page's form (processed now: matched, allocated); on bad input,
    nothing is stored and the queue comes back with every error named."""
    try:
        ticket = validate_data(TicketIn, form, "Invalid ticket")
        _from_the_lists(user, ticket)
        return SubmittedTicket(outcome=svc.submit_ticket(user, ticket))
    except ValidationFailed as exc:
        db.session.rollback()
        return SubmittedTicket(queue=ticket_queue(user, filters, form, exc.details))


def _from_the_lists(user: User, ticket: TicketIn) -> None:
    """The form offers the departments and categories managed on the workflow pages: a value not among
    them (an old page, a forged post) is refused under its field. The API takes free text instead."""
    departments = {d.name for d in db.session.execute(catalog.departments_query(user)).scalars()}
    categories = list(db.session.execute(catalog.categories_query(user)).scalars())
    tops = {c.name: c.id for c in categories if c.parent_id is None}
    errors = FieldErrors()
    if ticket.department not in departments:
        errors.add("department", "choose one of the departments in the list")
    if ticket.category not in tops:
        errors.add("category", "choose one of the categories in the list")
    elif ticket.sub_category and ticket.sub_category not in {c.name for c in categories
                                                              if c.parent_id == tops[ticket.category]}:
        errors.add("sub_category", f"is not a sub-category of {ticket.category}")
    errors.raise_if_any("Invalid ticket")


@dataclass
class TicketPage:
    ticket: Ticket
    task: Task | None
    events: list[OutboxEvent]  # the ticket's outbox events, oldest first
    steps: dict[int, WorkflowStep]  # the task's workflow steps by id
    can_allocate: bool
    can_manage_workflows: bool
    can_reassign: set[int] = field(default_factory=set)  # assignment ids the user may decline or hand on
    users: list[User] = field(default_factory=list)  # who a lead may hand a step to
    timeline: list[Moment] = field(default_factory=list)  # the ticket's history, oldest first
    block_reason: str = ""  # why its task is blocked, when it is
    can_comment: bool = False


def ticket_page(user: User, ticket_id: int) -> TicketPage:
    """One ticket: its task and workflow steps, the events it caused, and what the user may do."""
    ticket = svc.get_ticket(user, ticket_id)
    events = db.session.execute(select(OutboxEvent).where(OutboxEvent.correlation_id == f"ticket:{ticket.id}")
                                .order_by(OutboxEvent.created_at)).scalars().all()
    steps = {s.id: s for s in ticket.task.workflow.steps} if ticket.task else {}
    lead = is_supervisor(user)
    task = ticket.task
    mine_or_led = {a.id for a in (current_assignments(task) if task and task.status not in TERMINAL else [])
                   if a.status in OPEN_ASSIGNMENT and (lead or a.user_id == user.id)}
    return TicketPage(ticket, task, list(events), steps, user.has_permission(Permission.CREATE_TASK),
                      user.has_permission(Permission.MANAGE_WORKFLOWS), mine_or_led,
                      project_users(user) if lead and mine_or_led else [], ticket_timeline(ticket), block_reason(task),
                      user.has_permission(Permission.UPDATE_TASK))


def comment_from_ticket_page(user: User, ticket_id: int, form: dict) -> str | None:
    """A comment from the ticket page's form: None when added, else what is wrong with it. Not allowed
    or not found is raised, whatever was posted."""
    svc.get_ticket(user, ticket_id)
    try:
        comment_on_ticket(user, ticket_id, validate_data(CommentIn, {k: v for k, v in form.items() if v},
                                                         "Cannot add the comment"))
    except ValidationFailed as exc:
        db.session.rollback()
        return exc.message + " — " + "; ".join(f"{k}: {v[0]}" for k, v in exc.details.items())
    return None


def reassign_from_ticket(user: User, ticket_id: int, form: dict) -> AllocationAttempt:
    """Decline one's step of the ticket's task, or (a lead) hand someone's on, from the ticket page's
    form (`user_id`, `to_user_id` — blank: the role picks —, `reason`). Not allowed or not found is
    raised; a refusal (no reason, nobody on the step) is returned to be shown."""
    ticket = svc.get_ticket(user, ticket_id)
    try:
        if ticket.task is None:
            raise Conflict(f"Ticket {ticket.external_id} has no task.")
        data = validate_data(ReassignIn, {k: v for k, v in form.items() if v not in ("", None)}, "Cannot reassign")
        return AllocationAttempt(task=reassign(user, ticket.task.id, data))
    except DomainError as exc:
        db.session.rollback()
        if exc.status in (401, 403, 404):
            raise
        fields = "; ".join(f"{k}: {v[0]}" for k, v in (exc.details or {}).items() if isinstance(v, list))
        return AllocationAttempt(refusal=exc.message + (f" ({fields})" if fields else ""))


@dataclass
class AllocationAttempt:
    """A retried allocation: the task it created, or why not (`refusal`, stored on the ticket too)."""

    task: Task | None = None
    refusal: str | None = None


def retry_allocation(user: User, ticket_id: int) -> AllocationAttempt:
    """Try to allocate the ticket now. Not allowed (401/403) or not found (404) is raised; any other
    refusal (already allocated, no workflow, nobody to staff it) is returned to be shown."""
    try:
        return AllocationAttempt(task=create_task_for_ticket(user, ticket_id))
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        return AllocationAttempt(refusal=exc.message)
