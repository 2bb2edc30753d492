"""The processes list and each process's page with its execute form (generated from its schema).
`GET /processes` and `/processes/<id>` are routed by the OGC blueprint, which serves JSON clients."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.models import Permission
from app.processes import all_processes, get_process
from app.services.platform.permissions import require_permission
from app.services.processing import dhis2
from app.services.processing import jobs as svc
from app.services.platform.errors import ValidationFailed
from app.services.processing.process_forms import form_fields, inputs_from_form


@login_required
def process_list_page():
    return render_template("processes/index.html", processes=all_processes())


@login_required
def process_page(process_id: str, errors: dict | None = None, form=None, status: int = 200):
    process = get_process(process_id)
    can_run = current_user.has_permission(Permission.MANAGE_PIPELINES)
    return render_template("processes/detail.html", process=process, fields=form_fields(process), can_run=can_run,
                           errors=errors or {}, form=form or {}, connections=dhis2.list_connections()), status


@bp.post("/processes/<process_id>/run")
@login_required
def run(process_id: str):
    """The execute form: queue the job and go to its page (errors re-render the form, 400)."""
    require_permission(current_user, Permission.MANAGE_PIPELINES)
    process = get_process(process_id)
    try:
        job = svc.enqueue_job(process.id, inputs_from_form(process, request.form), launcher=current_user,
                              project_id=current_user.project_ids[0] if current_user.project_ids else None)
    except ValidationFailed as exc:
        return process_page(process_id, errors=exc.details, form=request.form, status=400)
    flash(f"{process.title} queued.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))
