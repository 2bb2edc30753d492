"""Ticket pages: the queue (filters, search, live refresh, new-ticket form) and one ticket. Parse →
one service call → render."""
from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.ticket_tasks import CommentIn, ReassignIn
from app.schemas.tickets import TicketIn, TicketQueueFilters
from app.services.helpdesk import ticket_pages as pages

bp = Blueprint("tickets", __name__, url_prefix="/tickets")

@bp.get("/")
@login_required
def index():
    queue = pages.ticket_queue(current_user, page_query(TicketQueueFilters))
    return page_or_partial("tickets/index.html", "tickets/_queue.html", **vars(queue))


@bp.post("/")
@login_required
def create():
    submitted = pages.submit_ticket_form(current_user, form_data(TicketIn), page_query(TicketQueueFilters))
    if submitted.queue is not None:
        return render_template("tickets/index.html", **vars(submitted.queue)), 400
    outcome = submitted.outcome
    task = f"task {outcome.task_id} assigned to {', '.join(u['username'] or str(u['userID']) for u in outcome.users)}" \
        if outcome.task_id else outcome.message
    flash(f"Ticket {outcome.external_id} received: {task}", "success" if outcome.task_id else "warning")
    return redirect(url_for("tickets.index"))


@bp.get("/<int:ticket_id>")
@login_required
def detail(ticket_id: int):
    return render_template("tickets/detail.html", **vars(pages.ticket_page(current_user, ticket_id)))


@bp.post("/<int:ticket_id>/allocate")
@login_required
def allocate(ticket_id: int):
    """Retry allocation now; the outcome (success or why not) is stored on the ticket and shown."""
    attempt = pages.retry_allocation(current_user, ticket_id)
    if attempt.task is not None:
        flash(f"Task {attempt.task.id} created.", "success")
    else:
        flash(attempt.refusal, "error")
    return redirect(url_for("tickets.detail", ticket_id=ticket_id))


@bp.post("/<int:ticket_id>/reassign")
@login_required
def reassign(ticket_id: int):
    """Decline one's step of the ticket's task, or (a lead) hand someone's on, with a reason."""
    done = pages.reassign_from_ticket(current_user, ticket_id, form_data(ReassignIn))
    if done.task is not None:
        flash(f"Task {done.task.id}: reassigned.", "success")
    else:
        flash(done.refusal, "error")
    return redirect(url_for("tickets.detail", ticket_id=ticket_id))


@bp.post("/<int:ticket_id>/comments")
@login_required
def comment(ticket_id: int):
    """An internal note or a reply to the requester, from the ticket page."""
    refusal = pages.comment_from_ticket_page(current_user, ticket_id, form_data(CommentIn))
    flash(refusal or "Comment added.", "error" if refusal else "success")
    return redirect(url_for("tickets.detail", ticket_id=ticket_id) + "#history")
