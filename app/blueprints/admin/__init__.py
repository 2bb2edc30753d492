"""The RQ dashboard at /admin/rq, for the platform operator only (it shows every project's queue)."""
from flask import Flask, abort, current_app
from flask_login import current_user

from app.extensions import csrf, login_manager, redis_url


def register_rq_dashboard(app: Flask) -> None:
    import rq_dashboard

    bp = rq_dashboard.blueprint
    # Its own JavaScript posts without our token; SameSite=Lax session cookies and the
    # operator-only check below guard those actions instead.
    csrf.exempt(bp)
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    app.register_blueprint(bp, url_prefix="/admin/rq")
    # Our guard must run before the dashboard's own hooks (which expect a Redis connection).
    app.before_request_funcs.setdefault(bp.name, []).insert(0, _operator_only)


def _operator_only():
    import rq_dashboard

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_platform_operator:
        abort(403)
    if not getattr(current_app, "redis_conn", None):
        current_app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url()
        rq_dashboard.web.setup_rq_connection(current_app)
