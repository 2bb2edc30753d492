"""Schedule pages: list, create, edit, pause/enable, runs."""
from __future__ import annotations

import json

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.models import Permission
from app.processes import all_processes
from app.services.platform.permissions import require_permission
from app.services.processing import schedules as svc
from app.services.platform.errors import ValidationFailed


def _form_data() -> dict:
    data = request.form.to_dict()
    try:
        data["inputs"] = json.loads(data.get("inputs") or "{}")
    except ValueError:
        raise ValidationFailed("Invalid schedule", {"inputs": ["must be a JSON object"]}) from None
    data["enabled"] = request.form.get("enabled") in ("on", "true", "1")
    return data


def _form(schedule=None, errors=None, form=None, status=200):
    if form is None and schedule is not None:
        form = {"name": schedule.name, "process_id": schedule.process_id, "frequency": schedule.frequency,
                "cron": schedule.cron, "timezone": schedule.timezone, "enabled": schedule.enabled,
                "description": schedule.description, "inputs": json.dumps(schedule.inputs, indent=2)}
    return render_template("schedules/form.html", schedule=schedule, errors=errors or {}, form=form or {},
                           processes=all_processes(), frequencies=svc.FREQUENCIES), status


@bp.get("/schedules")
@login_required
def schedules():
    return render_template("schedules/index.html", schedules=svc.list_schedules(),
                           can_edit=current_user.has_permission(Permission.MANAGE_PIPELINES))


@bp.route("/schedules/new", methods=["GET", "POST"])
@login_required
def new_schedule():
    require_permission(current_user, Permission.MANAGE_PIPELINES)
    if request.method == "GET":
        return _form(form={"timezone": "UTC", "frequency": "daily", "inputs": "{}"})
    try:
        schedule = svc.save_schedule(_form_data(), current_user)
    except ValidationFailed as exc:
        return _form(errors=exc.details, form=request.form, status=400)
    flash("Schedule saved.", "success")
    return redirect(url_for("processes.schedule", schedule_id=schedule.id))


@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@login_required
def edit_schedule(schedule_id: int):
    require_permission(current_user, Permission.MANAGE_PIPELINES)
    schedule = svc.get_schedule(schedule_id)
    if request.method == "GET":
        return _form(schedule)
    try:
        svc.save_schedule(_form_data(), current_user, schedule_id)
    except ValidationFailed as exc:
        return _form(schedule, errors=exc.details, form=request.form, status=400)
    flash("Schedule saved.", "success")
    return redirect(url_for("processes.schedule", schedule_id=schedule_id))


@bp.get("/schedules/<int:schedule_id>")
@login_required
def schedule(schedule_id: int):
    item = svc.get_schedule(schedule_id)
    return render_template("schedules/detail.html", schedule=item, runs=svc.schedule_runs(item),
                           can_edit=current_user.has_permission(Permission.MANAGE_PIPELINES))


@bp.post("/schedules/<int:schedule_id>/toggle")
@login_required
def toggle_schedule(schedule_id: int):
    require_permission(current_user, Permission.MANAGE_PIPELINES)
    item = svc.set_enabled(schedule_id, request.form.get("enabled") == "1")
    flash(f"Schedule {'enabled' if item.enabled else 'paused'}.", "info")
    return redirect(request.referrer or url_for("processes.schedules"))
