"""The job engine's errors, one class per thing that can be missing (the OGC API names each one:
`no-such-process`, `no-such-job`, `result-not-ready`)."""
from __future__ import annotations

from app.services.platform.errors import NotFound


class NoSuchProcess(NotFound):
    """No process is registered under this id."""


class NoSuchJob(NotFound):
    """No job with this id, or none the caller may see."""


class ResultNotReady(NotFound):
    """Results asked for a job that has not (or not successfully) finished."""
