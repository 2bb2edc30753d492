"""What the job pages and the OGC job endpoints ask of the engine, for one acting user: the jobs list
page, the OGC job list, a job's artifact, dismissal, and the echo job the jobs page launches. Each
function authorizes the user (jobs they may see; MANAGE_PIPELINES to launch) and returns plain values."""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination

from app.extensions import db
from app.models import Job, Permission, User
from app.schemas.ogc import JobFilters, JobsPageQuery
from app.services.platform.errors import Forbidden
from app.services.platform.paging import Page, page_of, paginate
from app.services.platform.permissions import require_permission
from app.services.processing import artifacts
from app.services.processing import job_status as st
from app.services.processing.job_access import get_job_for, job_counts, jobs_query, may_dismiss, run_permission
from app.services.processing.jobs import enqueue_job, request_kill
from app.services.processing.process_forms import inputs_from_form
from app.services.processing.registry import Process, all_processes, get_process

PER_PAGE = 25


@dataclass
class JobsPage:
    page: Pagination
    status: str | None
    process: str | None
    statuses: tuple[str, ...]
    processes: list[Process]
    counts: dict[str, int]
    can_launch: bool


def jobs_page(user: User, query: JobsPageQuery) -> JobsPage:
    """The jobs the user may see, newest first, 25 a page, filtered by one status (an unknown one is
    ignored) and one process; with the count per status and the processes to filter by."""
    status = query.status if query.status in st.CANONICAL else None
    process = query.process
    listing = page_of(jobs_query(user, status=status, process_id=process), query.page, PER_PAGE)
    return JobsPage(listing, status, process, st.CANONICAL, all_processes(), job_counts(user),
                    user.has_permission(Permission.MANAGE_PIPELINES))


def job_list(user: User, filters: JobFilters, paging: tuple[int, int]) -> Page:
    """The OGC job list, one page (`paging` is (page, limit)): jobs the user may see with any of the
    filters' statuses and process ids; `type`s other than "process" match nothing (every job here is a
    process job)."""
    stmt = jobs_query(user, status=[s.value for s in filters.status] or None,
                      process_id=filters.processID or filters.process or None)
    if filters.type and "process" not in filters.type:
        stmt = stmt.where(False)
    return paginate(stmt, *paging)


def job_artifact(user: User, job_id: str, name: str) -> str:
    """The path of a file the job produced (payload preview, result features), if the user may see the job."""
    return artifacts.artifact_path(get_job_for(user, job_id, reap=False), name)


def dismiss_job(user: User, job_id: str) -> Job:
    """Dismiss a job the user may see (404 otherwise), if they launched it or may run its process:
    a queued one at once, a running one when it next checks."""
    job = get_job_for(user, job_id, reap=False)
    if not may_dismiss(user, job):
        raise Forbidden(f"Only its launcher, or someone with {run_permission(job.process_id)}, may stop this job.")
    return request_kill(job_id)


def launch_echo(user: User, form) -> Job:
    """Queue the echo job (five steps over the form's `delay`, with its `message`) that checks the worker
    round trip; in the user's first project. Needs MANAGE_PIPELINES; a bad field is named."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    fields = {"message": form.get("message", ""), "delay": form.get("delay", ""), "steps": "5"}
    return enqueue_job("echo", inputs_from_form(get_process("echo"), fields), launcher=user)
