"""Periodic housekeeping run by the RQ cron scheduler (see app/tasks/cron_config.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.jobs import reap_stale_jobs
from app.tasks import job_app


def reap_jobs() -> int:
    """Fail jobs whose worker died; returns how many."""
    with job_app().app_context():
        try:
            return reap_stale_jobs()
        finally:
            db.session.remove()
