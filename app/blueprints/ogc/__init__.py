"""OGC API – Processes 1.0: landing (`/ogc`, and `/` for JSON clients), `/conformance`,
`/processes`, `/processes/{id}`, `POST /processes/{id}/execution`, `/openapi.json`.

Jobs (`/jobs`, `/jobs/{id}`, results, dismiss) live in the jobs blueprint. `/processes` and
`/processes/{id}` serve JSON to API clients and the processes pages to browsers.
Session or Bearer (`app.security.changing_actor`: authentication first, then CSRF for session requests
only; only a valid Bearer token makes a request a token request).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, request

from app.errors import wants_json
from app.extensions import csrf
from app.security import changing_actor, current_actor
from app.services.processing import ogc_execution
from app.services.processing.registry import all_processes, get_process

from . import documents as docs

bp = Blueprint("ogc", __name__)


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


@bp.post("/processes/<process_id>/execution")
@csrf.exempt
def execute(process_id: str):
    """Async (201 + Location + statusInfo) unless the client prefers sync and the process allows it
    (or allows only sync): then the job runs in this request and the response is its results."""
    run = ogc_execution.execute(changing_actor(), process_id, request.get_json(silent=True),
                                "respond-sync" in request.headers.get("Prefer", ""))
    if not run.sync:
        response = make_response(jsonify(docs.job_status_info(run.job, request.host_url)), 201)
        response.headers["Location"] = f"{docs.base()}/jobs/{run.job.id}"
        response.headers["Preference-Applied"] = "respond-async"
        return response
    response = make_response(jsonify(run.job.results or {}), 200)
    response.headers["Preference-Applied"] = "respond-sync"
    response.headers["Link"] = f'<{docs.base()}/jobs/{run.job.id}>; rel="monitor"'
    return response
