"""RQ cron entry point: start the runs of schedules that are due (every minute)."""
from __future__ import annotations

from app.extensions import db
from app.services.processing.schedules import dispatch_due_schedules
from app.rq_jobs import job_app


def dispatch_schedules() -> int:
    with job_app().app_context():
        try:
            return len(dispatch_due_schedules())
        finally:
            db.session.remove()
