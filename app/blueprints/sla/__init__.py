"""SLA pages: per-area compliance, configs, business calendars, at-risk and breached tasks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.models import Permission
from app.services.platform.permissions import require_permission
from app.services.orchestration import sla
from app.services.orchestration import sla_reports
from app.services.orchestration import sla_configs as svc
from app.services.platform.errors import ValidationFailed

bp = Blueprint("sla", __name__, url_prefix="/sla")
PER_PAGE = 50


@bp.get("/")
@login_required
def index():
    return render_template("sla/index.html", summary=sla_reports.compliance_summary(current_user))


# --- at risk / breached ---------------------------------------------------------------------------

def _records(which: str, title: str):
    page = db.paginate(sla_reports.records_query(current_user, which), page=request.args.get("page", 1, type=int),
                       per_page=PER_PAGE, error_out=False)
    return page_or_partial("sla/records.html", "sla/_records.html", which=which, title=title, page=page,
                           rows=sla_reports.record_rows(page.items))


@bp.get("/at-risk")
@login_required
def at_risk():
    return _records("at_risk", "Tasks at risk")


@bp.get("/breached")
@login_required
def breached():
    return _records("breached", "Breached tasks")


# --- configs ----------------------------------------------------------------------------------------

@bp.get("/configs")
@login_required
def configs():
    return render_template("sla/configs.html", configs=svc.list_configs(current_user),
                           can_edit=lambda c: svc.may_edit(current_user, c),
                           can_create=current_user.has_permission(Permission.MANAGE_SLA))


def _config_data() -> dict:
    data = request.form.to_dict()
    data["pause_states"] = request.form.getlist("pause_states")
    data["enabled"] = request.form.get("enabled") in ("on", "true", "1")
    return data


def _config_form(config=None, form=None, errors=None, status=200):
    return render_template("sla/config_form.html", config=config, form=form or {}, errors=errors or {},
                           calendars=svc.list_calendars(), pausable=svc.PAUSABLE_STATES,
                           projects=current_user.projects, may_global=current_user.is_admin), status


@bp.route("/configs/new", methods=["GET", "POST"])
@login_required
def new_config():
    require_permission(current_user, Permission.MANAGE_SLA)
    if request.method == "GET":
        defaults = {"service_area": "*", "task_type": "*", "warning_percent": 80, "pause_states": ["blocked"],
                    "enabled": True, "project_id": current_user.project_ids[0] if current_user.project_ids else ""}
        return _config_form(form={**defaults, **request.args.to_dict()})
    data = _config_data()
    try:
        config = svc.save_config(current_user, data)
    except ValidationFailed as exc:
        return _config_form(form=data, errors=exc.details, status=400)
    flash(f"SLA config {config.name!r} saved.", "success")
    return redirect(url_for("sla.configs"))


@bp.route("/configs/<int:config_id>/edit", methods=["GET", "POST"])
@login_required
def edit_config(config_id: int):
    config = svc.editable_config(current_user, config_id)
    if request.method == "GET":
        return _config_form(config, form=svc.config_form(config))
    data = _config_data()
    try:
        svc.save_config(current_user, data, config_id)
    except ValidationFailed as exc:
        return _config_form(config, form=data, errors=exc.details, status=400)
    flash(f"SLA config {config.name!r} saved.", "success")
    return redirect(url_for("sla.configs"))


# --- calendars --------------------------------------------------------------------------------------

@bp.get("/calendars")
@login_required
def calendars():
    return render_template("sla/calendars.html", calendars=svc.list_calendars(), weekdays=svc.WEEKDAYS,
                           default_name=sla.DEFAULT_CALENDAR_NAME,
                           can_edit=current_user.has_permission(Permission.MANAGE_SLA))


def _calendar_data() -> dict:
    data = request.form.to_dict()
    data["workdays"] = request.form.getlist("workdays")
    return data


def _calendar_form(calendar=None, form=None, errors=None, status=200):
    return render_template("sla/calendar_form.html", calendar=calendar, form=form or {}, errors=errors or {},
                           weekdays=svc.WEEKDAYS), status


@bp.route("/calendars/new", methods=["GET", "POST"])
@login_required
def new_calendar():
    require_permission(current_user, Permission.MANAGE_SLA)
    if request.method == "GET":
        return _calendar_form(form={"timezone": "UTC", "work_start": "08:00", "work_end": "17:00",
                                    "workdays": [0, 1, 2, 3, 4]})
    data = _calendar_data()
    try:
        calendar = svc.save_calendar(current_user, data)
    except ValidationFailed as exc:
        return _calendar_form(form=data, errors=exc.details, status=400)
    flash(f"Calendar {calendar.name!r} saved.", "success")
    return redirect(url_for("sla.calendars"))


@bp.route("/calendars/<int:calendar_id>/edit", methods=["GET", "POST"])
@login_required
def edit_calendar(calendar_id: int):
    require_permission(current_user, Permission.MANAGE_SLA)
    calendar = svc.get_calendar(calendar_id)
    if request.method == "GET":
        return _calendar_form(calendar, form=svc.calendar_form(calendar))
    data = _calendar_data()
    try:
        svc.save_calendar(current_user, data, calendar_id)
    except ValidationFailed as exc:
        return _calendar_form(calendar, form=data, errors=exc.details, status=400)
    flash(f"Calendar {calendar.name!r} saved.", "success")
    return redirect(url_for("sla.calendars"))
