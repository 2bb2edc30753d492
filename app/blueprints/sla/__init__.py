"""SLA pages: configs, at-risk and breached tasks, per-area compliance."""
from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("sla", __name__, url_prefix="/sla")


@bp.get("/")
@login_required
def index():
    return render_template("sla/index.html")
