"""Who sees and stops which jobs. Jobs are project data: every role, admins included, sees the jobs of
its projects (and its own jobs that belong to no project), and another project's job is a 404. Stopping
a job takes being its launcher or holding the right to run its process. (Who may launch what is the
registry's `authorize_launch`, checked by the job engine.)"""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select

from app.extensions import db
from app.models import Job, Permission, User
from app.schemas.types import unstorable_text
from app.services.platform.access import project_scope
from app.services.processing import job_status as st
from app.services.processing.errors import NoSuchJob, NoSuchProcess, ResultNotReady
from app.services.processing.jobs import reap_job_if_stale
from app.services.processing.registry import get_process


def visible_jobs_filter(user: User):
    """SQL condition: the jobs this user may see — their projects' jobs, and their own project-less ones."""
    return or_(Job.project_id.in_(project_scope(user)),
               and_(Job.project_id.is_(None), Job.launcher_id == user.id))


def get_job_for(user: User, job_id: str, reap: bool = True) -> Job:
    """The job if this user may see it (404 otherwise, so ids of others' jobs do not leak). An id the
    database could not even store (a NUL byte) names no job."""
    if unstorable_text(job_id):
        raise NoSuchJob(f"No job {job_id!r}")
    job = db.session.execute(select(Job).where(Job.id == job_id, visible_jobs_filter(user))).scalar_one_or_none()
    if job is None:
        raise NoSuchJob(f"No job '{job_id}'", {"jobID": job_id})
    if reap:
        reap_job_if_stale(job)
    return job


def get_job_results(user: User, job_id: str) -> dict:
    """The results of a job this user may see; ResultNotReady unless it ended successfully."""
    job = get_job_for(user, job_id)
    if job.status != st.SUCCESSFUL:
        raise ResultNotReady(f"Job {job_id} has no results: it is {job.status}.", {"jobID": job_id})
    return job.results or {}


def jobs_query(user: User, status: str | list[str] | None = None, process_id: str | list[str] | None = None):
    """Jobs this user may see, newest first; status / process_id may be one value or a list."""
    stmt = select(Job).where(visible_jobs_filter(user)).order_by(Job.created_at.desc(), Job.id)
    if status:
        stmt = stmt.where(Job.status.in_([status] if isinstance(status, str) else status))
    if process_id:
        stmt = stmt.where(Job.process_id.in_([process_id] if isinstance(process_id, str) else process_id))
    return stmt


def job_counts(user: User) -> dict[str, int]:
    rows = db.session.execute(
        select(Job.status, func.count()).where(visible_jobs_filter(user)).group_by(Job.status)
    ).all()
    return {status: n for status, n in rows}


def run_permission(process_id: str) -> str:
    """The permission that running this process takes (a row of a process this server no longer has:
    MANAGE_PIPELINES)."""
    try:
        return get_process(process_id).permission
    except NoSuchProcess:
        return Permission.MANAGE_PIPELINES


def may_dismiss(user: User, job: Job) -> bool:
    """Whether the user may stop this job (one they can see): its launcher, or whoever may run its process."""
    return (job.launcher_id is not None and job.launcher_id == user.id) or user.has_permission(
        run_permission(job.process_id))


TRACE = "trace"  # a log line holding a traceback: for those who run the platform, not for coordinators


def may_read_traces(user) -> bool:
    """Tracebacks (server paths, code) are for administrators and platform operators."""
    return bool(user is not None and getattr(user, "is_authenticated", False)
                and (user.is_platform_operator or user.role.name == "admin"))


def readable_log(job: Job, user) -> list:
    """The job's log lines this user may read: everyone the plain lines, tracebacks only `may_read_traces`."""
    return list(job.logs) if may_read_traces(user) else [line for line in job.logs if line.level != TRACE]

