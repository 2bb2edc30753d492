"""Teams: list (paginated, filterable), detail, create, update, soft delete."""
from flask import jsonify

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import paginated, paging
from app.blueprints.api.serializers import team_json
from app.blueprints.operations import operation
from app.schemas.common import ListOf
from app.schemas.teams import TeamChanges, TeamFilters, TeamIn, TeamOut
from app.security import api_actor, api_user
from app.services.planning import api_listings as listings
from app.services.planning import teams as svc


@bp.get("/teams/")
@operation(query=TeamFilters, auth="actor", responses={200: ListOf[TeamOut]})
def teams(query: TeamFilters):
    """List teams (also to a pipeline run's token: its planning's team tree)"""
    result = listings.teams_page(api_actor(), query.parent_id, query.roots, query.type, query.search,
                                 query.project_id, paging(query))
    return jsonify(paginated(result, team_json))


@bp.get("/teams/<int:team_id>/")
@operation(responses={200: TeamOut})
def team(team_id: int):
    """A team"""
    return jsonify(team_json(svc.get_team(api_user(), team_id)))


@bp.post("/teams/")
@operation(body=TeamIn, responses={201: TeamOut})
def create_team(body: TeamIn):
    """Create a team"""
    return jsonify(team_json(svc.create_team(api_user(), body))), 201


@bp.patch("/teams/<int:team_id>/")
@operation(body=TeamChanges, responses={200: TeamOut})
def update_team(team_id: int, body: TeamChanges):
    """Change a team (the fields given)"""
    return jsonify(team_json(svc.update_team(api_user(), team_id, body)))


@bp.delete("/teams/<int:team_id>/")
@operation(responses={204: None, 409: None})
def delete_team(team_id: int):
    """Delete a team without sub-teams (soft delete)"""
    svc.delete_team(api_user(), team_id)
    return "", 204
