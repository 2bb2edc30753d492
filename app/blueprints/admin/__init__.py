"""The RQ dashboard at /admin/rq, for admins only."""
from flask import Flask, abort, current_app
from flask_login import current_user

from app.extensions import csrf, login_manager, redis_url


def register_rq_dashboard(app: Flask) -> None:
    import rq_dashboard

    bp = rq_dashboard.blueprint
    # Its own JavaScript posts without our token; SameSite=Lax session cookies and the
    # admin-only check below guard those actions instead.
    csrf.exempt(bp)
    app.config.setdefault("RQ_DASHBOARD_POLL_INTERVAL", 2500)
    app.register_blueprint(bp, url_prefix="/admin/rq")
    # Our guard must run before the dashboard's own hooks (which expect a Redis connection).
    app.before_request_funcs.setdefault(bp.name, []).insert(0, _admins_only)


def _admins_only():
    import rq_dashboard

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_admin:
        abort(403)
    if not getattr(current_app, "redis_conn", None):
        current_app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url()
        rq_dashboard.web.setup_rq_connection(current_app)
