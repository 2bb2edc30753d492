"""The job engine's errors: one class per thing that can be missing (the OGC API names each one:
`no-such-process`, `no-such-job`, `result-not-ready`), and a synchronous run that failed."""
from __future__ import annotations

from app.services.platform.errors import DomainError, NotFound


class NoSuchProcess(NotFound):
    """No process is registered under this id."""


class NoSuchJob(NotFound):
    """No job with this id, or none the caller may see."""


class ResultNotReady(NotFound):
    """Results asked for a job that has not (or not successfully) finished."""


class JobFailed(DomainError):
    """A job run synchronously (OGC sync-execute) did not end successfully."""

    status = 500
    code = "job_failed"
    title = "Process failed"
