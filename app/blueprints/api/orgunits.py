"""Org units and org unit types: list (paginated, filterable), detail, create."""
from flask import jsonify

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import paginated, paging
from app.blueprints.api.serializers import org_unit_json, org_unit_type_json
from app.blueprints.operations import operation
from app.schemas.common import ListOf
from app.schemas.orgunits import (
    OrgUnitFilters, OrgUnitIn, OrgUnitOut, OrgUnitTypeFilters, OrgUnitTypeIn, OrgUnitTypeOut,
)
from app.security import api_actor, api_user
from app.services.planning import api_listings as listings
from app.services.planning import orgunits as svc


@bp.get("/orgunittypes/")
@operation(query=OrgUnitTypeFilters, responses={200: ListOf[OrgUnitTypeOut]})
def org_unit_types(query: OrgUnitTypeFilters):
    """List org unit types"""
    return jsonify(paginated(listings.org_unit_types_page(api_user(), query.project_id, paging(query)),
                             org_unit_type_json))


@bp.get("/orgunittypes/<int:type_id>/")
@operation(responses={200: OrgUnitTypeOut})
def org_unit_type(type_id: int):
    """An org unit type"""
    return jsonify(org_unit_type_json(svc.get_org_unit_type(api_user(), type_id)))


@bp.post("/orgunittypes/")
@operation(body=OrgUnitTypeIn, responses={201: OrgUnitTypeOut})
def create_org_unit_type(body: OrgUnitTypeIn):
    """Create an org unit type"""
    return jsonify(org_unit_type_json(svc.create_org_unit_type(api_user(), body))), 201


@bp.get("/orgunits/")
@operation(query=OrgUnitFilters, auth="actor", responses={200: ListOf[OrgUnitOut], 404: None})
def org_units(query: OrgUnitFilters):
    """List org units (also open to a pipeline token: limited to its planning's root subtree)"""
    result = listings.org_units_page(
        api_actor(), query.org_unit_type_id or query.type, query.parent_id, query.roots, query.search, query.under,
        query.area_type.value if query.area_type else None, query.order == "id", paging(query))
    return jsonify(paginated(result, lambda u: org_unit_json(u, query.geometry)))


@bp.get("/orgunits/<int:org_unit_id>/")
@operation(responses={200: OrgUnitOut})
def org_unit(org_unit_id: int):
    """An org unit, with its geometry"""
    return jsonify(org_unit_json(svc.get_org_unit(api_user(), org_unit_id), with_geometry=True))


@bp.post("/orgunits/")
@operation(body=OrgUnitIn, responses={201: OrgUnitOut})
def create_org_unit(body: OrgUnitIn):
    """Create an org unit"""
    return jsonify(org_unit_json(svc.create_org_unit(api_user(), body), with_geometry=True)), 201
