"""The OGC API – Processes serializers: landing, conformance, process lists and descriptions, job
statusInfo (and its eo-api view), job lists. Error bodies (RFC 7807) are built in `app/errors.py`."""
from __future__ import annotations

from flask import request

from app.models import Job
from app.services.processing import job_status as st
from app.services.platform.errors import NotFound
from app.services.processing.registry import Process, get_process, input_specs

from .openapi_schemas import to_oas30

REL = "http://www.opengis.net/def/rel/ogc/1.0/"
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


def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


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
    """The process and its inputs, generated from its input model (each value's schema in OpenAPI 3.0's
    dialect, as OGC API – Processes 1.0 describes them)."""
    inputs = {spec.name: {"title": spec.title, "description": spec.description, "schema": to_oas30(spec.schema),
                          "minOccurs": 1 if spec.required else 0, "maxOccurs": 1}
              for spec in input_specs(process)}
    outputs = {name: {"title": spec.get("title", name), "schema": spec.get("schema", {})}
               for name, spec in process.outputs_schema.items()}
    out = {**process_summary(process), "inputs": inputs, "outputs": outputs}
    if process.step_names:
        out["steps"] = list(process.step_names)
    return out


def process_list(processes: list[Process]) -> dict:
    b = base()
    return {"processes": [process_summary(p) for p in processes],
            "links": [{"href": f"{b}/processes", "rel": "self", "type": "application/json"}]}


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def job_status_info(job: Job, base_url: str) -> dict:
    """OGC API – Processes statusInfo for a job (with both `jobID` and `id`)."""
    info = {
        "jobID": job.id,
        "id": job.id,
        "processID": job.process_id,
        "type": "process",
        "status": job.status,
        "message": job.message,
        "progress": job.progress,
        "created": _iso(job.created_at),
        "started": _iso(job.started_at),
        "finished": _iso(job.finished_at),
        "updated": _iso(job.updated_at),
        "links": [
            {"href": f"{base_url}jobs/{job.id}", "rel": "self", "type": "application/json", "title": "Job status"},
            {"href": f"{base_url}jobs/{job.id}", "rel": "monitor", "type": "text/html", "title": "Job page"},
        ],
    }
    if job.steps:
        info["steps"] = job.steps  # extension: per-step status of multi-step processes
    if job.status == st.SUCCESSFUL:
        info["links"].append({"href": f"{base_url}jobs/{job.id}/results", "rel": REL + "results",
                              "type": "application/json", "title": "Results"})
    return {**info, **_flow_fields(job)}


def _flow_fields(job: Job) -> dict:
    """eo-api's flow name and import summary, for the processes that have them."""
    out = {}
    try:
        flow = get_process(job.process_id).flow_name
    except NotFound:
        flow = None
    if flow:
        out["flowName"] = flow
    if isinstance(job.results, dict) and isinstance(job.results.get("importSummary"), dict):
        out["importSummary"] = job.results["importSummary"]
    return out


def eo_job_status(job: Job, base_url: str) -> dict:
    """The eo-api view of a job (`/jobs/{id}?f=eo`)."""
    return {"jobId": job.id, "processId": job.process_id, "status": st.to_eo(job.status),
            "progress": job.progress, "message": job.message,
            "resultRef": f"{base_url}jobs/{job.id}/results" if job.status == st.SUCCESSFUL else None,
            **_flow_fields(job)}


def job_list(page: dict, base_url: str) -> dict:
    """OGC job list from a paginated page of statusInfos ({items, _meta, _links}): `jobs`, `_meta`
    and the paging links as OGC `links`."""
    return {"jobs": page["items"], "_meta": page["_meta"], "links": [
        {"href": base_url.rstrip("/") + href, "rel": rel, "type": "application/json"}
        for rel, href in page["_links"].items()]}
