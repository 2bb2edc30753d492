"""The RQ dashboard at /admin/rq, for the platform operator only (it shows every project's queue),
with a way back to Fieldflow on each of its pages."""
import re

from flask import Flask, Response, abort, current_app, render_template
from flask_login import current_user

from app.extensions import csrf, login_manager, redis_url

_BODY = re.compile(r"<body[^>]*>", re.IGNORECASE)


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
    # On the app, not the blueprint: the blueprint is one module-level object shared by every app
    # made in a process, and it refuses new hooks once registered.
    app.after_request_funcs.setdefault(bp.name, []).append(_back_to_fieldflow)
    # Its job page leaves out a name its navbar reads; our Jinja is strict about undefined names.
    app.template_context_processors.setdefault(bp.name, []).append(lambda: {"active_tab": None})


def _operator_only():
    import rq_dashboard

    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.is_platform_operator:
        abort(403)
    # Its hooks read the URL from the config on every request (a restored config loses it).
    if not current_app.config.get("RQ_DASHBOARD_REDIS_URL") or not getattr(current_app, "redis_conn", None):
        current_app.config["RQ_DASHBOARD_REDIS_URL"] = redis_url()
        rq_dashboard.web.setup_rq_connection(current_app)


def _back_to_fieldflow(response: Response) -> Response:
    """The dashboard's pages are its own templates, with no block to extend: our link goes in right
    after their `<body>` tag (its JSON and static files pass untouched)."""
    if response.mimetype != "text/html" or response.status_code != 200 or response.direct_passthrough:
        return response
    page = response.get_data(as_text=True)
    link = render_template("admin/_rq_back_link.html")
    response.set_data(_BODY.sub(lambda body: body.group(0) + link, page, count=1))
    return response
