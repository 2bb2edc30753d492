"""Teams: list (paginated, filterable), detail, create, update, soft delete."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import int_arg, json_body, page_args, paginated
from app.blueprints.api.serializers import team_json
from app.security import api_actor, api_login_required, api_user
from app.services.planning import api_listings as listings
from app.services.planning import teams as svc


@bp.get("/teams/")
def teams():
    """Also open to a pipeline token: limited to its planning's team tree."""
    result = listings.teams_page(api_actor(), int_arg("parent_id"), request.args.get("roots") in ("1", "true"),
                                 request.args.get("type"), request.args.get("search"), int_arg("project_id"),
                                 page_args())
    return jsonify(paginated(result, team_json))


@bp.get("/teams/<int:team_id>/")
@api_login_required
def team(team_id: int):
    return jsonify(team_json(svc.get_team(api_user(), team_id)))


@bp.post("/teams/")
@api_login_required
def create_team():
    return jsonify(team_json(svc.create_team(api_user(), json_body()))), 201


@bp.patch("/teams/<int:team_id>/")
@api_login_required
def update_team(team_id: int):
    return jsonify(team_json(svc.update_team(api_user(), team_id, json_body())))


@bp.delete("/teams/<int:team_id>/")
@api_login_required
def delete_team(team_id: int):
    svc.delete_team(api_user(), team_id)
    return "", 204

