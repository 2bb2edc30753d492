"""Org units and org unit types: list (paginated, filterable), detail, create."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import int_arg, json_body, page_args, paginated
from app.blueprints.api.serializers import org_unit_json, org_unit_type_json
from app.security import api_actor, api_login_required, api_user
from app.services.planning import api_listings as listings
from app.services.planning import orgunits as svc


@bp.get("/orgunittypes/")
@api_login_required
def org_unit_types():
    return jsonify(paginated(listings.org_unit_types_page(api_user(), int_arg("project_id"), page_args()),
                             org_unit_type_json))


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
    result = listings.org_units_page(
        api_actor(), int_arg("org_unit_type_id") or int_arg("type"), int_arg("parent_id"),
        request.args.get("roots") in ("1", "true"), request.args.get("search"), int_arg("under"),
        request.args.get("area_type"), request.args.get("order") == "id", page_args())
    with_geometry = request.args.get("geometry") in ("1", "true")
    return jsonify(paginated(result, lambda u: org_unit_json(u, with_geometry)))


@bp.get("/orgunits/<int:org_unit_id>/")
@api_login_required
def org_unit(org_unit_id: int):
    return jsonify(org_unit_json(svc.get_org_unit(api_user(), org_unit_id), with_geometry=True))


@bp.post("/orgunits/")
@api_login_required
def create_org_unit():
    return jsonify(org_unit_json(svc.create_org_unit(api_user(), json_body()), with_geometry=True)), 201
