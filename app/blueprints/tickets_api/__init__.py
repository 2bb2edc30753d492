"""Ticket intake API (Bearer only, Iaso-style errors under /api/): single and bulk intake, the
ticket list and detail, queued batches, and the round-robin role source we serve."""
from flask import Blueprint, jsonify, request, url_for

from app.blueprints.api.pagination import int_arg, json_body, page_args, paginated
from app.services.platform.paging import paginate
from app.blueprints.tickets_api.serializers import (
    intake_outcome_json, queued_batch_json, ticket_batch_json, ticket_json,
)
from app.security import api_login_required, api_user
from app.services.helpdesk import tickets as svc
from app.services.helpdesk.intake import summarize_outcomes
from app.services.platform.errors import ValidationFailed
from app.services.helpdesk.staff_roles import round_robin_user_ids

bp = Blueprint("tickets_api", __name__, url_prefix="/api")


@bp.post("/tickets/")
@api_login_required
def receive():
    """One ticket, processed now: 201 when created, 200 when it updated an existing one."""
    outcome = svc.submit_ticket(api_user(), json_body())
    body = intake_outcome_json(outcome, url_for("tickets_api.ticket", ticket_id=outcome.ticket_id))
    return jsonify(body), 201 if outcome.action == "created" else 200


@bp.post("/tickets/bulk/")
@api_login_required
def receive_bulk():
    """Many tickets in one RQ job (202 + Location of the batch); `?sync=1` processes them now."""
    data = request.get_json(silent=True)
    if data is None:
        raise ValidationFailed("The request body must be JSON.", {"body": ["must be JSON"]})
    if request.args.get("sync") in ("1", "true"):
        return jsonify(summarize_outcomes(svc.submit_batch(api_user(), data)))
    job_id = svc.enqueue_batch(api_user(), data)
    location = url_for("tickets_api.batch", job_id=job_id)
    response = jsonify(queued_batch_json(job_id, location))
    response.headers["Location"] = location
    return response, 202


@bp.get("/tickets/batches/<job_id>/")
@api_login_required
def batch(job_id: str):
    return jsonify(ticket_batch_json(svc.batch_status(api_user(), job_id)))


@bp.get("/tickets/")
@api_login_required
def tickets():
    stmt = svc.tickets_query(api_user(), status=request.args.get("allocation_status") or request.args.get("status"),
                             priority=request.args.get("priority"), department=request.args.get("department"),
                             search=request.args.get("search"), project_id=int_arg("project_id"))
    return jsonify(paginated(paginate(stmt, *page_args()), ticket_json))


@bp.get("/tickets/<int:ticket_id>/")
@api_login_required
def ticket(ticket_id: int):
    return jsonify(ticket_json(svc.get_ticket(api_user(), ticket_id)))


@bp.get("/v1/tts/round-robin/")
@api_login_required
def round_robin_source():
    """The seed's role source: `?role_name=` → [user ids] (active members, ascending)."""
    return jsonify(round_robin_user_ids(api_user(), request.args.get("role_name", ""), int_arg("project_id")))
