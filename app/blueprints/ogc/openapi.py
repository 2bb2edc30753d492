"""The OpenAPI 3.0 document of the JSON API: OGC API – Processes paths written out with their
schemas, plus every other JSON route (`/api/…`) generated from the URL map with generic schemas."""
from __future__ import annotations

import re

from flask import current_app

from app.blueprints.operations import Operation, operation_of
from app.schemas.common import IasoError, WorkflowError

from .documents import base
from .openapi_schemas import REF, SchemaSet, to_oas30

_JSON = "application/json"
_PROBLEM = {"description": "Problem (RFC 7807)", "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/exception"}}}}


def _ok(description: str, ref: str | None = None, schema: dict | None = None, status: str = "200") -> dict:
    return {status: {"description": description,
                     "content": {_JSON: {"schema": schema or {"$ref": f"#/components/schemas/{ref}"}}}}}


_JOB_ID = {"name": "jobId", "in": "path", "required": True, "schema": {"type": "string"}}
_PROCESS_ID = {"name": "processId", "in": "path", "required": True, "schema": {"type": "string"}}
_LINK = {"type": "object", "required": ["href"], "properties": {
    "href": {"type": "string"}, "rel": {"type": "string"}, "type": {"type": "string"}, "title": {"type": "string"}}}
_LINKS = {"type": "array", "items": {"$ref": "#/components/schemas/link"}}
_STATUS = {"type": "string", "enum": ["accepted", "running", "successful", "failed", "dismissed"]}
_TS = {"type": "string", "format": "date-time", "nullable": True}

SCHEMAS = {
    "link": _LINK,
    "exception": {"type": "object", "required": ["type"], "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "details": {"type": "object"}}},
    "landingPage": {"type": "object", "required": ["links"], "properties": {
        "title": {"type": "string"}, "description": {"type": "string"}, "links": _LINKS}},
    "confClasses": {"type": "object", "required": ["conformsTo"], "properties": {
        "conformsTo": {"type": "array", "items": {"type": "string"}}}},
    "processSummary": {"type": "object", "required": ["id", "version"], "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "description": {"type": "string"},
        "version": {"type": "string"},
        "jobControlOptions": {"type": "array", "items": {"type": "string", "enum": ["sync-execute", "async-execute", "dismiss"]}},
        "outputTransmission": {"type": "array", "items": {"type": "string", "enum": ["value", "reference"]}},
        "links": _LINKS}},
    "processList": {"type": "object", "required": ["processes", "links"], "properties": {
        "processes": {"type": "array", "items": {"$ref": "#/components/schemas/processSummary"}}, "links": _LINKS}},
    "process": {"allOf": [{"$ref": "#/components/schemas/processSummary"}, {"type": "object", "properties": {
        "inputs": {"type": "object", "additionalProperties": {"type": "object"}},
        "outputs": {"type": "object", "additionalProperties": {"type": "object"}},
        "steps": {"type": "array", "items": {"type": "string"}}}}]},
    "execute": {"type": "object", "properties": {
        "inputs": {"type": "object", "additionalProperties": True},
        "outputs": {"type": "object", "additionalProperties": True},
        "response": {"type": "string", "enum": ["raw", "document"]},
        "mode": {"type": "string", "enum": ["sync", "async", "auto"]}}},
    "statusInfo": {"type": "object", "required": ["jobID", "status", "type"], "properties": {
        "jobID": {"type": "string"}, "id": {"type": "string"}, "processID": {"type": "string"},
        "type": {"type": "string", "enum": ["process"]}, "status": _STATUS, "message": {"type": "string"},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "created": _TS, "started": _TS, "finished": _TS, "updated": _TS,
        "steps": {"type": "array", "items": {"type": "object"}}, "links": _LINKS}},
    "jobList": {"type": "object", "required": ["jobs", "links"], "properties": {
        "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/statusInfo"}}, "links": _LINKS}},
    "results": {"type": "object", "additionalProperties": True},
    "eoStatus": {"type": "object", "properties": {
        "jobId": {"type": "string"}, "processId": {"type": "string"},
        "status": {"type": "string", "enum": ["queued", "running", "succeeded", "failed"]},
        "progress": {"type": "integer"}, "message": {"type": "string"}, "resultRef": {"type": "string", "nullable": True}}},
    "anyJson": {"type": "object", "additionalProperties": True},
}


