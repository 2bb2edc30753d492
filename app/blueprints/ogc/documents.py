"""OGC API – Processes documents (landing, conformance, process summaries and descriptions) and
RFC 7807 problem responses with the OGC exception types."""
from __future__ import annotations

from flask import jsonify, request

from app.errors import error_response, wants_json
from app.processes import Process
from app.services.platform.errors import DomainError, NotFound, ValidationFailed
from app.services.processing.jobs import ResultNotReady

REL = "http://www.opengis.net/def/rel/ogc/1.0/"
EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
OPENAPI_TYPE = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/json",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss",
    "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30",
]


def base() -> str:
    return request.host_url.rstrip("/")


def landing() -> dict:
    b = base()
    return {
        "title": "Fieldflow — OGC API – Processes",
        "description": "Processes and jobs of Fieldflow: sampling, EO aggregate imports into DHIS2, echo.",
        "links": [
            {"href": f"{b}/ogc", "rel": "self", "type": "application/json", "title": "This document"},
            {"href": f"{b}/openapi.json", "rel": "service-desc", "type": OPENAPI_TYPE, "title": "OpenAPI document"},
            {"href": f"{b}/conformance", "rel": "http://www.opengis.net/def/rel/ogc/1.0/conformance",
             "type": "application/json", "title": "Conformance classes"},
            {"href": f"{b}/processes", "rel": REL + "processes", "type": "application/json", "title": "Processes"},
            {"href": f"{b}/jobs", "rel": REL + "job-list", "type": "application/json", "title": "Jobs"},
        ],
    }


def process_summary(process: Process) -> dict:
    b = base()
    return {
        "id": process.id,
        "title": process.title,
        "description": process.description,
        "version": process.version,
        "jobControlOptions": list(process.job_control_options),
        "outputTransmission": ["value"],
        "links": [
            {"href": f"{b}/processes/{process.id}", "rel": "self", "type": "application/json", "title": "Description"},
            {"href": f"{b}/processes/{process.id}/execution", "rel": REL + "execute", "type": "application/json",
             "title": "Execute"},
        ],
    }


def process_description(process: Process) -> dict:
    inputs = {}
    for name, spec in process.inputs_schema.items():
        inputs[name] = {"title": spec.get("title", name), "description": spec.get("description", ""),
                        "schema": spec.get("schema", {}), "minOccurs": spec.get("minOccurs", 0), "maxOccurs": 1}
    outputs = {name: {"title": spec.get("title", name), "schema": spec.get("schema", {})}
               for name, spec in process.outputs_schema.items()}
    out = {**process_summary(process), "inputs": inputs, "outputs": outputs}
    if process.step_names:
        out["steps"] = list(process.step_names)
    return out


def problem_type(exc: DomainError) -> str:
    if isinstance(exc, ResultNotReady):
        return EXC + "result-not-ready"
    if isinstance(exc, NotFound):
        if "processID" in exc.details:
            return EXC + "no-such-process"
        if "jobID" in exc.details:
            return EXC + "no-such-job"
    if isinstance(exc, ValidationFailed):
        return EXC + "invalid-parameter-value"
    return "about:blank"


def json_client() -> bool:
    return wants_json() or request.is_json or request.headers.get("Authorization", "").startswith("Bearer ")


def problem_response(exc: DomainError):
    """RFC 7807 for JSON clients of OGC paths; the app's usual page/toast/Iaso shapes otherwise."""
    if not json_client():
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.title, exc.message, exc.details, headers)
    body = {"type": problem_type(exc), "title": exc.title, "status": exc.status, "detail": exc.message}
    if exc.details:
        body["details"] = exc.details
    response = jsonify(body)
    response.status_code = exc.status
    response.mimetype = "application/problem+json"
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response
