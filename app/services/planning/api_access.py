"""Who may call the Iaso-style endpoints a pipeline also uses — users (Bearer), or a pipeline token
scoped to one job and one planning (only while that job is live) — and the bulk assignment calls
they make (Iaso's `bulk_create_assignments` / `bulk_delete_assignments` and the seed's shorthands)."""
from __future__ import annotations

from dataclasses import dataclass

from app.extensions import db
from app.models import Assignment, Job, Planning, User
from app.schemas.planning import AssignmentRow, AssignmentRowsIn, BulkAssignIn
from app.services.planning import assignments as assign_svc
from app.services.planning.plannings import get_planning
from app.services.platform.errors import Forbidden
from app.services.platform.permissions import PipelineActor
from app.services.processing import job_status as st

Actor = User | PipelineActor


@dataclass
class PlanningAccess:
    """Whom a call on a planning acts as, the planning, and the audit source ("api" or "pipeline")."""

    user: User
    planning: Planning
    source: str


def _live_pipeline(actor: PipelineActor) -> None:
    job = db.session.get(Job, actor.job_id)
    if job is None or job.status in st.TERMINAL:
        raise Forbidden("This pipeline run has ended; its token is no longer accepted.")


def planning_access(actor: Actor, planning_id) -> PlanningAccess:
    """The planning (404 outside the user's projects); a pipeline token only for its own planning."""
    if isinstance(actor, PipelineActor):
        _live_pipeline(actor)
        if actor.planning_id is None or str(planning_id) != str(actor.planning_id):
            raise Forbidden(f"This pipeline token may only touch planning {actor.planning_id}.")
        return PlanningAccess(actor.user, get_planning(actor.user, planning_id), "pipeline")
    return PlanningAccess(actor, get_planning(actor, planning_id), "api")


def reader(actor: Actor) -> tuple[User, Planning | None]:
    """The user whose projects scope a read, and the planning a pipeline token is limited to."""
    if isinstance(actor, PipelineActor):
        _live_pipeline(actor)
        planning = db.session.get(Planning, actor.planning_id) if actor.planning_id else None
        if planning is None:
            raise Forbidden("This pipeline token is not tied to a planning.")
        return actor.user, planning
    return actor, None


def assign_org_units(actor: Actor, data: BulkAssignIn) -> list[Assignment]:
    """Iaso: {planning, team | user, org_units: [ids]} → assign each org unit to that team or user."""
    access = planning_access(actor, data.planning)
    rows = [AssignmentRow(org_unit=unit, team=data.team, user=data.user) for unit in data.org_units]
    return assign_svc.bulk_create(access.user, access.planning, rows, label="org_units", source=access.source)


def assign_rows(actor: Actor, data: AssignmentRowsIn) -> tuple[Planning, list[Assignment]]:
    """Seed shorthand: {planning, assignments: [{org_unit, team, user}]} → the planning and the assignments made."""
    access = planning_access(actor, data.planning)
    return access.planning, assign_svc.bulk_create(access.user, access.planning, data.assignments,
                                                   label="assignments", source=access.source)


def unassign(actor: Actor, planning_id: int, org_unit_ids: list[int] | None = None) -> tuple[Planning, int]:
    """Iaso: soft-delete the planning's assignments (only those of `org_unit_ids` when given); the
    planning and how many were deleted."""
    access = planning_access(actor, planning_id)
    return access.planning, assign_svc.bulk_delete(access.user, access.planning, org_unit_ids, source=access.source)
