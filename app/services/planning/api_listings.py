"""The Iaso-style API's lists, one page each (`paging` is (page, limit)): plannings, a planning's
assignments, org unit types, org units and teams — scoped to the caller's projects, and for a
pipeline token to its planning (its root's subtree, its team tree)."""
from __future__ import annotations

from app.models import OrgUnit, Team, TeamType, User
from app.models.base import under_path
from app.schemas.planning import AssignmentOrder, PublishingStatus
from app.services.planning import assignments as assign_svc
from app.services.planning import orgunits
from app.services.planning import plannings
from app.services.planning import teams
from app.services.planning.api_access import Actor, planning_access, reader
from app.services.platform.errors import Forbidden
from app.services.platform.paging import Page, paginate

def plannings_page(user: User, search: str | None, publishing_status: PublishingStatus | None,
                   org_unit_id: int | None, team_id: int | None, project_id: int | None, paging: tuple[int, int]) -> Page:
    """The user's projects' live plannings, newest first; only published or draft ones when
    `publishing_status` is given."""
    published = None if publishing_status is None else publishing_status == PublishingStatus.PUBLISHED
    stmt = plannings.plannings_query(user, search=search, published=published,
                                     org_unit_id=org_unit_id, team_id=team_id, project_id=project_id)
    return paginate(stmt, *paging)


def assignments_page(actor: Actor, planning_id: int, team_id: int | None, user_id: int | None,
                     order: AssignmentOrder, paging: tuple[int, int]) -> Page:
    """A planning's live assignments (a pipeline token reads only its own), of one team or user, sorted
    by `order`."""
    planning = planning_access(actor, planning_id).planning
    return paginate(assign_svc.assignments_query(planning.id, team_id=team_id, user_id=user_id, sort=order.value),
                    *paging)


def org_unit_types_page(user: User, project_id: int | None, paging: tuple[int, int]) -> Page:
    """Org unit types of the user's projects (of one project when given)."""
    return paginate(orgunits.org_unit_types_query(user, project_id=project_id), *paging)


def org_units_page(actor: Actor, type_id: int | None, parent_id: int | None, roots: bool, search: str | None,
                   under_id: int | None, area_type: str | None, by_id: bool, paging: tuple[int, int]) -> Page:
    """Live org units the caller may see, by name (or id with `by_id`), filtered; a pipeline token reads
    only under its planning's root (`under_id` defaults to the root)."""
    user, planning = reader(actor)
    if planning is not None:
        under_id = under_id or planning.org_unit_id
        if not orgunits.get_org_unit(user, under_id).path.startswith(planning.org_unit.path):
            raise Forbidden("This pipeline token may only read its planning's org units.")
    stmt = orgunits.org_units_query(user, type_id=type_id, parent_id=parent_id, roots=roots, search=search,
                                    under_id=under_id)
    if area_type:
        stmt = stmt.where(OrgUnit.area_type == area_type)
    if by_id:
        stmt = stmt.order_by(None).order_by(OrgUnit.id)
    return paginate(stmt, *paging)


def teams_page(actor: Actor, parent_id: int | None, roots: bool, team_type: TeamType | None, search: str | None,
               project_id: int | None, paging: tuple[int, int]) -> Page:
    """Live teams the caller may see, filtered; a pipeline token reads only its planning's team tree."""
    user, planning = reader(actor)
    stmt = teams.teams_query(user, parent_id=parent_id, roots=roots, team_type=team_type, search=search,
                             project_id=project_id)
    if planning is not None:
        stmt = stmt.where(under_path(Team.path, planning.team.path))
    return paginate(stmt, *paging)
