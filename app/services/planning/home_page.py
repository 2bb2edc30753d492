"""The home dashboard: how many org units and teams the user's projects have, their jobs by status,
and the latest jobs. (Here, not in platform: platform imports no other domain, and jobs are
processing's.)"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select

from app.extensions import db
from app.models import Job, OrgUnit, Permission, Planning, Team, User
from app.services.planning.plannings import plannings_query
from app.services.processing import job_status as st
from app.services.platform.access import project_scope
from app.services.processing.job_access import job_counts, jobs_query

RECENT_JOBS = 5


@dataclass
class FailedRun:
    job: Job
    retry_url_args: dict  # url_for arguments of where to edit and retry it


@dataclass
class HomePage:
    counts: dict[str, int]  # org_units, teams
    job_counts: dict[str, int]
    recent_jobs: list[Job]
    plans: bool = False  # may manage plannings: plannings in progress and failed runs are shown
    plannings: list[Planning] = field(default_factory=list)
    failed_runs: list[FailedRun] = field(default_factory=list)


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
    page = HomePage(counts, job_counts(user), recent)
    if user.has_permission(Permission.MANAGE_PLANNING):
        page.plans = True
        page.plannings = list(db.session.execute(plannings_query(user).order_by(Planning.id.desc()).limit(RECENT_JOBS)).scalars())
        failed = db.session.execute(jobs_query(user).where(Job.status == st.FAILED).limit(RECENT_JOBS)).scalars()
        page.failed_runs = [FailedRun(job, _retry(job)) for job in failed]
    return page


def _retry(job: Job) -> dict:
    """A failed sampling run is edited and retried from its planning's dialog; any other from its
    process's page."""
    planning_id = (job.inputs or {}).get("planning_id")
    if job.process_id == "lqas-sampling" and isinstance(planning_id, int):
        return {"endpoint": "plannings.detail", "planning_id": planning_id, "rerun": job.id}
    return {"endpoint": "ogc.process", "process_id": job.process_id}
