"""Microplanning API (Iaso contract): plannings, assignments, bulk assignment calls, sampling."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.actors import planning_actor
from app.blueprints.api.pagination import int_arg, json_body, paginated
from app.blueprints.api.serializers import (
    assignment_json, bulk_delete_json, planning_json, shorthand_bulk_create_json,
)
from app.blueprints.ogc.documents import job_status_info
from app.security import api_login_required, api_user
from app.services.planning import assignments as assign_svc
from app.services.planning import plannings as svc
from app.services.platform.errors import FieldErrors, ValidationFailed
from app.services.planning.sampling import launch_sampling


@bp.get("/microplanning/plannings/")
@api_login_required
def plannings():
    published = request.args.get("publishing_status")
    stmt = svc.plannings_query(api_user(), search=request.args.get("search"),
                               published={"published": True, "draft": False}.get(published),
                               org_unit_id=int_arg("org_unit"), team_id=int_arg("team"), project_id=int_arg("project"))
    return jsonify(paginated(stmt, planning_json))


@bp.post("/microplanning/plannings/")
@api_login_required
def create_planning():
    return jsonify(planning_json(svc.create_planning(api_user(), json_body(), source="api"))), 201


@bp.get("/microplanning/plannings/<int:planning_id>/")
def planning(planning_id: int):
    return jsonify(planning_json(planning_actor(planning_id)[1]))


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
    planning_id = int_arg("planning")
    if planning_id is None:
        raise ValidationFailed("planning is required", {"planning": ["is required"]})
    planning = planning_actor(planning_id)[1]
    stmt = assign_svc.assignments_query(planning.id, team_id=int_arg("team"), user_id=int_arg("user"),
                                        sort=request.args.get("order", "org_unit"))
    return jsonify(paginated(stmt, assignment_json, default_limit=100))


def _planning_from(data: dict):
    """(acting user, planning, audit source) for a bulk call; pipeline tokens only for their planning."""
    errors = FieldErrors()
    if data.get("planning") in (None, ""):
        errors.add("planning", "is required")
    errors.raise_if_any("Invalid request")
    return planning_actor(data["planning"])


@bp.post("/microplanning/assignments/bulk_create_assignments/")
def bulk_create_assignments():
    """Iaso: {planning, team | user, org_units: [ids]} → assign each org unit to that team or user."""
    data = json_body()
    user, planning, source = _planning_from(data)
    org_units = data.get("org_units")
    if not isinstance(org_units, list) or not org_units:
        raise ValidationFailed("org_units must be a non-empty list of org unit ids", {"org_units": ["must be a non-empty list"]})
    rows = [{"org_unit": unit, "team": data.get("team"), "user": data.get("user")} for unit in org_units]
    created = assign_svc.bulk_create(user, planning, rows, label="org_units", source=source)
    return jsonify([assignment_json(a) for a in created]), 201


@bp.post("/microplanning/assignments/bulk_delete_assignments/")
def bulk_delete_assignments():
    """Iaso: {planning} → soft-delete the planning's assignments (only `org_units` when given)."""
    data = json_body()
    user, planning, source = _planning_from(data)
    deleted = assign_svc.bulk_delete(user, planning, data.get("org_units"), source=source)
    return jsonify(bulk_delete_json(planning, deleted))


@bp.post("/assignments/bulk_create_assignments/")
def shorthand_bulk_create():
    """Seed shorthand: {planning, assignments: [{org_unit, team, user}]}."""
    data = json_body()
    user, planning, source = _planning_from(data)
    created = assign_svc.bulk_create(user, planning, data.get("assignments"), label="assignments", source=source)
    return jsonify(shorthand_bulk_create_json(planning, created)), 201


@bp.delete("/assignments/")
def shorthand_delete():
    """Seed shorthand: DELETE /api/assignments/?planning=ID."""
    user, planning, source = _planning_from({"planning": request.args.get("planning")})
    return jsonify(bulk_delete_json(planning, assign_svc.bulk_delete(user, planning, source=source)))
