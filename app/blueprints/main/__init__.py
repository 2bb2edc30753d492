"""Home dashboard and health check."""
from flask import Blueprint, jsonify, render_template, request
from flask_login import current_user, login_required

from app.services.orchestration.health import health_report
from app.services.orchestration.my_work import my_work
from app.services.planning.home_page import home_page

bp = Blueprint("main", __name__)


@bp.get("/")
@login_required
def index():
    return render_template("main/index.html", **vars(home_page(current_user)))


@bp.get("/home/my-work")
@login_required
def my_work_panel():
    """The home page's tasks, breaches and (admins) health: loaded after the page."""
    return render_template("main/_my_work.html", work=my_work(current_user))


@bp.get("/healthz")
def healthz():
    """Database and Redis reachability, for load balancers and operators (no data exposed);
    `?detail=1` adds outbox counts (pending, dead, oldest pending age)."""
    health = health_report(with_outbox=request.args.get("detail") == "1")
    return jsonify(health.body), 200 if health.healthy else 503
