"""Teams: list (paginated, filterable), detail, create, update, soft delete."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.actors import reader
from app.models import Team
from app.blueprints.api.pagination import int_arg, json_body, paginated
from app.blueprints.api.serializers import team_json
from app.security import api_login_required, api_user
from app.services.planning import teams as svc


@bp.get("/teams/")
def teams():
    """Also open to a pipeline token: limited to its planning's team tree."""
    user, planning = reader()
    stmt = svc.teams_query(user, parent_id=int_arg("parent_id"), roots=request.args.get("roots") in ("1", "true"),
                           team_type=request.args.get("type"), search=request.args.get("search"),
                           project_id=int_arg("project_id"))
    if planning is not None:
        stmt = stmt.where(Team.path.like(planning.team.path + "%"))
    return jsonify(paginated(stmt, team_json))


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
