"""Webhook pages: endpoints (the signing secret is shown once, on creation), the delivery log,
a delivery's attempts, and redelivery (admins)."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.automation.blueprint import bp
from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.models import Permission
from app.services.platform.permissions import require_permission
from app.services.orchestration import webhooks as svc
from app.services.orchestration.event_catalogue import EVENT_TYPES
from app.services.platform.errors import Forbidden, ValidationFailed


def _endpoint_data() -> dict:
    return {"name": request.form.get("name", ""), "url": request.form.get("url", ""),
            "event_types": request.form.getlist("event_types"), "project_id": request.form.get("project_id", ""),
            "enabled": request.form.get("enabled") in ("on", "1", "true")}


def _form(endpoint=None, form=None, errors=None, status=200):
    if form is None:
        form = {"name": endpoint.name, "url": endpoint.url, "event_types": endpoint.event_types or [],
                "project_id": endpoint.project_id or "", "enabled": endpoint.enabled} if endpoint else \
            {"name": "", "url": "", "event_types": [], "project_id": "", "enabled": True}
    return render_template("automation/webhook_form.html", endpoint=endpoint, form=form, errors=errors or {},
                           event_types=EVENT_TYPES, projects=current_user.projects,
                           allow_global=current_user.is_admin), status


@bp.get("/webhooks")
@login_required
def webhooks():
    status = request.args.get("status") if request.args.get("status") in svc.STATUSES else None
    endpoint_id = request.args.get("endpoint", type=int)
    page = db.paginate(svc.deliveries_query(current_user, status, endpoint_id), per_page=25, error_out=False)
    return page_or_partial("automation/webhooks.html", "automation/_deliveries.html", page=page, status=status,
                           endpoint_id=endpoint_id, statuses=svc.STATUSES,
                           endpoints=svc.list_endpoints(current_user), can_edit=svc.can_edit_endpoint,
                           can_create=current_user.has_permission(Permission.MANAGE_WORKFLOWS))


@bp.route("/webhooks/new", methods=["GET", "POST"])
@login_required
def webhook_new():
    require_permission(current_user, Permission.MANAGE_WORKFLOWS)
    if request.method == "GET":
        return _form()
    data = _endpoint_data()
    try:
        endpoint, secret = svc.create_endpoint(current_user, data)
    except ValidationFailed as exc:
        return _form(form=data, errors=exc.details, status=400)
    # The secret is in this response only: never stored in the session, never cached.
    response = make_response(render_template("automation/webhook_created.html", endpoint=endpoint, secret=secret), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/webhooks/<int:endpoint_id>/edit", methods=["GET", "POST"])
@login_required
def webhook_edit(endpoint_id: int):
    endpoint = svc.get_endpoint(current_user, endpoint_id)
    if not svc.can_edit_endpoint(current_user, endpoint):
        raise Forbidden("Changing webhooks needs MANAGE_WORKFLOWS, and only an admin can change a global one.")
    if request.method == "GET":
        return _form(endpoint)
    data = _endpoint_data()
    try:
        svc.update_endpoint(current_user, endpoint_id, data)
    except ValidationFailed as exc:
        return _form(endpoint, data, exc.details, 400)
    flash("Webhook endpoint saved.", "success")
    return redirect(url_for("automation.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/toggle")
@login_required
def webhook_toggle(endpoint_id: int):
    endpoint = svc.set_endpoint_enabled(current_user, endpoint_id, request.form.get("enabled") == "1")
    flash(f"Webhook “{endpoint.name}” {'enabled' if endpoint.enabled else 'disabled'}.", "info")
    return redirect(url_for("automation.webhooks"))


@bp.get("/webhooks/deliveries/<delivery_id>")
@login_required
def webhook_delivery(delivery_id: str):
    delivery = svc.get_delivery(current_user, delivery_id)
    return render_template("automation/delivery.html", delivery=delivery, attempts=svc.delivery_attempts(delivery))


@bp.post("/webhooks/deliveries/<delivery_id>/redeliver")
@login_required
def webhook_redeliver(delivery_id: str):
    svc.redeliver(current_user, delivery_id)
    flash("Delivery queued again.", "success")
    return redirect(url_for("automation.webhook_delivery", delivery_id=delivery_id))
