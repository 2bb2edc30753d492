"""RQ cron entry point: the SLA warning/breach scan (every minute, see app/rq_jobs/cron_config.py)."""
from __future__ import annotations

from app.extensions import db
from app.services.orchestration.sla_scan import scan_sla_breaches
from app.rq_jobs import job_app


def scan_sla_breaches_job() -> dict:
    """Run one scan; returns {"warned": n, "breached": n}. Safe to overlap: the UPDATEs are idempotent."""
    with job_app().app_context():
        try:
            return scan_sla_breaches()
        finally:
            db.session.remove()
