"""Org units and org unit types: scoped reads, validated creation, subtree queries."""
from __future__ import annotations

from sqlalchemy import ColumnElement, Select, and_, func, or_, select

from app.extensions import db
from app.models import OrgUnit, OrgUnitType, Permission, User
from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn
from app.services.platform.permissions import require_permission
from app.services.platform.access import get_scoped, project_scope, resolve_project
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


def create_org_unit_type(user: User, data: OrgUnitTypeIn) -> OrgUnitType:
    """Create an org unit type; every bad field is named, nothing is written on error."""
    require_permission(user, Permission.MANAGE_ORG_UNITS)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    sub_types: list[OrgUnitType] = []
    for sub_id in dict.fromkeys(data.sub_unit_type_ids):  # each once, in the order given
        sub = db.session.get(OrgUnitType, sub_id)
        if sub is None or sub.project_id != project_id:
            errors.add("sub_unit_type_ids", f"org unit type {sub_id} does not exist in this project")
        else:
            sub_types.append(sub)
    if project_id is not None and db.session.execute(
        select(OrgUnitType.id).where(OrgUnitType.project_id == project_id,
                                     func.lower(OrgUnitType.name) == data.name.lower())
    ).first():
        errors.add("name", f"an org unit type named '{data.name}' already exists in this project")
    errors.raise_if_any("Cannot create org unit type")
    out = OrgUnitType(project_id=project_id, name=data.name, short_name=data.short_name or data.name[:40],
                      depth=data.depth, category=data.category.value if data.category else None,
                      sub_unit_types=sub_types)
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
        stmt = stmt.where(under_path(OrgUnit.path, get_org_unit(user, under_id).path))
    if search:
        term = search.strip()
        if term.isdigit():
            stmt = stmt.where(or_(OrgUnit.id == int(term), OrgUnit.name.ilike(f"%{term}%")))
        else:
            stmt = stmt.where(or_(OrgUnit.name.ilike(f"%{term}%"), OrgUnit.source_ref == term))
    return stmt.order_by(OrgUnit.name, OrgUnit.id)


def under_path(column, path: str) -> ColumnElement[bool]:
    """`column` (a materialised path, "1.7.") starts with `path`: the subtree, as the range
    [`path`, `path` with its last character's successor) that the path index answers by itself.
    (`LIKE '1.7.%'` makes PostgreSQL test the pattern again on every row of that range — half the time
    of counting a 250,000-unit region — and a prepared statement's generic plan cannot use it at all.)"""
    upper = path[:-1] + chr(ord(path[-1]) + 1)
    if db.engine.dialect.name == "postgresql":  # the operators of the index's text_pattern_ops
        return and_(column.op("~>=~", is_comparison=True)(path), column.op("~<~", is_comparison=True)(upper))
    return and_(column >= path, column < upper)  # SQLite compares bytes


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
    stmt = select(OrgUnit).where(under_path(OrgUnit.path, unit.path), OrgUnit.deleted_at.is_(None))
    if not include_self:
        stmt = stmt.where(OrgUnit.id != unit.id)
    return stmt


def create_org_unit(user: User, data: OrgUnitIn) -> OrgUnit:
    """Create an org unit under an optional parent; validation errors name the field."""
    from app.services.planning.geometry import simplify_geometry

    require_permission(user, Permission.MANAGE_ORG_UNITS)
    errors = FieldErrors()
    org_type = db.session.execute(
        select(OrgUnitType).where(OrgUnitType.id == data.org_unit_type_id,
                                  OrgUnitType.project_id.in_(project_scope(user)))
    ).scalar_one_or_none()
    if org_type is None:
        errors.add("org_unit_type_id", f"org unit type {data.org_unit_type_id} does not exist")
    parent = None
    if data.parent_id is not None:
        parent = db.session.execute(
            select(OrgUnit).where(OrgUnit.id == data.parent_id, OrgUnit.project_id.in_(project_scope(user)),
                                  OrgUnit.deleted_at.is_(None))
        ).scalar_one_or_none()
        if parent is None:
            errors.add("parent_id", f"org unit {data.parent_id} does not exist")
    if parent is not None and org_type is not None and parent.project_id != org_type.project_id:
        errors.add("parent_id", "the parent belongs to another project than the org unit type")
    geometry = None
    if data.geometry is not None:
        try:
            geometry = simplify_geometry(data.geometry)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            errors.add("geometry", f"is not valid GeoJSON: {exc}")
    errors.raise_if_any("Cannot create org unit")
    name, lat, lon = data.name, data.latitude, data.longitude
    area_type = data.area_type.value if data.area_type else None
    source_ref = data.source_ref or None
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
