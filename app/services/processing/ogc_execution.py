"""OGC API – Processes execution (`POST /processes/{id}/execution`): check the caller, and run the job
of the execute request — queued (async), or in this request when the caller prefers sync and the
process allows it (or allows only sync)."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import Job, Permission, User
from app.schemas.ogc import ExecuteRequest
from app.services.platform.permissions import require_permission
from app.services.processing import job_status as st
from app.services.processing.errors import JobFailed
from app.services.processing.jobs import enqueue_job, run_job_now
from app.services.processing.registry import get_process


@dataclass
class Execution:
    """The job, and whether it ran in the request (its results are the answer) or was queued."""

    job: Job
    sync: bool


def execute(user: User, process_id: str, request: ExecuteRequest, prefer_sync: bool) -> Execution:
    """Run `process_id` with the execute request's inputs (read by the job engine with the process's
    model). Unknown process → NoSuchProcess; needs MANAGE_PIPELINES, and the inputs may name only rows
    the user may act on; bad inputs start nothing. A sync run that does not succeed raises JobFailed."""
    process = get_process(process_id)
    require_permission(user, Permission.MANAGE_PIPELINES)
    options = process.job_control_options
    wants_sync = prefer_sync or request.mode == "sync"
    sync = "sync-execute" in options and (wants_sync or "async-execute" not in options)
    if not sync:
        return Execution(enqueue_job(process.id, request.inputs, launcher=user), sync=False)
    job = run_job_now(process.id, request.inputs, launcher=user)
    if job.status != st.SUCCESSFUL:
        raise JobFailed(f"The job ended {job.status}: {job.message}", {"jobID": job.id})
    return Execution(job, sync=True)
