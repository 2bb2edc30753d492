"""One place mapping errors to responses, in the shape each family of clients expects.

- workflow JSON paths (/api/workflow/..., /tasks/api/...):
                                          {"success": false, "message", "error_code", "details"}
- Iaso-style JSON paths (/api/...):       {"error": message, "details": {...}}
- OGC API – Processes paths, JSON wanted: RFC 7807 problem JSON
- HTMX partial requests:                  a toast, retargeted into #toasts
- pages:                                  an error page
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.services.platform.errors import DomainError, RateLimited

log = logging.getLogger(__name__)

OGC_PREFIXES = ("/processes", "/jobs", "/conformance")
OGC_TYPES = {
    404: "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/no-such-job",
    400: "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/invalid-parameter-value",
}


HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 429: "rate_limited", 500: "internal_error"}


def wants_json() -> bool:
    """True when the client asked for JSON (f=json or an Accept header preferring it)."""
    fmt = request.args.get("f")
    if fmt:
        return fmt in ("json", "eo")
    if request.headers.get("HX-Request") == "true":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or (
        request.accept_mimetypes["application/json"] >= request.accept_mimetypes["text/html"]
        and request.accept_mimetypes["application/json"] > 0
    )


WORKFLOW_PREFIXES = ("/api/workflow/", "/tasks/api/")


def error_family() -> str:
    path = request.path
    if path.startswith(WORKFLOW_PREFIXES):
        return "workflow"
    if path.startswith("/api/"):
        return "iaso"
    if path.startswith(OGC_PREFIXES) and wants_json():
        return "ogc"
    if request.headers.get("HX-Request") == "true":
        return "htmx"
    return "page"


def error_response(status: int, title: str, message: str, details: dict | None = None, headers: dict | None = None,
                   code: str | None = None):
    family = error_family()
    details = details or {}
    if family == "workflow":
        response = jsonify({"success": False, "message": message, "error_code": (code or HTTP_CODES.get(status, "error")).upper(),
                            "details": details})
    elif family == "iaso":
        response = jsonify({"error": message, "details": details})
    elif family == "ogc":
        body = {"type": OGC_TYPES.get(status, "about:blank"), "title": title, "status": status, "detail": message}
        if details:
            body["details"] = details
        response = jsonify(body)
        response.mimetype = "application/problem+json"
    elif family == "htmx":
        response = _html_response(render_template("_toast.html", level="error", message=message, details=details))
        response.headers["HX-Retarget"] = "#toasts"
        response.headers["HX-Reswap"] = "beforeend"
    else:
        response = _html_response(render_template("error.html", status=status, title=title, message=message, details=details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    response.vary.add("HX-Request")
    return response


def _html_response(html: str):
    from flask import make_response

    return make_response(html)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
        if exc.status == 401:
            headers = {"WWW-Authenticate": "Bearer"}
        return error_response(exc.status, exc.title, exc.message, exc.details, headers, code=exc.code)

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(400, "Form expired or forged",
                              f"The request was refused: {exc.description} Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return error_response(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        from app.extensions import db

        db.session.rollback()
        return error_response(500, "Internal error", "Something went wrong on our side; it has been logged.")
