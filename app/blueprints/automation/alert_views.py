"""Alerts page: newest first, filtered by level and open/all, acknowledged in place (HTMX)."""
from __future__ import annotations

from flask import flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.automation.blueprint import bp, partial
from app.blueprints.inputs import page_query
from app.blueprints.rendering import is_partial_request, page_or_partial
from app.schemas.automation import AlertFilters
from app.services.orchestration import alerts as svc


@bp.get("/alerts")
@login_required
def alerts():
    listing = svc.alerts_page(current_user, page_query(AlertFilters))
    return page_or_partial("automation/alerts.html", "automation/_alerts.html", **vars(listing))


@bp.post("/alerts/<int:alert_id>/ack")
@login_required
def alert_ack(alert_id: int):
    alert = svc.acknowledge(current_user, alert_id)
    if is_partial_request():
        return partial("automation/_alert_row.html", alert=alert)
    flash("Alert acknowledged.", "success")
    return redirect(request.referrer or url_for("automation.alerts"))
