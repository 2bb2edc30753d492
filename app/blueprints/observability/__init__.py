"""Observability: /metrics (Prometheus text format) and the outbox admin page (dead events, replay)."""
from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import page_query
from app.blueprints.rendering import is_partial_request, page_or_partial
from app.schemas.outbox import OutboxFilters
from app.services.orchestration import outbox_admin as svc
from app.services.orchestration.metrics_exposition import CONTENT_TYPE, scrape

bp = Blueprint("observability", __name__)


@bp.get("/metrics")
def metrics():
    """For the METRICS_TOKEN Bearer token or a session user with VIEW_STATS (checked by `scrape`)."""
    response = make_response(scrape(current_user, request.headers.get("Authorization", "")))
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the outbox (administrators: the outbox services refuse anyone else) ------------------------

@bp.get("/admin/outbox")
@login_required
def outbox():
    listing = svc.outbox_page(current_user, page_query(OutboxFilters))
    return page_or_partial("observability/outbox.html", "observability/_events.html", **vars(listing))


@bp.get("/admin/outbox/events/<event_id>")
@login_required
def event(event_id: str):
    item, cause, caused = svc.get_event(current_user, event_id)
    return render_template("observability/event.html", event=item, cause=cause, caused=caused)


def _replayed(message: str, next_url: str):
    """HTMX: a toast, and an `outbox-changed` event the list reloads on; else flash and redirect."""
    if is_partial_request():
        response = make_response(render_template("_toast.html", level="success", message=message, details={}))
        response.headers.update({"HX-Retarget": "#toasts", "HX-Reswap": "beforeend",
                                 "HX-Trigger": "outbox-changed"})
        return response
    flash(message, "success")
    return redirect(next_url)


@bp.post("/admin/outbox/events/<event_id>/replay")
@login_required
def replay(event_id: str):
    svc.replay_events(current_user, [event_id])
    back = url_for(".event", event_id=event_id) if request.form.get("next") == "detail" else url_for(".outbox")
    return _replayed(f"Event {event_id} is pending again; the relay will pick it up.", back)


@bp.post("/admin/outbox/replay-dead")
@login_required
def replay_dead():
    replayed = svc.replay_events(current_user, None)
    return _replayed(f"{replayed} dead event{'s' if replayed != 1 else ''} pending again.", url_for(".outbox"))
