"""Home dashboard and health check."""
from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user, login_required
from sqlalchemy import func, select, text

from app.extensions import db, get_redis
from app.models import OrgUnit, Team
from app.services.platform.access import project_scope
from app.services.processing.jobs import job_counts, jobs_query

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    scope = project_scope(current_user)
    counts = {
        "org_units": db.session.scalar(select(func.count()).select_from(OrgUnit)
                                       .where(OrgUnit.project_id.in_(scope), OrgUnit.deleted_at.is_(None))),
        "teams": db.session.scalar(select(func.count()).select_from(Team)
                                   .where(Team.project_id.in_(scope), Team.deleted_at.is_(None))),
    }
    recent_jobs = db.session.execute(jobs_query(current_user).limit(5)).scalars().all()
    return render_template("main/index.html", counts=counts, job_counts=job_counts(current_user),
                           recent_jobs=recent_jobs)


@bp.get("/healthz")
def healthz():
    """Database and Redis reachability, for load balancers and operators (no data exposed);
    `?detail=1` adds outbox counts (pending, dead, oldest pending age)."""
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
    if request.args.get("detail") == "1" and checks["database"] == "ok":
        # Informational (a backlog does not make the process unhealthy): counts only, no event data.
        from app.services.orchestration.outbox_admin import outbox_counts

        try:
            counts = outbox_counts()
            body["outbox"] = {"pending": counts["by_status"]["pending"], "dead": counts["by_status"]["dead"],
                              "oldest_pending_age_seconds": counts["oldest_pending_age_seconds"]}
        except Exception:
            db.session.rollback()
    return jsonify(body), 200 if healthy else 503
