"""OGC API – Processes 1.0: landing (`/ogc`, and `/` for JSON clients), `/conformance`,
`/processes`, `/processes/{id}`, `POST /processes/{id}/execution`, `/openapi.json`.

Jobs (`/jobs`, `/jobs/{id}`, results, dismiss) live in the jobs blueprint. `/processes` and
`/processes/{id}` serve JSON to API clients and the processes pages to browsers.
Session or Bearer; CSRF is checked for session requests only (a Bearer request carries no cookie).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, request

from app.blueprints.api.pagination import json_body
from app.errors import wants_json
from app.extensions import csrf
from app.models import Permission
from app.processes import all_processes, get_process
from app.security import current_actor
from app.services.platform.permissions import require_permission
from app.services.processing import jobs as svc
from app.services.processing import job_status as st
from app.services.platform.errors import DomainError, ValidationFailed

from . import documents as docs

bp = Blueprint("ogc", __name__)


class JobFailed(DomainError):
    status = 500
    code = "job_failed"
    title = "Process failed"


def csrf_unless_bearer() -> None:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        csrf.protect()


@bp.before_app_request
def _landing_for_json_clients():
    """`/` is the dashboard for browsers; JSON clients (OWSLib, f=json) get the OGC landing page."""
    if request.path == "/" and request.method == "GET" and wants_json():
        return jsonify(docs.landing())
    return None


@bp.app_template_global("job_artifacts")
def job_artifacts(job) -> list[str]:
    from app.services.processing.artifacts import list_artifacts

    return list_artifacts(job)


@bp.get("/ogc")
def landing():
    return jsonify(docs.landing())


@bp.get("/conformance")
def conformance():
    return jsonify(docs.conformance())


@bp.get("/openapi.json")
def openapi():
    from .openapi import openapi_document

    response = jsonify(openapi_document())
    response.mimetype = "application/vnd.oai.openapi+json"
    return response


@bp.get("/processes")
def processes():
    if not wants_json():
        from app.blueprints.processes.pages import process_list_page

        return process_list_page()
    current_actor()
    return jsonify(docs.process_list(all_processes()))


@bp.get("/processes/<process_id>")
def process(process_id: str):
    if not wants_json():
        from app.blueprints.processes.pages import process_page

        return process_page(process_id)
    current_actor()
    return jsonify(docs.process_description(get_process(process_id)))


def _unwrap(value):
    """OGC qualified input values ({"value": v, "mediaType"?: …}) become plain values."""
    if isinstance(value, dict) and "value" in value and set(value) <= {"value", "mediaType", "encoding", "schema"}:
        return value["value"]
    return value


@bp.post("/processes/<process_id>/execution")
@csrf.exempt
def execute(process_id: str):
    """Async (201 + Location + statusInfo) unless the client prefers sync and the process allows it
    (or allows only sync): then the job runs in this request and the response is its results."""
    csrf_unless_bearer()
    user = current_actor()
    process = get_process(process_id)
    require_permission(user, Permission.MANAGE_PIPELINES)
    body = json_body()
    inputs = body.get("inputs", {})
    if not isinstance(inputs, dict):
        raise ValidationFailed("inputs must be an object", {"inputs": ["must be an object"]})
    inputs = {name: _unwrap(value) for name, value in inputs.items()}
    options = process.job_control_options
    wants_sync = "respond-sync" in request.headers.get("Prefer", "") or body.get("mode") == "sync"
    sync = "sync-execute" in options and (wants_sync or "async-execute" not in options)
    project_id = user.project_ids[0] if user.project_ids else None
    if not sync:
        job = svc.enqueue_job(process.id, inputs, launcher=user, project_id=project_id)
        response = make_response(jsonify(docs.job_status_info(job, request.host_url)), 201)
        response.headers["Location"] = f"{docs.base()}/jobs/{job.id}"
        response.headers["Preference-Applied"] = "respond-async"
        return response
    job = svc.run_job_now(process.id, inputs, launcher=user, project_id=project_id)
    if job.status != st.SUCCESSFUL:
        raise JobFailed(f"The job ended {job.status}: {job.message}", {"jobID": job.id})
    response = make_response(jsonify(job.results or {}), 200)
    response.headers["Preference-Applied"] = "respond-sync"
    response.headers["Link"] = f'<{docs.base()}/jobs/{job.id}>; rel="monitor"'
    return response