def _ogc_paths() -> dict:
    errors = {"400": _PROBLEM, "401": _PROBLEM, "404": _PROBLEM}
    f_param = {"name": "f", "in": "query", "required": False,
               "schema": {"type": "string", "enum": ["json", "eo"]}, "description": "json (default for API clients) or eo"}
    return {
        "/ogc": {"get": {"summary": "Landing page", "operationId": "getLandingPage", "security": [],
                         "responses": _ok("Landing page", "landingPage")}},
        "/conformance": {"get": {"summary": "Conformance classes", "operationId": "getConformance", "security": [],
                                 "responses": _ok("Conformance", "confClasses")}},
        "/openapi.json": {"get": {"summary": "This document", "operationId": "getOpenAPI", "security": [],
                                  "responses": {"200": {"description": "OpenAPI 3.0 document"}}}},
        "/processes": {"get": {"summary": "List processes", "operationId": "getProcesses",
                               "responses": {**_ok("Processes", "processList"), "401": _PROBLEM}}},
        "/processes/{processId}": {"get": {
            "summary": "Describe a process", "operationId": "getProcessDescription", "parameters": [_PROCESS_ID],
            "responses": {**_ok("Process description", "process"), **errors}}},
        "/processes/{processId}/execution": {"post": {
            "summary": "Execute a process", "operationId": "execute",
            "parameters": [_PROCESS_ID, {"name": "Prefer", "in": "header", "required": False,
                                         "schema": {"type": "string", "enum": ["respond-async", "respond-sync"]}}],
            "requestBody": {"required": True, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/execute"}}}},
            "responses": {
                **_ok("Synchronous execution: the results", "results"),
                "201": {"description": "Job created (asynchronous execution)",
                        "headers": {"Location": {"schema": {"type": "string"}, "description": "URL of the job"}},
                        "content": {_JSON: {"schema": {"$ref": "#/components/schemas/statusInfo"}}}},
                **errors, "403": _PROBLEM, "500": _PROBLEM}}},
        "/jobs": {"get": {
            "summary": "List jobs", "operationId": "getJobs",
            "parameters": [
                {"name": "processID", "in": "query", "required": False, "schema": {"type": "array", "items": {"type": "string"}}, "explode": False},
                {"name": "status", "in": "query", "required": False, "schema": {"type": "array", "items": _STATUS}, "explode": False},
                {"name": "type", "in": "query", "required": False, "schema": {"type": "array", "items": {"type": "string"}}, "explode": False},
                {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}},
                {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1}}],
            "responses": {**_ok("Jobs", "jobList"), "400": _PROBLEM, "401": _PROBLEM}}},
        "/jobs/{jobId}": {
            "get": {"summary": "Job status", "operationId": "getStatus", "parameters": [_JOB_ID, f_param],
                    "responses": {**_ok("statusInfo (or the eo-api view with f=eo)", schema={
                        "oneOf": [{"$ref": "#/components/schemas/statusInfo"}, {"$ref": "#/components/schemas/eoStatus"}]}),
                        **errors}},
            "delete": {"summary": "Dismiss a job", "operationId": "dismiss", "parameters": [_JOB_ID],
                       "responses": {**_ok("Dismissed (or dismissal requested)", "statusInfo"), **errors, "409": _PROBLEM}}},
        "/jobs/{jobId}/results": {"get": {"summary": "Job results", "operationId": "getResult", "parameters": [_JOB_ID],
                                          "responses": {**_ok("Results", "results"), **errors}}},
        "/jobs/{jobId}/artifacts/{name}": {"get": {
            "summary": "A file produced by the job", "operationId": "getArtifact",
            "parameters": [_JOB_ID, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            "responses": {"200": {"description": "The file (JSON or GeoJSON)"}, **errors}}},
    }


JSON_PREFIXES = ("/api/", "/tasks/api/")
_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Invalid input",
                401: "Missing or invalid token", 403: "Not allowed", 404: "Not found", 409: "Conflict",
                413: "Body too large", 422: "Cannot be processed", 429: "Too many attempts"}


def _error_model(path: str):
    return WorkflowError if path.startswith(("/api/workflow/", "/tasks/api/")) else IasoError


