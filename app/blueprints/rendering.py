"""One template, two uses: a full page, or its partial for an HTMX request."""
from __future__ import annotations

from flask import make_response, render_template, request


def is_partial_request() -> bool:
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def page_or_partial(page_template: str, partial_template: str, status_code: int = 200, **context):
    """Render the partial for HTMX requests, the page (which includes it) otherwise."""
    template = partial_template if is_partial_request() else page_template
    response = make_response(render_template(template, **context), status_code)
    response.vary.add("HX-Request")
    return response
