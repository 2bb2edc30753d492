"""Automation pages: rules, alerts, webhook endpoints and their delivery log."""
from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("automation", __name__, url_prefix="/automation")


@bp.get("/rules")
@login_required
def rules():
    return render_template("automation/rules.html")


@bp.get("/alerts")
@login_required
def alerts():
    return render_template("automation/alerts.html")


@bp.get("/webhooks")
@login_required
def webhooks():
    return render_template("automation/webhooks.html")
