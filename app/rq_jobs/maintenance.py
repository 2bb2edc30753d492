"""Periodic housekeeping run by the RQ cron scheduler (see app/rq_jobs/cron_config.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.processing.jobs import reap_stale_jobs
from app.rq_jobs import job_app


def reap_jobs() -> int:
    """Fail jobs whose worker died; returns how many."""
    with job_app().app_context():
        try:
            return reap_stale_jobs()
        finally:
            db.session.remove()
