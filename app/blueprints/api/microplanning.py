"""Microplanning API (Iaso contract): plannings, assignments, bulk assignment calls, sampling."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import paginated, paging
from app.blueprints.api.serializers import (
    assignment_json, bulk_delete_json, planning_json, shorthand_bulk_create_json,
)
from app.blueprints.ogc.documents import job_status_info
from app.blueprints.operations import operation
from app.schemas.common import ListOf
from app.schemas.jobs import StatusInfo
from app.schemas.planning import (
    AssignmentFilters, AssignmentList, AssignmentOut, AssignmentRowsIn, AssignmentsCreated, AssignmentsDeleted,
    BulkAssignIn, BulkUnassignIn, PlanningChanges, PlanningFilters, PlanningIn, PlanningOut, PlanningRef, SamplingIn,
)
from app.security import api_actor, api_user
from app.services.planning import api_access as access
from app.services.planning import api_listings as listings
from app.services.planning import plannings as svc
from app.services.planning.sampling import launch_sampling


@bp.get("/microplanning/plannings/")
@operation(query=PlanningFilters, responses={200: ListOf[PlanningOut]})
def plannings(query: PlanningFilters):
    """List plannings"""
    return jsonify(paginated(listings.plannings_page(
        api_user(), query.search, query.publishing_status, query.org_unit, query.team, query.project, paging(query)),
        planning_json))


@bp.post("/microplanning/plannings/")
@operation(body=PlanningIn, responses={201: PlanningOut})
def create_planning(body: PlanningIn):
    """Create a planning"""
    return jsonify(planning_json(svc.create_planning(api_user(), body, source="api"))), 201


@bp.get("/microplanning/plannings/<int:planning_id>/")
@operation(auth="actor", responses={200: PlanningOut})
def planning(planning_id: int):
    """A planning (also to its pipeline run's token)"""
    return jsonify(planning_json(access.planning_access(api_actor(), planning_id).planning))


@bp.route("/microplanning/plannings/<int:planning_id>/", methods=["PUT", "PATCH"])
@operation(body=PlanningChanges, responses={200: PlanningOut})
def update_planning(planning_id: int, body: PlanningChanges):
    """Change a planning (the fields given)"""
    return jsonify(planning_json(svc.update_planning(api_user(), planning_id, body, source="api")))


@bp.delete("/microplanning/plannings/<int:planning_id>/")
@operation(responses={204: None})
def delete_planning(planning_id: int):
    """Delete a planning (soft delete, as Iaso)"""
    svc.delete_planning(api_user(), planning_id, source="api")
    return "", 204


@bp.post("/microplanning/plannings/<int:planning_id>/sample/")
@operation(body=SamplingIn, responses={201: StatusInfo})
def sample_planning(planning_id: int, body: SamplingIn):
    """Launch the built-in LQAS sampling for this planning; 201 with the job's statusInfo."""
    job = launch_sampling(api_user(), planning_id, body.model_dump(exclude_none=True, mode="json"))
    response = jsonify(job_status_info(job, request.host_url))
    response.headers["Location"] = f"/jobs/{job.id}"
    return response, 201


@bp.get("/microplanning/assignments/")
@operation(query=AssignmentFilters, auth="actor", responses={200: ListOf[AssignmentOut], 404: None})
def assignments(query: AssignmentFilters):
    """A planning's assignments (also to its pipeline run's token)"""
    result = listings.assignments_page(api_actor(), query.planning, query.team, query.user, query.order,
                                       paging(query, default_limit=100))
    return jsonify(paginated(result, assignment_json))


@bp.post("/microplanning/assignments/bulk_create_assignments/")
@operation(body=BulkAssignIn, auth="actor", responses={200: AssignmentList, 404: None})
def bulk_create_assignments(body: BulkAssignIn):
    """Iaso: {planning, team | user, org_units: [ids]} → assign each org unit to that team or user."""
    created = access.assign_org_units(api_actor(), body)
    return jsonify([assignment_json(a) for a in created])


@bp.post("/microplanning/assignments/bulk_delete_assignments/")
@operation(body=BulkUnassignIn, auth="actor", responses={200: AssignmentsDeleted, 404: None})
def bulk_delete_assignments(body: BulkUnassignIn):
    """Iaso: {planning} → soft-delete the planning's assignments (only `org_units` when given)."""
    return jsonify(bulk_delete_json(*access.unassign(api_actor(), body.planning, body.org_units)))


@bp.post("/assignments/bulk_create_assignments/")
@operation(body=AssignmentRowsIn, auth="actor", responses={200: AssignmentsCreated, 404: None})
def shorthand_bulk_create(body: AssignmentRowsIn):
    """Seed shorthand: {planning, assignments: [{org_unit, team, user}]}."""
    return jsonify(shorthand_bulk_create_json(*access.assign_rows(api_actor(), body)))


@bp.delete("/assignments/")
@operation(query=PlanningRef, auth="actor", responses={200: AssignmentsDeleted, 404: None})
def shorthand_delete(query: PlanningRef):
    """Seed shorthand: DELETE /api/assignments/?planning=ID."""
    return jsonify(bulk_delete_json(*access.unassign(api_actor(), query.planning)))
