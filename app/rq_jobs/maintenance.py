"""Periodic housekeeping run by the RQ cron scheduler (see app/rq_jobs/cron_config.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.processing.jobs import reap_stale_jobs
from app.services.processing.steps import sweep_checkpoints
from app.rq_jobs import job_app


def reap_jobs() -> int:
    """Fail jobs whose worker died; returns how many."""
    with job_app().app_context():
        try:
            return reap_stale_jobs()
        finally:
            db.session.remove()


def sweep_job_checkpoints() -> int:
    """Remove step checkpoints no retry will read (CHECKPOINT_RETENTION_DAYS); returns how many."""
    with job_app().app_context():
        try:
            return sweep_checkpoints()
        finally:
            db.session.remove()
