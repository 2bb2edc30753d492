"""Jobs: the list page, the job page with its live status panel, OGC statusInfo, dismiss."""
import json

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from app.blueprints.ogc import documents as docs
from app.blueprints.rendering import is_partial_request
from app.errors import wants_json
from app.extensions import csrf, db
from app.models import Permission
from app.security import current_actor
from app.services.platform.permissions import require_permission
from app.services.processing import job_status as st
from app.services.processing import artifacts
from app.services.processing import jobs as svc

bp = Blueprint("jobs", __name__)

POLL_DONE = 286  # htmx stops polling on this status


@bp.get("/jobs")
def index():
    user = current_actor() if wants_json() else None
    if user is not None:
        return _json_list(user)
    return _page_list()


@login_required
def _page_list():
    status = request.args.get("status") or None
    if status and status not in st.CANONICAL:
        status = None
    process = request.args.get("process") or None
    page = db.paginate(svc.jobs_query(current_user, status=status, process_id=process), per_page=25, error_out=False)
    from app.processes import all_processes

    return render_template("jobs/index.html", page=page, status=status, process=process,
                           statuses=st.CANONICAL, processes=all_processes(), counts=svc.job_counts(current_user),
                           can_launch=current_user.has_permission(Permission.MANAGE_PIPELINES))


def _json_list(user):
    """OGC job list: filters processID, status, type (repeated or comma-separated); paging with
    `limit` and `page`, and `links` next/prev."""
    from app.blueprints.api.pagination import paginated
    from app.services.platform.errors import FieldErrors

    def many(name):
        return [v for raw in request.args.getlist(name) for v in raw.split(",") if v]

    statuses, process_ids, types = many("status"), many("processID") or many("process"), many("type")
    errors = FieldErrors()
    for bad in sorted(set(statuses) - set(st.CANONICAL)):
        errors.add("status", f"unknown status {bad!r}; one of {', '.join(st.CANONICAL)}")
    errors.raise_if_any("Invalid query")
    stmt = svc.jobs_query(user, status=statuses or None, process_id=process_ids or None)
    if types and "process" not in types:
        stmt = stmt.where(False)
    base = request.host_url
    return jsonify(docs.job_list(paginated(stmt, lambda job: docs.job_status_info(job, base)), base))


@bp.get("/jobs/<job_id>")
def detail(job_id: str):
    if wants_json():
        job = svc.get_job_for(current_actor(), job_id)
        if request.args.get("f") == "eo":
            return jsonify(docs.eo_job_status(job, request.host_url))
        return jsonify(docs.job_status_info(job, request.host_url))
    return _detail_page(job_id)


@login_required
def _detail_page(job_id: str):
    job = svc.get_job_for(current_user, job_id)
    if is_partial_request():
        return panel_response(job)
    response = make_response(render_template("jobs/detail.html", job=job))
    response.vary.add("HX-Request")
    return response


def panel_response(job):
    """The live status partial: 200 while the job is active, 286 (no trigger) once it ends."""
    terminal = st.is_terminal(job.status)
    response = make_response(render_template("jobs/_panel.html", job=job), POLL_DONE if terminal else 200)
    response.vary.add("HX-Request")
    if terminal:
        response.headers["HX-Trigger"] = json.dumps({"job-finished": {"id": job.id, "status": job.status}})
    return response


@bp.get("/jobs/<job_id>/extra")
@login_required
def extra(job_id: str):
    """Log, details, inputs and results: refreshed once when the live panel reports the end."""
    return render_template("jobs/_extra.html", job=svc.get_job_for(current_user, job_id))


@bp.get("/jobs/<job_id>/results")
def results(job_id: str):
    return jsonify(svc.get_job_results(current_actor(), job_id))


@bp.get("/jobs/<job_id>/artifacts/<name>")
def artifact(job_id: str, name: str):
    """A file the job produced (payload preview, result features), for whoever may see the job."""
    job = svc.get_job_for(current_actor(), job_id, reap=False)
    mimetype = "application/geo+json" if name.endswith(".geojson") else None
    return send_file(artifacts.artifact_path(job, name), mimetype=mimetype, as_attachment=request.args.get("download") == "1")


@bp.post("/jobs/<job_id>/dismiss")
@login_required
def dismiss(job_id: str):
    svc.get_job_for(current_user, job_id, reap=False)
    job = svc.request_kill(job_id)
    if is_partial_request():
        return panel_response(job)
    flash("Dismissal requested." if job.status == st.RUNNING else f"Job {job.status}.", "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.delete("/jobs/<job_id>")
@csrf.exempt
def ogc_dismiss(job_id: str):
    """OGC dismiss: Bearer clients, or a browser session with its CSRF token."""
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        csrf.protect()
    user = current_actor()
    svc.get_job_for(user, job_id, reap=False)
    job = svc.request_kill(job_id)
    return jsonify(docs.job_status_info(job, request.host_url))


@bp.post("/jobs/echo")
@login_required
def launch_echo():
    """Start an echo job from the jobs page (checks the worker round trip)."""
    require_permission(current_user, Permission.MANAGE_PIPELINES)
    inputs = {"message": request.form.get("message", ""), "steps": 5}
    try:
        inputs["delay"] = float(request.form.get("delay") or 0)
    except ValueError:
        inputs["delay"] = request.form.get("delay")
    project_id = current_user.project_ids[0] if current_user.project_ids else None
    job = svc.enqueue_job("echo", inputs, launcher=current_user, project_id=project_id)
    flash("Echo job queued.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))
