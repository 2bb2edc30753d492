"""Observability: /metrics (Prometheus text format) and the outbox admin page (dead events, replay)."""
from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("observability", __name__)


@bp.get("/admin/outbox")
@login_required
def outbox():
    return render_template("observability/outbox.html")
