"""Ticket intake API (Bearer only, Iaso-style errors under /api/): single and bulk intake, the
ticket list and detail, queued batches, and the round-robin role source we serve."""
from flask import Blueprint, jsonify, url_for

from app.blueprints.api.pagination import paginated, paging
from app.blueprints.operations import operation
from app.blueprints.tickets_api.serializers import (
    availability_json, batch_summary_json, comment_json, intake_outcome_json, queued_batch_json, ticket_batch_json, ticket_json,
)
from app.schemas.common import ListOf
from app.schemas.helpdesk import AvailabilityIn, AvailabilityOut, LeaveIn
from app.schemas.ticket_tasks import CommentIn, CommentOut, CommentsOut
from app.schemas.tickets import (
    BatchSummaryOut, BulkQuery, IntakeOutcomeOut, QueuedBatchOut, RoundRobinQuery, TicketBatchIn, TicketBatchOut,
    TicketFilters, TicketIn, TicketOut, UserIds,
)
from app.security import api_user
from app.services.helpdesk import availability, comments, ticket_batches
from app.services.helpdesk import tickets as svc
from app.services.helpdesk.staff_roles import round_robin_user_ids
from app.services.platform.paging import paginate

bp = Blueprint("tickets_api", __name__, url_prefix="/api")


@bp.post("/tickets/")
@operation(body=TicketIn, responses={201: IntakeOutcomeOut, 200: IntakeOutcomeOut})
def receive(body: TicketIn):
    """Receive one ticket, processed now: 201 when created, 200 when it updated an existing one"""
    outcome = svc.submit_ticket(api_user(), body)
    response = intake_outcome_json(outcome, url_for("tickets_api.ticket", ticket_id=outcome.ticket_id))
    return jsonify(response), 201 if outcome.action == "created" else 200


@bp.post("/tickets/bulk/")
@operation(body=TicketBatchIn, query=BulkQuery, responses={202: QueuedBatchOut, 200: BatchSummaryOut})
def receive_bulk(body: TicketBatchIn, query: BulkQuery):
    """Receive many tickets in one job of the `ticket-batch` process (202 + Location of the batch, linked to
    its job); `?sync=1` processes them now (200)"""
    if query.sync:
        return jsonify(batch_summary_json(svc.submit_batch(api_user(), body)))
    job_id = ticket_batches.enqueue_batch(api_user(), body)
    location = url_for("tickets_api.batch", job_id=job_id)
    response = jsonify(queued_batch_json(job_id, location, url_for("jobs.detail", job_id=job_id)))
    response.headers["Location"] = location
    return response, 202


@bp.get("/tickets/batches/<job_id>/")
@operation(responses={200: TicketBatchOut})
def batch(job_id: str):
    """A queued batch: its status (read from its job) and, once finished, its outcomes"""
    batch = ticket_batches.batch_status(api_user(), job_id)
    return jsonify(ticket_batch_json(batch, url_for("tickets_api.batch", job_id=batch.id),
                                     url_for("jobs.detail", job_id=batch.id)))


@bp.get("/tickets/")
@operation(query=TicketFilters, responses={200: ListOf[TicketOut]})
def tickets(query: TicketFilters):
    """List tickets, newest first"""
    stmt = svc.tickets_query(api_user(), status=query.allocation_status, priority=query.priority,
                             department=query.department, search=query.search, project_id=query.project_id)
    return jsonify(paginated(paginate(stmt, *paging(query)), ticket_json))


@bp.get("/tickets/<int:ticket_id>/")
@operation(responses={200: TicketOut})
def ticket(ticket_id: int):
    """A ticket with its task"""
    return jsonify(ticket_json(svc.get_ticket(api_user(), ticket_id)))


@bp.get("/v1/tts/round-robin/")
@operation(query=RoundRobinQuery, responses={200: UserIds})
def round_robin_source(query: RoundRobinQuery):
    """The seed's role source: ids of the active users holding the role `role_name`, ascending"""
    return jsonify(round_robin_user_ids(api_user(), query.role_name, query.project_id))


@bp.get("/helpdesk/agents/<int:user_id>/availability/")
@operation(responses={200: AvailabilityOut})
def agent_availability(user_id: int):
    """An agent's availability: away or not, and their leaves (users of your projects)"""
    return jsonify(availability_json(availability.get_availability(api_user(), user_id)))


@bp.put("/helpdesk/agents/<int:user_id>/availability/")
@operation(body=AvailabilityIn, responses={200: AvailabilityOut})
def set_agent_availability(user_id: int, body: AvailabilityIn):
    """Set an agent away or available (the agent, or a lead); `hand_back` hands their open tasks back"""
    change = availability.set_availability(api_user(), user_id, body)
    return jsonify(availability_json(change.availability, change.handed_back, change.allocated))


@bp.post("/helpdesk/agents/<int:user_id>/leaves/")
@operation(body=LeaveIn, responses={201: AvailabilityOut})
def add_agent_leave(user_id: int, body: LeaveIn):
    """Add a leave (dates included): no new work for the agent those days"""
    availability.add_leave(api_user(), user_id, body)
    return jsonify(availability_json(availability.get_availability(api_user(), user_id))), 201


@bp.delete("/helpdesk/leaves/<int:leave_id>/")
@operation(responses={200: AvailabilityOut})
def remove_agent_leave(leave_id: int):
    """Remove a leave; the agent's availability after it"""
    return jsonify(availability_json(availability.remove_leave(api_user(), leave_id)))


@bp.get("/tickets/<int:ticket_id>/comments/")
@operation(responses={200: CommentsOut})
def ticket_comments(ticket_id: int):
    """The comments on a ticket and its task, oldest first"""
    return jsonify([comment_json(c) for c in comments.ticket_comments(api_user(), ticket_id)])


@bp.post("/tickets/<int:ticket_id>/comments/")
@operation(body=CommentIn, responses={201: CommentOut})
def comment_on_ticket(ticket_id: int, body: CommentIn):
    """Comment on a ticket: an internal note, or a reply to the requester (a CommentAdded event)"""
    return jsonify(comment_json(comments.comment_on_ticket(api_user(), ticket_id, body))), 201
