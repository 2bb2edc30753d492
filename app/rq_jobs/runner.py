"""The one RQ entry point for every process: run the job whose row has this id."""
from __future__ import annotations

from app.extensions import db
from app.services.processing.jobs import execute_job
from app.rq_jobs import job_app


def run_job(job_id: str) -> str | None:
    with job_app().app_context():
        try:
            return execute_job(job_id)
        finally:
            db.session.remove()
