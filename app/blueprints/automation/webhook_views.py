"""Webhook pages: endpoints (the signing secret is shown once, on creation), the delivery log,
a delivery's attempts, and redelivery (admins)."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.automation.blueprint import bp
from app.blueprints.inputs import form_data, page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.automation import DeliveryFilters, EndpointIn, Toggle
from app.services.orchestration import webhook_pages as pages
from app.services.orchestration import webhooks as svc


def _form(form: pages.EndpointForm, status: int = 200):
    return render_template("automation/webhook_form.html", **vars(form)), status


@bp.get("/webhooks")
@login_required
def webhooks():
    listing = pages.webhooks_page(current_user, page_query(DeliveryFilters))
    return page_or_partial("automation/webhooks.html", "automation/_deliveries.html", **vars(listing))


@bp.get("/webhooks/events")
@login_required
def webhook_events():
    return render_template("automation/webhook_events.html", **vars(pages.events_page(current_user)))


@bp.route("/webhooks/new", methods=["GET", "POST"])
@login_required
def webhook_new():
    if request.method == "GET":
        return _form(pages.endpoint_form(current_user))
    created = pages.create_endpoint_form(current_user, form_data(EndpointIn))
    if created.form is not None:
        return _form(created.form, 400)
    # The secret is in this response only: never stored in the session, never cached.
    response = make_response(render_template("automation/webhook_created.html", endpoint=created.endpoint,
                                             secret=created.secret), 201)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/webhooks/<int:endpoint_id>/edit", methods=["GET", "POST"])
@login_required
def webhook_edit(endpoint_id: int):
    if request.method == "GET":
        return _form(pages.endpoint_form(current_user, endpoint_id))
    rejected = pages.save_endpoint_form(current_user, form_data(EndpointIn), endpoint_id)
    if rejected is not None:
        return _form(rejected, 400)
    flash("Webhook endpoint saved.", "success")
    return redirect(url_for("automation.webhooks"))


@bp.post("/webhooks/<int:endpoint_id>/toggle")
@login_required
def webhook_toggle(endpoint_id: int):
    endpoint = pages.toggle_endpoint(current_user, endpoint_id, form_data(Toggle))
    flash(f"Webhook “{endpoint.name}” {'enabled' if endpoint.enabled else 'disabled'}.", "info")
    return redirect(url_for("automation.webhooks"))


@bp.get("/webhooks/deliveries/<delivery_id>")
@login_required
def webhook_delivery(delivery_id: str):
    return render_template("automation/delivery.html", **vars(pages.delivery_page(current_user, delivery_id)))


@bp.post("/webhooks/deliveries/<delivery_id>/redeliver")
@login_required
def webhook_redeliver(delivery_id: str):
    svc.redeliver(current_user, delivery_id)
    flash("Delivery queued again.", "success")
    return redirect(url_for("automation.webhook_delivery", delivery_id=delivery_id))
