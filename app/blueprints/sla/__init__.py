"""SLA pages: per-area compliance, configs, business calendars, at-risk and breached tasks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.common import PageFilters
from app.schemas.sla import CalendarIn, SlaConfigIn
from app.services.orchestration import sla_pages as pages
from app.services.orchestration import sla_reports

bp = Blueprint("sla", __name__, url_prefix="/sla")


@bp.get("/")
@login_required
def index():
    return render_template("sla/index.html", summary=sla_reports.compliance_summary(current_user))


# --- at risk / breached ---------------------------------------------------------------------------

def _records(which: str, title: str):
    listing = pages.records_page(current_user, which, page_query(PageFilters).page)
    return page_or_partial("sla/records.html", "sla/_records.html", which=which, title=title, **vars(listing))


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
    return render_template("sla/configs.html", **vars(pages.configs_page(current_user)))


def _config_form(form: pages.ConfigForm, status: int = 200):
    return render_template("sla/config_form.html", **vars(form)), status


@bp.route("/configs/new", methods=["GET", "POST"])
@login_required
def new_config():
    if request.method == "GET":
        return _config_form(pages.config_form(current_user, initial=request.args.to_dict()))
    saved = pages.save_config_form(current_user, form_data(SlaConfigIn))
    if saved.form is not None:
        return _config_form(saved.form, 400)
    flash(f"SLA config {saved.config.name!r} saved.", "success")
    return redirect(url_for("sla.configs"))


@bp.route("/configs/<int:config_id>/edit", methods=["GET", "POST"])
@login_required
def edit_config(config_id: int):
    if request.method == "GET":
        return _config_form(pages.config_form(current_user, config_id))
    saved = pages.save_config_form(current_user, form_data(SlaConfigIn), config_id)
    if saved.form is not None:
        return _config_form(saved.form, 400)
    flash(f"SLA config {saved.config.name!r} saved.", "success")
    return redirect(url_for("sla.configs"))


# --- calendars --------------------------------------------------------------------------------------

@bp.get("/calendars")
@login_required
def calendars():
    return render_template("sla/calendars.html", **vars(pages.calendars_page(current_user)))


def _calendar_form(form: pages.CalendarForm, status: int = 200):
    return render_template("sla/calendar_form.html", **vars(form)), status


@bp.route("/calendars/new", methods=["GET", "POST"])
@login_required
def new_calendar():
    if request.method == "GET":
        return _calendar_form(pages.calendar_form(current_user))
    saved = pages.save_calendar_form(current_user, form_data(CalendarIn))
    if saved.form is not None:
        return _calendar_form(saved.form, 400)
    flash(f"Calendar {saved.calendar.name!r} saved.", "success")
    return redirect(url_for("sla.calendars"))


@bp.route("/calendars/<int:calendar_id>/edit", methods=["GET", "POST"])
@login_required
def edit_calendar(calendar_id: int):
    if request.method == "GET":
        return _calendar_form(pages.calendar_form(current_user, calendar_id))
    saved = pages.save_calendar_form(current_user, form_data(CalendarIn), calendar_id)
    if saved.form is not None:
        return _calendar_form(saved.form, 400)
    flash(f"Calendar {saved.calendar.name!r} saved.", "success")
    return redirect(url_for("sla.calendars"))
