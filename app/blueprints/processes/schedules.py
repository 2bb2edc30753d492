"""Schedule pages: list, create, edit, pause/enable, runs."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.services.processing import schedule_pages as pages


def _form_data() -> dict:
    data = request.form.to_dict()
    data["enabled"] = request.form.get("enabled") in ("on", "true", "1")
    return data


def _form(form: pages.ScheduleForm, status: int = 200):
    return render_template("schedules/form.html", **vars(form)), status


@bp.get("/schedules")
@login_required
def schedules():
    return render_template("schedules/index.html", **vars(pages.schedules_page(current_user)))


@bp.route("/schedules/new", methods=["GET", "POST"])
@login_required
def new_schedule():
    if request.method == "GET":
        return _form(pages.schedule_form(current_user))
    saved = pages.save_schedule_form(current_user, _form_data())
    if saved.form is not None:
        return _form(saved.form, 400)
    flash("Schedule saved.", "success")
    return redirect(url_for("processes.schedule", schedule_id=saved.schedule.id))


@bp.route("/schedules/<int:schedule_id>/edit", methods=["GET", "POST"])
@login_required
def edit_schedule(schedule_id: int):
    if request.method == "GET":
        return _form(pages.schedule_form(current_user, schedule_id))
    saved = pages.save_schedule_form(current_user, _form_data(), schedule_id)
    if saved.form is not None:
        return _form(saved.form, 400)
    flash("Schedule saved.", "success")
    return redirect(url_for("processes.schedule", schedule_id=schedule_id))


@bp.get("/schedules/<int:schedule_id>")
@login_required
def schedule(schedule_id: int):
    return render_template("schedules/detail.html", **vars(pages.schedule_page(current_user, schedule_id)))


@bp.post("/schedules/<int:schedule_id>/toggle")
@login_required
def toggle_schedule(schedule_id: int):
    item = pages.toggle_schedule(current_user, schedule_id, request.form.get("enabled") == "1")
    flash(f"Schedule {'enabled' if item.enabled else 'paused'}.", "info")
    return redirect(request.referrer or url_for("processes.schedules"))


@bp.post("/schedules/<int:schedule_id>/run-now")
@login_required
def run_schedule_now(schedule_id: int):
    job = pages.run_now(current_user, schedule_id)
    flash("The run for the latest period was started.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


@bp.post("/schedules/<int:schedule_id>/backfill")
@login_required
def backfill_schedule(schedule_id: int):
    result = pages.backfill(current_user, schedule_id, request.form.to_dict())
    flash(f"Backfill: {len(result['created'])} run(s) started, {len(result['existing'])} period(s) already run.", "info")
    return redirect(url_for("processes.schedule", schedule_id=schedule_id))
