"""Ticket pages: the queue (filters, search, live refresh, new-ticket form) and one ticket."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.models import OutboxEvent, Permission
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk import tickets as svc
from app.services.platform.errors import DomainError, ValidationFailed
from app.services.helpdesk.intake_parsing import PRIORITIES
from app.services.helpdesk.ticket_tasks import create_task_for_ticket

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

FILTERS = ("status", "priority", "department", "q")


def _queue_context() -> dict:
    args = {name: (request.args.get(name) or "").strip() for name in FILTERS}
    stmt = svc.tickets_query(current_user, status=args["status"] or None, priority=args["priority"] or None,
                             department=args["department"] or None, search=args["q"] or None)
    page = db.paginate(stmt, per_page=25, error_out=False)
    return {"page": page, "filters": args, "statuses": svc.QUEUE_STATUSES, "priorities": PRIORITIES,
            "counts": svc.queue_counts(current_user),
            "assignments": svc.assignments_by_task([t.task.id for t in page.items if t.task])}


def _form_context(form: dict, errors: dict) -> dict:
    return {"form": form, "errors": errors, "can_create": current_user.has_permission(Permission.CREATE_TASK),
            "departments": db.session.execute(catalog.departments_query(current_user)).scalars().all(),
            "categories": db.session.execute(catalog.categories_query(current_user)).scalars().all(),
            "projects": current_user.projects}


@bp.get("/")
@login_required
def index():
    return page_or_partial("tickets/index.html", "tickets/_queue.html", **_queue_context(),
                           **_form_context({"priority": "medium"}, {}))


@bp.post("/")
@login_required
def create():
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        outcome = svc.submit_ticket(current_user, form)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("tickets/index.html", **_queue_context(), **_form_context(form, exc.details),
                               form_open=True), 400
    task = f"task {outcome.task_id} assigned to {', '.join(u['username'] or str(u['userID']) for u in outcome.users)}" \
        if outcome.task_id else outcome.message
    flash(f"Ticket {outcome.external_id} received: {task}", "success" if outcome.task_id else "warning")
    return redirect(url_for("tickets.index"))


@bp.get("/<int:ticket_id>")
@login_required
def detail(ticket_id: int):
    ticket = svc.get_ticket(current_user, ticket_id)
    events = db.session.execute(select(OutboxEvent).where(OutboxEvent.correlation_id == f"ticket:{ticket.id}")
                                .order_by(OutboxEvent.created_at)).scalars().all()
    steps = {s.id: s for s in ticket.task.workflow.steps} if ticket.task else {}
    return render_template("tickets/detail.html", ticket=ticket, task=ticket.task, events=events, steps=steps,
                           can_allocate=current_user.has_permission(Permission.CREATE_TASK))


@bp.post("/<int:ticket_id>/allocate")
@login_required
def allocate(ticket_id: int):
    """Retry allocation now; the outcome (success or why not) is stored on the ticket and shown."""
    try:
        task = create_task_for_ticket(current_user, ticket_id)
    except DomainError as exc:
        if exc.status in (401, 403, 404):
            raise
        flash(exc.message, "error")
    else:
        flash(f"Task {task.id} created.", "success")
    return redirect(url_for("tickets.detail", ticket_id=ticket_id))
