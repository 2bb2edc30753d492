"""OGC API – Processes 1.0: landing (`/ogc`, and `/` for JSON clients), `/conformance`,
`/processes`, `/processes/{id}`, `POST /processes/{id}/execution`, `/openapi.json`.

Jobs (`/jobs`, `/jobs/{id}`, results, dismiss) live in the jobs blueprint. `/processes` and
`/processes/{id}` serve JSON to API clients and the processes pages to browsers.
Session or Bearer (`app.security.changing_actor`: authentication first, then CSRF for session requests
only; only a valid Bearer token makes a request a token request).
"""
from __future__ import annotations

from flask import Blueprint, jsonify, make_response, request

from app.blueprints.operations import operation
from app.errors import wants_json
from app.extensions import csrf
from app.schemas.jobs import StatusInfo
from app.schemas.ogc import (
    Conformance, ExecuteRequest, FormatQuery, LandingPage, ProcessDescription, ProcessesQuery, ProcessList, Results,
    execute_request_for)
from app.security import changing_actor
from app.services.processing import ogc_execution
from app.services.processing.registry import all_processes, get_process

from . import documents as docs

OGC = ("OGC API – Processes",)  # the tag of its operations in the document


def _process_id() -> dict:
    """The document names the processes there are (any other id is a 404 no-such-process)."""
    return {"name": "processId", "in": "path", "required": True,
            "schema": {"type": "string", "enum": [p.id for p in all_processes()]}}


def _execute_openapi() -> dict:
    """What the execute operation's models cannot say: the process ids, the Prefer header, where the job is."""
    prefer = {"name": "Prefer", "in": "header", "required": False,
              "schema": {"type": "string", "enum": ["respond-async", "respond-sync"]},
              "description": "respond-sync runs the job in the request when the process offers sync-execute"}
    return {"parameters": [_process_id(), prefer],
            "responses": {"201": {"headers": {"Location": {"schema": {"type": "string"},
                                                           "description": "The job's URL"}}}}}


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
@operation(auth="public", responses={200: LandingPage}, tags=OGC)
def landing():
    """Landing page"""
    return jsonify(docs.landing())


@bp.get("/conformance")
@operation(auth="public", responses={200: Conformance}, tags=OGC)
def conformance():
    """Conformance classes"""
    return jsonify(docs.conformance())


@bp.get("/openapi.json")
@operation(auth="public", responses={200: None}, tags=OGC)
def openapi():
    """This document (OpenAPI 3.0)"""
    from .openapi import openapi_document

    response = jsonify(openapi_document())
    response.mimetype = "application/vnd.oai.openapi+json"
    return response


def _process_list_page():
    from app.blueprints.processes.pages import process_list_page

    return process_list_page()


@bp.get("/processes")
@operation(auth="session-or-token", query=ProcessesQuery, responses={200: ProcessList}, html=_process_list_page,
           tags=OGC)
def processes(query: ProcessesQuery):
    """The processes"""
    return jsonify(docs.process_list(all_processes()[:query.limit]))


def _process_page(process_id: str):
    from app.blueprints.processes.pages import process_page

    return process_page(process_id)


@bp.get("/processes/<process_id>")
@operation(auth="session-or-token", query=FormatQuery, responses={200: ProcessDescription}, html=_process_page,
           extra=lambda: {"parameters": [_process_id()]}, tags=OGC)
def process(process_id: str, query: FormatQuery):
    """A process's description: its inputs (from its input model) and outputs"""
    return jsonify(docs.process_description(get_process(process_id)))


@bp.post("/processes/<process_id>/execution")
@csrf.exempt
@operation(auth="session-or-token-csrf", body=ExecuteRequest,
           responses={200: Results, 201: StatusInfo, 409: None, 500: None},
           body_variants=lambda: [execute_request_for(p.id, p.inputs) for p in all_processes()],
           extra=_execute_openapi, tags=OGC)
def execute(process_id: str, body: ExecuteRequest):
    """Execute a process: async (201 + Location + statusInfo) unless the client prefers sync and the
    process allows it (or allows only sync): then the job runs in this request and the answer is its
    results (200); a sync run that fails is a 500 problem."""
    run = ogc_execution.execute(changing_actor(), process_id, body,
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
