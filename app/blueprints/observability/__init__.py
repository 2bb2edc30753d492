"""Observability: /metrics (Prometheus text format) and the outbox admin page (dead events, replay)."""
from __future__ import annotations

import hmac
from functools import wraps

from flask import Blueprint, current_app, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.rendering import is_partial_request, page_or_partial
from app.services.orchestration import outbox_admin as svc
from app.services.platform.errors import Forbidden
from app.services.orchestration.metrics_exposition import CONTENT_TYPE, render_metrics
from app.services.platform.permissions import Unauthorized

bp = Blueprint("observability", __name__)


def _check_metrics_reader() -> None:
    """The METRICS_TOKEN Bearer token, or a session user with VIEW_STATS; otherwise Unauthorized or
    Forbidden (answered in plain text: Prometheus shows the body as the scrape error)."""
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if token and header.startswith("Bearer "):
        if hmac.compare_digest(header[len("Bearer "):].strip().encode(), token.encode()):
            return
        raise Unauthorized("Invalid metrics token.")
    if current_user.is_authenticated:
        if current_user.has_permission("VIEW_STATS"):
            return
        raise Forbidden("You need the VIEW_STATS permission to read metrics.")
    if not token:
        raise Unauthorized("Metrics need authentication: set METRICS_TOKEN on the server and send it as "
                           "'Authorization: Bearer <token>', or log in as a user with VIEW_STATS.")
    raise Unauthorized("Send the metrics token as 'Authorization: Bearer <token>', "
                       "or log in as a user with VIEW_STATS.")


@bp.get("/metrics")
def metrics():
    _check_metrics_reader()
    response = make_response(render_metrics())
    response.headers["Content-Type"] = CONTENT_TYPE
    response.headers["Cache-Control"] = "no-store"
    return response


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            raise Forbidden("Only administrators may operate the outbox.")
        return view(*args, **kwargs)

    return wrapper


def _filters() -> dict:
    status = request.values.get("status", "dead")
    return {"status": status if status in svc.STATUSES else "all",
            "event_type": request.values.get("event_type") or None,
            "correlation_id": request.values.get("correlation_id") or None}


@bp.get("/admin/outbox")
@admin_required
def outbox():
    filters = _filters()
    page = svc.events_page(current_user, filters["status"], filters["event_type"], filters["correlation_id"],
                           page=request.args.get("page", 1, type=int))
    return page_or_partial("observability/outbox.html", "observability/_events.html", page=page,
                           counts=svc.outbox_counts(), event_types=svc.event_types(), statuses=svc.STATUSES,
                           filters=filters)


@bp.get("/admin/outbox/events/<event_id>")
@admin_required
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
@admin_required
def replay(event_id: str):
    svc.replay_events(current_user, [event_id])
    back = url_for(".event", event_id=event_id) if request.form.get("next") == "detail" else url_for(".outbox")
    return _replayed(f"Event {event_id} is pending again; the relay will pick it up.", back)


@bp.post("/admin/outbox/replay-dead")
@admin_required
def replay_dead():
    replayed = svc.replay_events(current_user, None)
    return _replayed(f"{replayed} dead event{'s' if replayed != 1 else ''} pending again.", url_for(".outbox"))
