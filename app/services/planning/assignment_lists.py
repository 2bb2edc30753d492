"""Assignments as lists: an agent's own ("My assignments": published plannings only) and a planning's
export (CSV rows, GeoJSON features) for coordinators."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Assignment, OrgUnit, OrgUnitType, Permission, Planning, Team, User
from app.models.org import team_users
from app.services.planning.plannings import get_planning
from app.services.platform.access import project_scope
from app.services.platform.permissions import require_permission

EXPORT_COLUMNS = ("planning", "org_unit_id", "org_unit", "org_unit_type", "parent", "assigned_to", "assignee_kind",
                  "assigned_at", "by_sampling_run")


@dataclass
class MyAssignment:
    planning: Planning
    org_unit: OrgUnit
    team: Team | None


def my_assignments(user: User) -> list[MyAssignment]:
    """Units given to the user, or to a team they belong to, in the published plannings of their
    projects (drafts are the planners' until published), by planning then unit name."""
    my_teams = select(team_users.c.team_id).where(team_users.c.user_id == user.id)
    rows = db.session.execute(
        select(Planning, OrgUnit, Team).select_from(Assignment)
        .join(Planning, Planning.id == Assignment.planning_id).join(OrgUnit, OrgUnit.id == Assignment.org_unit_id)
        .outerjoin(Team, Team.id == Assignment.team_id)
        .where(Assignment.deleted_at.is_(None), Planning.deleted_at.is_(None), Planning.published_at.is_not(None),
               Planning.project_id.in_(project_scope(user)),
               or_(Assignment.user_id == user.id, Assignment.team_id.in_(my_teams)))
        .order_by(Planning.name, OrgUnit.name).limit(5000)).all()
    return [MyAssignment(planning, unit, team) for planning, unit, team in rows]


@dataclass
class AssignmentExport:
    planning: Planning
    rows: list[dict]  # EXPORT_COLUMNS
    geometries: list[dict | None]  # the unit's stored GeoJSON geometry, row by row


def export_assignments(user: User, planning_id: int) -> AssignmentExport:
    """A planning's live assignments with their units (name, type, parent, geometry) and assignees."""
    require_permission(user, Permission.MANAGE_PLANNING)
    planning = get_planning(user, planning_id)
    parent = OrgUnit.__table__.alias("parent")
    assignee = User.__table__.alias("assignee")
    result = db.session.execute(
        select(Assignment.created_at, Assignment.job_id, OrgUnit.id, OrgUnit.name, OrgUnit.geometry, OrgUnit.org_unit_type_id,
               parent.c.name.label("parent"), Team.name.label("team"), assignee.c.username.label("username"))
        .join(OrgUnit, OrgUnit.id == Assignment.org_unit_id).outerjoin(parent, parent.c.id == OrgUnit.parent_id)
        .outerjoin(Team, Team.id == Assignment.team_id).outerjoin(assignee, assignee.c.id == Assignment.user_id)
        .where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
        .order_by(OrgUnit.name, OrgUnit.id)).all()
    type_names = dict(db.session.execute(select(OrgUnitType.id, OrgUnitType.name)).all())
    rows, geometries = [], []
    for r in result:
        rows.append({"planning": planning.name, "org_unit_id": r.id, "org_unit": r.name,
                     "org_unit_type": type_names.get(r.org_unit_type_id, ""), "parent": r.parent or "",
                     "assigned_to": r.team or r.username or "", "assignee_kind": "team" if r.team else "user",
                     "assigned_at": r.created_at.isoformat(), "by_sampling_run": r.job_id or ""})
        geometries.append(r.geometry)
    return AssignmentExport(planning, rows, geometries)
