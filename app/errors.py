"""Every error response is built here, in the shape its family of clients expects (one builder each):

- workflow JSON (/api/workflow/..., /tasks/api/...): {"success": false, "message", "error_code", "details"}
- Iaso-style JSON (/api/...):                       {"error": message, "details": {...}}
- OGC API – Processes (/processes, /jobs, /conformance) for JSON clients: RFC 7807 problem JSON whose
  `type` names the OGC exception the error is (see `ogc_problem_type`), `about:blank` otherwise
- /metrics:                                         plain text (Prometheus shows it as the scrape error)
- HTMX partial requests:                            a toast, retargeted into #toasts
- pages:                                            an error page

Views and services never build error bodies: they raise domain errors (or HTTP exceptions).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.services.platform.errors import DomainError, RateLimited, ValidationFailed
from app.services.processing.errors import NoSuchJob, NoSuchProcess, ResultNotReady

log = logging.getLogger(__name__)

WORKFLOW_PREFIXES = ("/api/workflow/", "/tasks/api/")
OGC_PREFIXES = ("/processes", "/jobs", "/conformance")
PLAIN_TEXT_REALMS = {"/metrics": "metrics"}  # path → the Bearer realm its 401s name
OGC_EXCEPTIONS = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
# Domain error class → OGC API – Processes exception type; the first match wins.
OGC_TYPES = (
    (NoSuchProcess, "no-such-process"),
    (NoSuchJob, "no-such-job"),
    (ResultNotReady, "result-not-ready"),
    (ValidationFailed, "invalid-parameter-value"),
)
GENERIC_PROBLEM = "about:blank"  # RFC 7807: the HTTP status says it all

HTTP_CODES = {400: "bad_request", 401: "unauthenticated", 403: "permission_denied", 404: "not_found",
              405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 429: "rate_limited",
              500: "internal_error"}


@dataclass(frozen=True)
class Failure:
    """What went wrong, whatever the family answering it."""

    status: int
    title: str
    message: str
    details: dict = field(default_factory=dict)
    code: str | None = None  # the workflow family's error_code (from the status when None)
    problem_type: str = GENERIC_PROBLEM  # the OGC family's problem `type`
    headers: dict = field(default_factory=dict)


def wants_json() -> bool:
    """True when the client asked for JSON (f=json or an Accept header preferring it). Any `f` but
    html is a JSON client's (an unknown format is refused in JSON, not answered with a page)."""
    fmt = request.args.get("f")
    if fmt:
        return fmt != "html"
    if request.headers.get("HX-Request") == "true":
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or (
        request.accept_mimetypes["application/json"] >= request.accept_mimetypes["text/html"]
        and request.accept_mimetypes["application/json"] > 0
    )


def ogc_json_client() -> bool:
    """A JSON client of the OGC paths: it asked for JSON, sent JSON, or authenticates with a Bearer token."""
    return wants_json() or request.is_json or request.headers.get("Authorization", "").startswith("Bearer ")


def error_family() -> str:
    path = request.path
    if path.startswith(WORKFLOW_PREFIXES):
        return "workflow"
    if path.startswith("/api/"):
        return "iaso"
    if path.startswith(OGC_PREFIXES) and ogc_json_client():
        return "ogc"
    if path in PLAIN_TEXT_REALMS:
        return "plain"
    if request.headers.get("HX-Request") == "true":
        return "htmx"
    return "page"


def ogc_problem_type(exc: Exception) -> str:
    """The OGC exception type an error is, by its class (never by its message)."""
    for error_class, name in OGC_TYPES:
        if isinstance(exc, error_class):
            return OGC_EXCEPTIONS + name
    return GENERIC_PROBLEM


# --- one builder per family ------------------------------------------------------------------

def error_code(failure: Failure) -> str:
    """The machine-readable code of a failure (VALIDATION_FAILED, INVALID_TRANSITION, NOT_FOUND, …)."""
    return (failure.code or HTTP_CODES.get(failure.status, "error")).upper()


def workflow_error(failure: Failure) -> Response:
    body = {"success": False, "message": failure.message, "error_code": error_code(failure), "details": failure.details}
    if failure.status == 403:
        body["detail"] = "Insufficient permissions"  # the seed's 403 body (`message` says which permission)
    return jsonify(body)


def iaso_error(failure: Failure) -> Response:
    """Iaso's `{"error", "details"}`; `details` carries the `code` (the seed's error format)."""
    return jsonify({"error": failure.message, "details": {**failure.details, "code": error_code(failure)}})


def ogc_problem(failure: Failure) -> Response:
    body = {"type": failure.problem_type, "title": failure.title, "status": failure.status, "detail": failure.message}
    if failure.details:
        body["details"] = failure.details
    response = jsonify(body)
    response.mimetype = "application/problem+json"
    return response


def plain_text_error(failure: Failure) -> Response:
    response = make_response(failure.message + "\n")
    response.mimetype = "text/plain"
    if failure.status == 401:
        response.headers["WWW-Authenticate"] = f'Bearer realm="{PLAIN_TEXT_REALMS[request.path]}"'
    return response


def htmx_toast(failure: Failure) -> Response:
    response = make_response(render_template("_toast.html", level="error", message=failure.message,
                                             details=failure.details))
    response.headers["HX-Retarget"] = "#toasts"
    response.headers["HX-Reswap"] = "beforeend"
    return response


def error_page(failure: Failure) -> Response:
    return make_response(render_template("error.html", status=failure.status, title=failure.title,
                                         message=failure.message, details=failure.details))


BUILDERS = {"workflow": workflow_error, "iaso": iaso_error, "ogc": ogc_problem, "plain": plain_text_error,
            "htmx": htmx_toast, "page": error_page}


def error_response(failure: Failure) -> Response:
    """The failure in the shape this request's family expects, with its status and headers."""
    response = BUILDERS[error_family()](failure)
    response.status_code = failure.status
    for name, value in failure.headers.items():
        response.headers.setdefault(name, value)  # a family's own header (a realm) wins
    response.vary.add("HX-Request")
    return response


def domain_failure(exc: DomainError) -> Failure:
    headers = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Failure(exc.status, exc.title, exc.message, exc.details, code=exc.code,
                   problem_type=ogc_problem_type(exc), headers=headers)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return error_response(domain_failure(exc))

    @app.errorhandler(CSRFError)
    def _csrf(exc: CSRFError):
        return error_response(Failure(400, "Form expired or forged",
                                      f"The request was refused: {exc.description} Reload the page and try again."))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        return error_response(Failure(exc.code or 500, exc.name, exc.description or exc.name))

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        from app.extensions import db

        try:  # first, so nothing below (logging, templates) meets a failed transaction
            db.session.rollback()
        except Exception:  # noqa: BLE001 — a broken connection must not stop the answer
            pass
        log.exception("unhandled error on %s %s", request.method, request.path)
        failure = Failure(500, "Internal error", "Something went wrong on our side; it has been logged.")
        try:
            return error_response(failure)
        except Exception:  # noqa: BLE001 — the handler of last resort never raises
            log.exception("the error page itself failed on %s %s", request.method, request.path)
            return last_resort(failure)


def last_resort(failure: Failure) -> Response:
    """A minimal answer when even the family's builder failed: JSON for API paths, text otherwise."""
    if request.path.startswith("/api/") or request.path.startswith(WORKFLOW_PREFIXES):
        response = Response('{"error": "Internal error", "details": {}}', mimetype="application/json")
    else:
        response = Response(failure.message + "\n", mimetype="text/plain")
    response.status_code = failure.status
    return response
