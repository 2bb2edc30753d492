"""Files a job produces (payload previews, GeoJSON results), under instance/artifacts/<job id>/,
downloadable by whoever may see the job."""
from __future__ import annotations

import os
import re

from flask import current_app

from app.models import Job
from app.services.platform.errors import NotFound

ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,120}$")


def artifacts_dir(job_id: str) -> str:
    """Folder for a job's downloadable files (instance/artifacts/<job id>), created on demand."""
    path = os.path.join(current_app.instance_path, "artifacts", job_id)
    os.makedirs(path, exist_ok=True)
    return path


def artifact_url(job_id: str, name: str) -> str:
    return f"/jobs/{job_id}/artifacts/{name}"


def list_artifacts(job: Job) -> list[str]:
    path = os.path.join(current_app.instance_path, "artifacts", job.id)
    return sorted(n for n in os.listdir(path) if ARTIFACT_NAME.match(n) and not n.endswith(".tmp")) \
        if os.path.isdir(path) else []


def artifact_path(job: Job, name: str) -> str:
    """The file of one artifact of a job the caller may see (NotFound for anything else)."""
    if name not in list_artifacts(job):
        raise NotFound(f"Job {job.id} has no artifact '{name}'", {"jobID": job.id})
    return os.path.join(current_app.instance_path, "artifacts", job.id, name)
