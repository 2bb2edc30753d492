"""Org units and org unit types: scoped reads, validated creation, subtree queries."""
from __future__ import annotations

from sqlalchemy import Select, func, or_, select

from app.extensions import db
from app.models import AreaType, OrgUnit, OrgUnitCategory, OrgUnitType, Permission, User
from app.services.platform.permissions import require_permission
from app.services.platform.access import get_scoped, parse_int, project_scope, resolve_project
from app.services.platform.errors import FieldErrors, NotFound


# --- org unit types -------------------------------------------------------------------------

def org_unit_types_query(user: User, project_id: int | None = None) -> Select:
    stmt = select(OrgUnitType).where(OrgUnitType.project_id.in_(project_scope(user)))
    if project_id is not None:
        stmt = stmt.where(OrgUnitType.project_id == project_id)
    return stmt.order_by(OrgUnitType.project_id, OrgUnitType.depth, OrgUnitType.name)


def get_org_unit_type(user: User, type_id: int) -> OrgUnitType:
    found = db.session.execute(
        select(OrgUnitType).where(OrgUnitType.id == type_id, OrgUnitType.project_id.in_(project_scope(user)))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No org unit type {type_id}")
    return found


def create_org_unit_type(user: User, data: dict) -> OrgUnitType:
    """Create an org unit type; every bad field is named, nothing is written on error."""
    require_permission(user, Permission.MANAGE_ORG_UNITS)
    errors = FieldErrors()
    name = errors.text(data, "name", 120)
    short_name = str(data.get("short_name") or "").strip()[:40]
    depth = parse_int(data.get("depth", 0), errors, "depth", minimum=0)
    category = data.get("category") or None
    if category is not None and category not in OrgUnitCategory.__members__:
        errors.add("category", f"must be one of {', '.join(OrgUnitCategory.__members__)}")
    project_id = resolve_project(user, data.get("project_id"), errors)
    sub_types: list[OrgUnitType] = []
    raw_subs = data.get("sub_unit_type_ids") or []
    if not isinstance(raw_subs, list):
        errors.add("sub_unit_type_ids", "must be a list of org unit type ids")
    else:
        for raw in raw_subs:
            sub_id = parse_int(raw, errors, "sub_unit_type_ids")
            if sub_id is None:
                continue
            sub = db.session.get(OrgUnitType, sub_id)
            if sub is None or sub.project_id != project_id:
                errors.add("sub_unit_type_ids", f"org unit type {sub_id} does not exist in this project")
            else:
                sub_types.append(sub)
    if project_id is not None and name and db.session.execute(
        select(OrgUnitType.id).where(OrgUnitType.project_id == project_id, func.lower(OrgUnitType.name) == name.lower())
    ).first():
        errors.add("name", f"an org unit type named '{name}' already exists in this project")
    errors.raise_if_any("Cannot create org unit type")
    out = OrgUnitType(project_id=project_id, name=name, short_name=short_name or name[:40], depth=depth,
                      category=category, sub_unit_types=sub_types)
    db.session.add(out)
    db.session.commit()
    return out


# --- org units ------------------------------------------------------------------------------

def org_units_query(
    user: User,
    type_id: int | None = None,
    parent_id: int | None = None,
    roots: bool = False,
    search: str | None = None,
    under_id: int | None = None,
) -> Select:
    """Live org units the user may see, with the given filters."""
    stmt = select(OrgUnit).where(OrgUnit.project_id.in_(project_scope(user)), OrgUnit.deleted_at.is_(None))
    if type_id is not None:
        stmt = stmt.where(OrgUnit.org_unit_type_id == type_id)
    if parent_id is not None:
        stmt = stmt.where(OrgUnit.parent_id == parent_id)
    if roots:
        stmt = stmt.where(OrgUnit.parent_id.is_(None))
    if under_id is not None:
        stmt = stmt.where(OrgUnit.path.like(get_org_unit(user, under_id).path + "%"))
    if search:
        term = search.strip()
        if term.isdigit():
            stmt = stmt.where(or_(OrgUnit.id == int(term), OrgUnit.name.ilike(f"%{term}%")))
        else:
            stmt = stmt.where(or_(OrgUnit.name.ilike(f"%{term}%"), OrgUnit.source_ref == term))
    return stmt.order_by(OrgUnit.name, OrgUnit.id)


def get_org_unit(user: User, org_unit_id: int) -> OrgUnit:
    return get_scoped(OrgUnit, org_unit_id, user, "org unit")


def child_counts(parent_ids: list[int]) -> dict[int, int]:
    """Number of live children of each given unit."""
    if not parent_ids:
        return {}
    rows = db.session.execute(
        select(OrgUnit.parent_id, func.count()).where(OrgUnit.parent_id.in_(parent_ids), OrgUnit.deleted_at.is_(None))
        .group_by(OrgUnit.parent_id)
    ).all()
    return {parent: count for parent, count in rows}


def ancestors(unit: OrgUnit) -> list[OrgUnit]:
    """Ancestors from the root down (one query, ordered by depth)."""
    ids = unit.ancestor_ids
    if not ids:
        return []
    return list(db.session.execute(select(OrgUnit).where(OrgUnit.id.in_(ids)).order_by(OrgUnit.depth)).scalars())


def subtree_query(unit: OrgUnit, include_self: bool = True) -> Select:
    stmt = select(OrgUnit).where(OrgUnit.path.like(unit.path + "%"), OrgUnit.deleted_at.is_(None))
    if not include_self:
        stmt = stmt.where(OrgUnit.id != unit.id)
    return stmt


def create_org_unit(user: User, data: dict) -> OrgUnit:
    """Create an org unit under an optional parent; validation errors name the field."""
    from app.services.planning.geometry import simplify_geometry

    require_permission(user, Permission.MANAGE_ORG_UNITS)
    errors = FieldErrors()
    name = errors.text(data, "name", 255)
    org_type = None
    if data.get("org_unit_type_id") in (None, ""):
        errors.add("org_unit_type_id", "is required")
    else:
        type_id = parse_int(data.get("org_unit_type_id"), errors, "org_unit_type_id")
        if type_id is not None:
            org_type = db.session.execute(
                select(OrgUnitType).where(OrgUnitType.id == type_id, OrgUnitType.project_id.in_(project_scope(user)))
            ).scalar_one_or_none()
            if org_type is None:
                errors.add("org_unit_type_id", f"org unit type {type_id} does not exist")
    parent = None
    if data.get("parent_id") not in (None, ""):
        parent_id = parse_int(data.get("parent_id"), errors, "parent_id")
        if parent_id is not None:
            parent = db.session.execute(
                select(OrgUnit).where(OrgUnit.id == parent_id, OrgUnit.project_id.in_(project_scope(user)),
                                      OrgUnit.deleted_at.is_(None))
            ).scalar_one_or_none()
            if parent is None:
                errors.add("parent_id", f"org unit {parent_id} does not exist")
    if parent is not None and org_type is not None and parent.project_id != org_type.project_id:
        errors.add("parent_id", "the parent belongs to another project than the org unit type")
    area_type = data.get("area_type") or None
    if area_type is not None and area_type not in AreaType.__members__:
        errors.add("area_type", "must be URBAN or RURAL")
    lat = _coordinate(data.get("latitude"), -90, 90, "latitude", errors)
    lon = _coordinate(data.get("longitude"), -180, 180, "longitude", errors)
    geometry = None
    if data.get("geometry") not in (None, ""):
        try:
            geometry = simplify_geometry(data["geometry"])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            errors.add("geometry", f"is not valid GeoJSON: {exc}")
    source_ref = str(data.get("source_ref") or "").strip()[:120] or None
    errors.raise_if_any("Cannot create org unit")
    unit = OrgUnit(
        project_id=org_type.project_id, name=name, org_unit_type_id=org_type.id,
        parent_id=parent.id if parent else None, path="", depth=(parent.depth + 1) if parent else 0,
        geometry=geometry, latitude=lat, longitude=lon, area_type=area_type, source_ref=source_ref,
    )
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else ''}{unit.id}."
    db.session.commit()
    return unit


def _coordinate(raw, low: float, high: float, field: str, errors: FieldErrors) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors.add(field, f"must be a number, got {raw!r}")
        return None
    if not low <= value <= high:
        errors.add(field, f"must be between {low} and {high}")
        return None
    return value
