"""What the org unit pages show: the tree (roots, or a search), a unit's children loaded on demand,
one unit with a page of its children, and the org unit types with their form. Each function scopes
to the acting user's projects and returns plain values for the template."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, OrgUnitType, Permission, Project, User
from app.services.planning import orgunits as svc
from app.schemas.orgunits import OrgUnitTypeIn
from app.schemas.parsing import validate_data
from app.services.platform.errors import ValidationFailed
from app.services.platform.paging import page_of

SEARCH_LIMIT = 100
CHILDREN_PER_PAGE = 50


@dataclass
class OrgUnitTree:
    """The tree's roots, or the units matching `query` (at most SEARCH_LIMIT; `more` if there are
    others) with the path of names above each."""

    query: str
    units: list[OrgUnit]
    counts: dict[int, int]
    more: bool = False
    paths: dict[int, str] = field(default_factory=dict)


def _ancestor_names(units: list[OrgUnit]) -> dict[int, str]:
    """'Country › Region › District' for each unit, fetched in one query."""
    ids = {a for u in units for a in u.ancestor_ids}
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ids))).all()) if ids else {}
    return {u.id: " › ".join(names.get(a, "?") for a in u.ancestor_ids) for u in units}


def org_unit_tree(user: User, query: str) -> OrgUnitTree:
    """The user's org unit roots; with a search `query`, the matching units instead."""
    query = query.strip()
    if not query:
        roots = list(db.session.execute(svc.org_units_query(user, roots=True)).scalars())
        return OrgUnitTree("", roots, svc.child_counts([u.id for u in roots]))
    units = list(db.session.execute(svc.org_units_query(user, search=query).limit(SEARCH_LIMIT + 1)).scalars())
    more, units = len(units) > SEARCH_LIMIT, units[:SEARCH_LIMIT]
    return OrgUnitTree(query, units, svc.child_counts([u.id for u in units]), more, _ancestor_names(units))


@dataclass
class ChildUnits:
    parent: OrgUnit
    units: list[OrgUnit]
    counts: dict[int, int]
    page: Pagination  # `units` is its page; the tree loads the next one on request


def child_units(user: User, org_unit_id: int, page: int | None = None) -> ChildUnits:
    """One page (CHILDREN_PER_PAGE) of a unit's children with their own child counts: the tree opening
    one level, as fast for a district of 1,500 facilities as for one of 50."""
    parent = svc.get_org_unit(user, org_unit_id)
    children = page_of(svc.org_units_query(user, parent_id=parent.id), page, CHILDREN_PER_PAGE)
    return ChildUnits(parent, children.items, svc.child_counts([u.id for u in children.items]), children)


@dataclass
class OrgUnitPage:
    unit: OrgUnit
    ancestors: list[OrgUnit]
    children: Pagination
    counts: dict[int, int]


def org_unit_page(user: User, org_unit_id: int, page: int) -> OrgUnitPage:
    """One unit, its ancestors and one page of its children (50 a page)."""
    unit = svc.get_org_unit(user, org_unit_id)
    children = page_of(svc.org_units_query(user, parent_id=unit.id), page, CHILDREN_PER_PAGE)
    return OrgUnitPage(unit, svc.ancestors(unit), children, svc.child_counts([u.id for u in children.items]))


@dataclass
class OrgUnitTypes:
    types: list[OrgUnitType]
    projects: list[Project]
    can_manage: bool
    form: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


def org_unit_types_page(user: User, form: dict | None = None, errors: dict | None = None) -> OrgUnitTypes:
    """The user's org unit types; the new-type form with MANAGE_ORG_UNITS."""
    return OrgUnitTypes(list(db.session.execute(svc.org_unit_types_query(user)).scalars()), list(user.projects),
                        user.has_permission(Permission.MANAGE_ORG_UNITS), form or {}, errors or {})


@dataclass
class SavedOrgUnitType:
    """A new-type submission: the type, or the page again with the errors (`page`)."""

    created: OrgUnitType | None = None
    page: OrgUnitTypes | None = None


def create_org_unit_type_from_form(user: User, form: dict, sub_unit_type_ids: list[str]) -> SavedOrgUnitType:
    """Create an org unit type from the form (`form` as posted, `sub_unit_type_ids` its sub-types)."""
    try:
        data = validate_data(OrgUnitTypeIn, {**{k: v for k, v in form.items() if k != "csrf_token"},
                                              "sub_unit_type_ids": sub_unit_type_ids}, "Cannot create org unit type")
        created = svc.create_org_unit_type(user, data)
        return SavedOrgUnitType(created=created)
    except ValidationFailed as exc:
        return SavedOrgUnitType(page=org_unit_types_page(user, form, exc.details))
