"""OGC API – Processes execution (`POST /processes/{id}/execution`): check the caller, read the execute
request, and run the job — queued (async), or in this request when the caller prefers sync and the
process allows it (or allows only sync)."""
from __future__ import annotations

from dataclasses import dataclass

from app.models import Job, Permission, User
from app.services.platform.errors import ValidationFailed, json_object
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


def _unwrap(value):
    """OGC qualified input values ({"value": v, "mediaType"?: …}) become plain values."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "mediaType", "encoding", "schema"}:
        return value["value"]
    return value


def execute(user: User, process_id: str, body, prefer_sync: bool) -> Execution:
    """Run `process_id` with the execute request `body` (decoded JSON: `{"inputs": {…}, "mode"?}`).
    Unknown process → NoSuchProcess; needs MANAGE_PIPELINES, and the inputs may name only rows the
    user may act on (the job engine checks them); bad inputs start nothing. A sync run that does not
    succeed raises JobFailed."""
    process = get_process(process_id)
    require_permission(user, Permission.MANAGE_PIPELINES)
    body = json_object(body)
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ValidationFailed("inputs must be an object", {"inputs": ["must be an object"]})
    inputs = {name: _unwrap(value) for name, value in inputs.items()}
    options = process.job_control_options
    wants_sync = prefer_sync or body.get("mode") == "sync"
    sync = "sync-execute" in options and (wants_sync or "async-execute" not in options)
    if not sync:
        return Execution(enqueue_job(process.id, inputs, launcher=user), sync=False)
    job = run_job_now(process.id, inputs, launcher=user)
    if job.status != st.SUCCESSFUL:
        raise JobFailed(f"The job ended {job.status}: {job.message}", {"jobID": job.id})
    return Execution(job, sync=True)
