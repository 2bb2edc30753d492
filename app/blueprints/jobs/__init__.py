"""Jobs: the list page, the job page with its live status panel, OGC statusInfo, dismiss."""
import json

from flask import Blueprint, flash, jsonify, make_response, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required

from app.blueprints.api.pagination import paginated, paging
from app.blueprints.ogc import OGC
from app.blueprints.ogc import documents as docs
from app.blueprints.operations import operation
from app.blueprints.rendering import is_partial_request
from app.extensions import csrf
from app.schemas.jobs import StatusInfo
from app.schemas.ogc import ArtifactQuery, JobFilters, JobList, JobQuery, JobsPageQuery, JobView, Results
from app.schemas.parsing import validate_data
from app.security import changing_actor, current_actor
from app.services.processing import job_pages as pages
from app.services.processing import job_status as st
from app.services.processing import job_access as svc
from app.services.processing import job_actions as actions

bp = Blueprint("jobs", __name__)

POLL_DONE = 286  # htmx stops polling on this status


@bp.app_template_global("can_dismiss")
def can_dismiss(job) -> bool:
    """Whether the page's user may stop this job (the Stop button shows only then)."""
    return current_user.is_authenticated and svc.may_dismiss(current_user, job)


@bp.app_template_global("retry_from")
def retry_from(job) -> str | None:
    """The step a retry of this failed job starts from (the Retry button shows only then)."""
    return actions.retry_step(job)


@login_required
def _page_list():
    query = validate_data(JobsPageQuery, request.args.to_dict(), "Invalid query")
    return render_template("jobs/index.html", **vars(pages.jobs_page(current_user, query)))


@bp.get("/jobs")
@operation(auth="session-or-token", query=JobFilters, responses={200: JobList}, html=_page_list, tags=OGC)
def index(query: JobFilters):
    """The jobs you may see: filters processID, status, type (repeated or comma-separated); paging with
    `limit` and `page`, and `links` next/prev"""
    result = pages.job_list(current_actor(), query, paging(query))
    base = request.host_url
    return jsonify(docs.job_list(paginated(result, lambda job: docs.job_status_info(job, base)), base))


@login_required
def _detail_page(job_id: str):
    job = svc.get_job_for(current_user, job_id)
    if is_partial_request():
        return panel_response(job)
    response = make_response(render_template("jobs/detail.html", job=job))
    response.vary.add("HX-Request")
    return response


@bp.get("/jobs/<job_id>")
@operation(auth="session-or-token", query=JobQuery, responses={200: JobView}, html=_detail_page, tags=OGC)
def detail(job_id: str, query: JobQuery):
    """A job's status: statusInfo, or the eo-api view (f=eo); browsers get the job page"""
    job = svc.get_job_for(current_actor(), job_id)
    if query.f == "eo":
        return jsonify(docs.eo_job_status(job, request.host_url))
    return jsonify(docs.job_status_info(job, request.host_url))


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
@operation(auth="session-or-token", responses={200: Results}, tags=OGC)
def results(job_id: str):
    """A successful job's results"""
    return jsonify(svc.get_job_results(current_actor(), job_id))


@bp.get("/jobs/<job_id>/artifacts/<name>")
@operation(auth="session-or-token", query=ArtifactQuery, responses={200: None}, tags=OGC)
def artifact(job_id: str, name: str, query: ArtifactQuery):
    """A file the job produced (payload preview JSON, result features GeoJSON), for whoever may see the job"""
    path = pages.job_artifact(current_actor(), job_id, name)
    mimetype = "application/geo+json" if name.endswith(".geojson") else None
    return send_file(path, mimetype=mimetype, as_attachment=query.download)


@login_required
def _rerun_page(job_id: str):
    job = actions.rerun_job(changing_actor(), job_id)
    flash("A new run of the job was started.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


@login_required
def _retry_page(job_id: str):
    job = actions.retry_job(changing_actor(), job_id)
    flash("The job was retried from its failed step.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))


def _created(job):
    response = make_response(jsonify(docs.job_status_info(job, request.host_url)), 201)
    response.headers["Location"] = f"{docs.base()}/jobs/{job.id}"
    return response


@bp.post("/jobs/<job_id>/rerun")
@csrf.exempt
@operation(auth="session-or-token-csrf", responses={201: StatusInfo, 409: None}, html=_rerun_page, tags=OGC)
def rerun(job_id: str):
    """Run a failed job again from its first step, as a new job (201, its statusInfo and Location)"""
    return _created(actions.rerun_job(changing_actor(), job_id))


@bp.post("/jobs/<job_id>/retry")
@csrf.exempt
@operation(auth="session-or-token-csrf", responses={201: StatusInfo, 409: None}, html=_retry_page, tags=OGC)
def retry(job_id: str):
    """Retry a failed job from its failed step, reusing the earlier steps' outputs, as a new job (201);
    a 400 names a job that cannot be retried so (re-run it)"""
    return _created(actions.retry_job(changing_actor(), job_id))


@bp.post("/jobs/<job_id>/dismiss")
@login_required
def dismiss(job_id: str):
    job = pages.dismiss_job(current_user, job_id)
    if is_partial_request():
        return panel_response(job)
    flash("Dismissal requested." if job.status == st.RUNNING else f"Job {job.status}.", "info")
    return redirect(url_for("jobs.detail", job_id=job_id))


@bp.delete("/jobs/<job_id>")
@csrf.exempt
@operation(auth="session-or-token-csrf", responses={200: StatusInfo, 409: None}, tags=OGC)
def ogc_dismiss(job_id: str):
    """Dismiss a job (OGC): Bearer clients, or a browser session with its CSRF token"""
    return jsonify(docs.job_status_info(pages.dismiss_job(changing_actor(), job_id), request.host_url))


@bp.post("/jobs/echo")
@login_required
def launch_echo():
    """Start an echo job from the jobs page (checks the worker round trip)."""
    job = pages.launch_echo(current_user, request.form)
    flash("Echo job queued.", "success")
    return redirect(url_for("jobs.detail", job_id=job.id))
