"""The health check (/healthz): database and Redis reachability, and on request the outbox backlog.
No data is exposed, only states and counts."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from app.extensions import db, get_redis
from app.services.orchestration.outbox_admin import outbox_counts


@dataclass
class Health:
    healthy: bool
    body: dict  # {"status", "checks", "outbox"?}


def health_report(with_outbox: bool = False) -> Health:
    """Is the database reachable, is Redis; `with_outbox` adds outbox counts (pending, dead, age of the
    oldest pending) while the database answers. A backlog is informational: it does not make the
    process unhealthy."""
    checks = {}
    try:
        db.session.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception:
        db.session.rollback()
        checks["database"] = "unreachable"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception:
        checks["redis"] = "unreachable"
    healthy = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if healthy else "degraded", "checks": checks}
    if with_outbox and checks["database"] == "ok":
        try:
            counts = outbox_counts()
            body["outbox"] = {"pending": counts["by_status"]["pending"], "dead": counts["by_status"]["dead"],
                              "oldest_pending_age_seconds": counts["oldest_pending_age_seconds"]}
        except Exception:
            db.session.rollback()
    return Health(healthy, body)
