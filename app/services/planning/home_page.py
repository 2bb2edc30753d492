"""The home dashboard: how many org units and teams the user's projects have, their jobs by status,
and the latest jobs. (Here, not in platform: platform imports no other domain, and jobs are
processing's.)"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, OrgUnit, Team, User
from app.services.platform.access import project_scope
from app.services.processing.job_access import job_counts, jobs_query

RECENT_JOBS = 5


@dataclass
class HomePage:
    counts: dict[str, int]  # org_units, teams
    job_counts: dict[str, int]
    recent_jobs: list[Job]


def home_page(user: User) -> HomePage:
    """What the user's projects hold (live org units and teams), their jobs by status, the latest five."""
    scope = project_scope(user)
    counts = {
        "org_units": db.session.scalar(select(func.count()).select_from(OrgUnit)
                                       .where(OrgUnit.project_id.in_(scope), OrgUnit.deleted_at.is_(None))),
        "teams": db.session.scalar(select(func.count()).select_from(Team)
                                   .where(Team.project_id.in_(scope), Team.deleted_at.is_(None))),
    }
    recent = list(db.session.execute(jobs_query(user).limit(RECENT_JOBS)).scalars())
    return HomePage(counts, job_counts(user), recent)
