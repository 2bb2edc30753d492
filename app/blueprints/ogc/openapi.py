"""The OpenAPI 3.0 document of the JSON API, generated from the routes' declared operations
(`app.blueprints.operations.operation`): OGC API – Processes (`/ogc`, `/conformance`, `/processes…`,
`/jobs…`, errors as RFC 7807 problems) and the rest of the JSON API (`/api/…`, `/tasks/api/…`, errors in
each family's shape). JSON routes not declared yet are listed with generic schemas."""
from __future__ import annotations

import inspect
import re

from flask import current_app

from app.blueprints.operations import Operation, operation_of
from app.schemas.common import IasoError, Problem, WorkflowError

from .documents import base
from .openapi_schemas import REF, SchemaSet, to_oas30

_JSON = "application/json"
_ANY_JSON = {"type": "object", "additionalProperties": True}
# OGC API – Processes names its path parameters so; our routes say job_id, process_id.
_OGC_PATH_NAMES = {"job_id": "jobId", "process_id": "processId"}

JSON_PREFIXES = ("/api/", "/tasks/api/")
_STATUS_TEXT = {200: "OK", 201: "Created", 202: "Accepted", 204: "No content", 400: "Invalid input",
                401: "Missing or invalid token", 403: "Not allowed", 404: "Not found", 409: "Conflict",
                413: "Body too large", 422: "Cannot be processed", 429: "Too many attempts",
                500: "The work failed"}


def _error_family(path: str):
    """The error body of the path's family, and its media type."""
    if path.startswith(("/api/workflow/", "/tasks/api/")):
        return WorkflowError, _JSON
    if path.startswith(JSON_PREFIXES):
        return IasoError, _JSON
    return Problem, "application/problem+json"


def _path_and_parameters(rule) -> tuple[str, list[dict]]:
    names = {} if rule.rule.startswith(JSON_PREFIXES) else _OGC_PATH_NAMES
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: "{" + names.get(m[1], m[1]) + "}", rule.rule)
    params = []
    for name, converter in rule._converters.items():
        schema = ({"type": "integer", "minimum": 0, "maximum": converter.max} if hasattr(converter, "max")
                  else {"type": "string", "enum": sorted(converter.items)} if hasattr(converter, "items")
                  else {"type": "string"})
        params.append({"name": names.get(name, name), "in": "path", "required": True, "schema": schema})
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
    """(rule, method, its declared operation or None) for every JSON route of the API: each route under
    the JSON prefixes, and every other route with a declared operation (OGC's)."""
    out = []
    for rule in current_app.url_map.iter_rules():
        spec = operation_of(current_app.view_functions[rule.endpoint])
        if spec is None and not rule.rule.startswith(JSON_PREFIXES):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((rule, method, spec))
    return out


def _declared_paths() -> tuple[dict, SchemaSet]:
    """Every declared JSON route: parameters, body and responses from its schemas, its family's errors."""
    routes = [(rule, method, spec, spec.body_variants() if spec.body_variants else [])
              for rule, method, spec in declared_routes() if spec is not None]
    schemas = SchemaSet()
    for rule, _, spec, variants in routes:
        for model in (spec.body, spec.query, *variants):  # a query model's enums are components too
            if model is not None:
                schemas.add(model, "validation")
        for model in spec.responses.values():
            if model is not None:
                schemas.add(model, "serialization")
        schemas.add(_error_family(rule.rule)[0], "serialization")
    schemas.resolve()
    paths: dict = {}
    for rule, method, spec, variants in routes:
        path, params = _path_and_parameters(rule)
        error_model, media = _error_family(rule.rule)
        error = {"description": "Error", "content": {media: {"schema": schemas.ref(error_model, "serialization")}}}
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
        extra = spec.extra() if callable(spec.extra) else spec.extra
        for status, more in extra.get("responses", {}).items():
            responses[status] = {**responses[status], **more}
        op = {"summary": spec.summary, "operationId": f"{rule.endpoint}.{method.lower()}",
              "tags": list(spec.tags) or [rule.endpoint.split(".")[0]], "responses": responses}
        if spec.auth == "public":
            op["security"] = []
        parameters = params + (_query_parameters(spec.query, schemas) if spec.query is not None else [])
        given = {(p["name"], p["in"]): p for p in extra.get("parameters", [])}  # replace or add
        parameters = [given.pop((p["name"], p["in"]), p) for p in parameters] + list(given.values())
        if parameters:
            op["parameters"] = parameters
        if spec.body is not None:
            body = schemas.ref(spec.body, "validation")
            if variants:  # one of these, by the path (each process's own execute request)
                body = {"oneOf": [schemas.ref(model, "validation") for model in variants],
                        "description": inspect.getdoc(spec.body)}
            op["requestBody"] = {"required": spec.body_required, "content": {_JSON: {"schema": body}}}
        paths.setdefault(path, {})[method.lower()] = op
    return paths, schemas


def _undeclared_paths() -> dict:
    """JSON routes not yet declared with `operation(...)`: listed with generic schemas (the test
    `test_every_json_route_is_declared` names them)."""
    paths: dict = {}
    any_json = {_JSON: {"schema": {"$ref": "#/components/schemas/anyJson"}}}
    for rule, method, spec in declared_routes():
        if spec is not None:
            continue
        path, params = _path_and_parameters(rule)
        op = {"summary": (current_app.view_functions[rule.endpoint].__doc__ or rule.endpoint).strip().splitlines()[0],
              "operationId": f"{rule.endpoint}.{method.lower()}", "tags": [rule.endpoint.split(".")[0]],
              "responses": {"200": {"description": "JSON response", "content": any_json},
                            "400": {"description": "Invalid input"},
                            "401": {"description": "Missing or invalid token"}}}
        if params:
            op["parameters"] = params
        if method in ("POST", "PUT", "PATCH"):
            op["requestBody"] = {"required": False, "content": any_json}
        paths.setdefault(path, {})[method.lower()] = op
    return paths


def openapi_document() -> dict:
    paths, schemas = _declared_paths()
    for path, operations in _undeclared_paths().items():
        paths.setdefault(path, {}).update(operations)
    return {
        "openapi": "3.0.3",
        "info": {"title": "Fieldflow JSON API", "version": "1.0.0",
                 "description": "OGC API – Processes 1.0 (Core, JSON, job-list, dismiss) and the Iaso-compatible JSON API. "
                                "Authenticate with `POST /api/auth/token` and send `Authorization: Bearer …`."},
        "servers": [{"url": base()}],
        "security": [{"bearerAuth": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": {"anyJson": _ANY_JSON, **schemas.components()},
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