def _path_and_parameters(rule) -> tuple[str, list[dict]]:
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
    params = []
    for name, converter in rule._converters.items():
        schema = ({"type": "integer", "minimum": 0, "maximum": converter.max} if hasattr(converter, "max")
                  else {"type": "string", "enum": sorted(converter.items)} if hasattr(converter, "items")
                  else {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return path, params


def _query_parameters(model, schemas: SchemaSet) -> list[dict]:
    document = model.model_json_schema(mode="validation", ref_template=REF)
    required = set(document.get("required", []))
    out = []
    for name, schema in document.get("properties", {}).items():
        param = {"name": name, "in": "query", "required": name in required, "schema": to_oas30(schema)}
        if param["schema"].get("type") == "array":
            param.update(style="form", explode=False)
        if "description" in schema:
            param["description"] = schema["description"]
        out.append(param)
    return out


def declared_routes() -> list[tuple[object, str, Operation | None]]:
    """(rule, method, its declared operation or None) for every JSON route of the API."""
    out = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith(JSON_PREFIXES):
            continue
        spec = operation_of(current_app.view_functions[rule.endpoint])
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method, spec))
    return out


def _declared_paths(taken: set[str]) -> tuple[dict, SchemaSet]:
    """Every declared JSON route: parameters, body and responses from its schemas, its family's errors."""
    routes = [(rule, method, spec) for rule, method, spec in declared_routes() if spec is not None]
    schemas = SchemaSet()
    for rule, _, spec in routes:
        for model in (spec.body, spec.query):  # a query model's enums are components too
            if model is not None:
                schemas.add(model, "validation")
        for model in spec.responses.values():
            if model is not None:
                schemas.add(model, "serialization")
        schemas.add(_error_model(rule.rule), "serialization")
    schemas.resolve()
    paths: dict = {}
    for rule, method, spec in routes:
        path, params = _path_and_parameters(rule)
        if path in taken:
            continue
        error = {"description": "Error", "content": {_JSON: {"schema": schemas.ref(_error_model(path), "serialization")}}}
        responses = {}
        for status, model in sorted(spec.responses.items()):
            responses[str(status)] = {"description": _STATUS_TEXT.get(status, "Response")}
            if model is not None:
                responses[str(status)]["content"] = {_JSON: {"schema": schemas.ref(model, "serialization")}}
            elif status >= 400:  # an error the operation declares beyond its family's usual ones
                responses[str(status)] = {**error, "description": _STATUS_TEXT.get(status, "Error")}
        codes = [400] + ([401, 403] if spec.auth != "public" else []) + ([404] if params else [])
        codes += [413] if spec.body is not None else []
        for status in codes:
            responses.setdefault(str(status), {**error, "description": _STATUS_TEXT[status]})
        op = {"summary": spec.summary, "operationId": f"{rule.endpoint}.{method.lower()}",
              "tags": list(spec.tags) or [rule.endpoint.split(".")[0]], "responses": responses}
        if spec.auth == "public":
            op["security"] = []
        parameters = params + (_query_parameters(spec.query, schemas) if spec.query is not None else [])
        if parameters:
            op["parameters"] = parameters
        if spec.body is not None:
            op["requestBody"] = {"required": spec.body_required,
                                 "content": {_JSON: {"schema": schemas.ref(spec.body, "validation")}}}
        paths.setdefault(path, {})[method.lower()] = op
    return paths, schemas


def _undeclared_paths(taken: set[str]) -> dict:
    """JSON routes not yet declared with `operation(...)`: listed with generic schemas (the test
    `test_every_json_route_is_declared` names them)."""
    paths: dict = {}
    for rule, method, spec in declared_routes():
        if spec is not None:
            continue
        path, params = _path_and_parameters(rule)
        if path in taken:
            continue
        op = {"summary": (current_app.view_functions[rule.endpoint].__doc__ or rule.endpoint).strip().splitlines()[0],
              "operationId": f"{rule.endpoint}.{method.lower()}", "tags": [rule.endpoint.split(".")[0]],
              "responses": {**_ok("JSON response", "anyJson"), "400": {"description": "Invalid input"},
                            "401": {"description": "Missing or invalid token"}}}
        if params:
            op["parameters"] = params
        if method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {"required": False, "content": {_JSON: {"schema": {"$ref": "#/components/schemas/anyJson"}}}}
        paths.setdefault(path, {})[method.lower()] = op
    return paths


def openapi_document() -> dict:
    paths = _ogc_paths()
    declared, schemas = _declared_paths(set(paths))
    paths.update(declared)
    for path, operations in _undeclared_paths(set(paths)).items():
        paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Fieldflow JSON API", "version": "1.0.0",
                 "description": "OGC API – Processes 1.0 (Core, JSON, job-list, dismiss) and the Iaso-compatible JSON API. "
                                "Authenticate with `POST /api/auth/token` and send `Authorization: Bearer …`."},
        "servers": [{"url": base()}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {**SCHEMAS, **schemas.components()},
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
