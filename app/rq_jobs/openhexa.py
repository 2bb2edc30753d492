"""RQ entry points for OpenHEXA runs: launch once, then one short job per poll."""
from __future__ import annotations

from app.extensions import db
from app.services.planning import openhexa
from app.rq_jobs import job_app


def start_run(job_id: str) -> None:
    with job_app().app_context():
        try:
            openhexa.start_run(job_id)
        finally:
            db.session.remove()


def poll_run(job_id: str) -> str | None:
    with job_app().app_context():
        try:
            return openhexa.poll_run(job_id)
        finally:
            db.session.remove()
