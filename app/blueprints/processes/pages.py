"""The processes list and each process's page with its execute form (generated from its schema).
`GET /processes` and `/processes/<id>` are routed by the OGC blueprint, which serves JSON clients."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.blueprints.processes.blueprint import bp
from app.services.processing import process_pages as pages
from app.services.processing.registry import all_processes


def _page(page: pages.ProcessPage, status: int = 200):
    return render_template("processes/detail.html", **vars(page)), status


@login_required
def process_list_page():
    return render_template("processes/index.html", processes=all_processes())


@login_required
def process_page(process_id: str):
    return _page(pages.process_page(current_user, process_id))


@bp.post("/processes/<process_id>/run")
@login_required
def run(process_id: str):
    """The execute form: queue the job and go to its page (errors re-render the form, 400)."""
    launched = pages.run_process_form(current_user, process_id, request.form)
    if launched.job is None:
        return _page(launched.page, 400)
    flash(f"{launched.title} queued.", "success")
    return redirect(url_for("jobs.detail", job_id=launched.job.id))
