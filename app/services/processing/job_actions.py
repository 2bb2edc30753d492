"""Doing a job again: re-run a failed job with its inputs, or retry it from its failed step.

Both make a new job (the failed one stays as it ended, for the record) in the same project, with
the same inputs and schedule link, launched by the user — who must be allowed to launch the process
there now (`authorize_launch`, as for a new job). A retry reuses the outputs the failed run's earlier
steps stored (processes run with checkpoints: `Process.retry_from_step`).
"""
from __future__ import annotations

import uuid

from app.models import Job, User
from app.services.platform.errors import Conflict, ValidationFailed
from app.services.processing import job_status as st
from app.services.processing.job_access import get_job_for
from app.services.processing.jobs import enqueue_job
from app.services.processing.registry import get_process
from app.services.processing.steps import FAILED, has_checkpoint, plan_resume


def _failed_job(user: User, job_id: str) -> Job:
    job = get_job_for(user, job_id)
    if job.status != st.FAILED:
        raise Conflict(f"Job {job.id} is {job.status}: only a failed job is run again", {"status": job.status})
    return job


def rerun_job(user: User, job_id: str) -> Job:
    """A new job with the failed job's inputs, from the first step."""
    job = _failed_job(user, job_id)
    return enqueue_job(job.process_id, dict(job.inputs or {}), launcher=user, project_id=job.project_id,
                       external_ref=job.external_ref)


def retry_step(job: Job) -> str | None:
    """The step a retry of this failed job would start from (None when it cannot be retried so)."""
    try:
        process = get_process(job.process_id)
    except Exception:  # noqa: BLE001 — a process no longer registered cannot be retried
        return None
    if job.status != st.FAILED or not process.retry_from_step:
        return None
    names = [s.get("name") for s in job.steps or []]
    failed = next((s.get("name") for s in job.steps or [] if s.get("status") == FAILED), None)
    if failed is None or not all(has_checkpoint(job.id, name) for name in names[:names.index(failed)]):
        return None
    return failed


def retry_job(user: User, job_id: str) -> Job:
    """A new job that starts at the failed job's failed step, reusing its earlier steps' outputs."""
    job = _failed_job(user, job_id)
    step = retry_step(job)
    if step is None:
        raise ValidationFailed(f"Job {job.id} cannot be retried from a step: re-run it instead",
                               {"jobID": ["has no failed step with the outputs of the steps before it"]})
    new_id = str(uuid.uuid4())
    plan_resume(new_id, job.id, step)
    return enqueue_job(job.process_id, dict(job.inputs or {}), launcher=user, project_id=job.project_id,
                       job_id=new_id, external_ref=job.external_ref)
