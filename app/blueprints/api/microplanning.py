"""Microplanning API (Iaso contract): plannings, assignments, bulk assignment calls, sampling."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import int_arg, json_body, page_args, paginated
from app.blueprints.api.serializers import (
    assignment_json, bulk_delete_json, planning_json, shorthand_bulk_create_json,
)
from app.blueprints.ogc.documents import job_status_info
from app.security import api_actor, api_login_required, api_user
from app.services.planning import api_access as access
from app.services.planning import api_listings as listings
from app.services.planning import plannings as svc
from app.services.planning.sampling import launch_sampling


@bp.get("/microplanning/plannings/")
@api_login_required
def plannings():
    return jsonify(paginated(listings.plannings_page(
        api_user(), request.args.get("search"), request.args.get("publishing_status"), int_arg("org_unit"),
        int_arg("team"), int_arg("project"), page_args()), planning_json))


@bp.post("/microplanning/plannings/")
@api_login_required
def create_planning():
    return jsonify(planning_json(svc.create_planning(api_user(), json_body(), source="api"))), 201


@bp.get("/microplanning/plannings/<int:planning_id>/")
def planning(planning_id: int):
    return jsonify(planning_json(access.planning_access(api_actor(), planning_id).planning))


@bp.route("/microplanning/plannings/<int:planning_id>/", methods=["PUT", "PATCH"])
@api_login_required
def update_planning(planning_id: int):
    return jsonify(planning_json(svc.update_planning(api_user(), planning_id, json_body(), source="api")))


@bp.delete("/microplanning/plannings/<int:planning_id>/")
@api_login_required
def delete_planning(planning_id: int):
    svc.delete_planning(api_user(), planning_id, source="api")
    return "", 204


@bp.post("/microplanning/plannings/<int:planning_id>/sample/")
@api_login_required
def sample_planning(planning_id: int):
    """Launch the built-in LQAS sampling for this planning; 201 with the job's statusInfo."""
    job = launch_sampling(api_user(), planning_id, json_body())
    response = jsonify(job_status_info(job, request.host_url))
    response.headers["Location"] = f"/jobs/{job.id}"
    return response, 201


@bp.get("/microplanning/assignments/")
def assignments():
    result = listings.assignments_page(api_actor(), int_arg("planning"), int_arg("team"), int_arg("user"),
                                       request.args.get("order", "org_unit"), page_args(default_limit=100))
    return jsonify(paginated(result, assignment_json))


@bp.post("/microplanning/assignments/bulk_create_assignments/")
def bulk_create_assignments():
    """Iaso: {planning, team | user, org_units: [ids]} → assign each org unit to that team or user."""
    created = access.assign_org_units(api_actor(), json_body())
    return jsonify([assignment_json(a) for a in created]), 201


@bp.post("/microplanning/assignments/bulk_delete_assignments/")
def bulk_delete_assignments():
    """Iaso: {planning} → soft-delete the planning's assignments (only `org_units` when given)."""
    return jsonify(bulk_delete_json(*access.unassign(api_actor(), json_body())))


@bp.post("/assignments/bulk_create_assignments/")
def shorthand_bulk_create():
    """Seed shorthand: {planning, assignments: [{org_unit, team, user}]}."""
    return jsonify(shorthand_bulk_create_json(*access.assign_rows(api_actor(), json_body()))), 201


@bp.delete("/assignments/")
def shorthand_delete():
    """Seed shorthand: DELETE /api/assignments/?planning=ID."""
    return jsonify(bulk_delete_json(*access.unassign(api_actor(), {"planning": request.args.get("planning")})))
