"""A planning's assignments exported for coordinators (CSV rows, GeoJSON features); an agent's own are
in `my_assignments`."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models import Assignment, OrgUnit, OrgUnitType, Permission, Planning, Team, User
from app.services.planning.plannings import get_planning
from app.services.platform.permissions import require_permission

EXPORT_COLUMNS = ("planning", "org_unit_id", "org_unit", "org_unit_type", "parent", "assigned_to", "assignee_kind",
                  "assigned_at", "by_sampling_run")


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
