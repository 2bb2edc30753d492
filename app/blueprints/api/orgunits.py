"""Org units and org unit types: list (paginated, filterable), detail, create."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.actors import reader
from app.models import OrgUnit
from app.services.platform.errors import Forbidden
from app.blueprints.api.pagination import int_arg, json_body, paginated
from app.blueprints.api.serializers import org_unit_json, org_unit_type_json
from app.security import api_login_required, api_user
from app.services.planning import orgunits as svc


@bp.get("/orgunittypes/")
@api_login_required
def org_unit_types():
    return jsonify(paginated(svc.org_unit_types_query(api_user(), project_id=int_arg("project_id")), org_unit_type_json))


@bp.get("/orgunittypes/<int:type_id>/")
@api_login_required
def org_unit_type(type_id: int):
    return jsonify(org_unit_type_json(svc.get_org_unit_type(api_user(), type_id)))


@bp.post("/orgunittypes/")
@api_login_required
def create_org_unit_type():
    return jsonify(org_unit_type_json(svc.create_org_unit_type(api_user(), json_body()))), 201


@bp.get("/orgunits/")
def org_units():
    """Also open to a pipeline token: limited to its planning's root subtree."""
    user, planning = reader()
    under = int_arg("under")
    if planning is not None:
        under = under or planning.org_unit_id
        if not svc.get_org_unit(user, under).path.startswith(planning.org_unit.path):
            raise Forbidden("This pipeline token may only read its planning's org units.")
    stmt = svc.org_units_query(
        user, type_id=int_arg("org_unit_type_id") or int_arg("type"), parent_id=int_arg("parent_id"),
        roots=request.args.get("roots") in ("1", "true"), search=request.args.get("search"), under_id=under,
    )
    if request.args.get("area_type"):
        stmt = stmt.where(OrgUnit.area_type == request.args["area_type"])
    if request.args.get("order") == "id":
        stmt = stmt.order_by(None).order_by(OrgUnit.id)
    with_geometry = request.args.get("geometry") in ("1", "true")
    return jsonify(paginated(stmt, lambda u: org_unit_json(u, with_geometry)))


@bp.get("/orgunits/<int:org_unit_id>/")
@api_login_required
def org_unit(org_unit_id: int):
    return jsonify(org_unit_json(svc.get_org_unit(api_user(), org_unit_id), with_geometry=True))


@bp.post("/orgunits/")
@api_login_required
def create_org_unit():
    return jsonify(org_unit_json(svc.create_org_unit(api_user(), json_body()), with_geometry=True)), 201
