"""List responses: {items, _meta, _links} with a capped page size. The rows come from a service as a
`Page` (`app/services/platform/paging.py`); this module reads the paging arguments and builds the links."""
from __future__ import annotations

from typing import Callable

from flask import current_app, request, url_for
from werkzeug.exceptions import BadRequest

from app.services.platform.access import parse_int
from app.services.platform.errors import FieldErrors, ValidationFailed, json_object
from app.schemas.common import Paging
from app.services.platform.paging import Page


def page_args(default_limit: int = 50) -> tuple[int, int]:
    """(page, limit) from the query string: page ≥ 1, limit ≥ 1 and capped at API_MAX_PAGE_SIZE."""
    errors = FieldErrors()
    page = parse_int(request.args.get("page", 1), errors, "page", minimum=1)
    limit = parse_int(request.args.get("limit", default_limit), errors, "limit", minimum=1)
    errors.raise_if_any("Invalid paging")
    return page, min(limit, current_app.config["API_MAX_PAGE_SIZE"])


def paging(query: Paging, default_limit: int = 50) -> tuple[int, int]:
    """(page, limit) of a parsed query: the limit defaults to `default_limit`, capped at API_MAX_PAGE_SIZE."""
    return query.page, min(query.limit or default_limit, current_app.config["API_MAX_PAGE_SIZE"])


def paginated(result: Page, serialize: Callable) -> dict:
    """The list shape of one page: its items serialized, the paging numbers, and self/next/prev links."""
    args = request.args.to_dict()

    def link(p: int) -> str:
        return url_for(request.endpoint, **{**(request.view_args or {}), **args, "page": p, "limit": result.limit},
                       _external=False)

    links = {"self": link(result.page)}
    if result.has_next:
        links["next"] = link(result.page + 1)
    if result.has_prev:
        links["prev"] = link(result.page - 1)
    return {
        "items": [serialize(row) for row in result.items],
        "_meta": {"page": result.page, "limit": result.limit, "total": result.total, "pages": result.pages},
        "_links": links,
    }


def int_arg(name: str) -> int | None:
    """An optional integer query argument; a bad one is a 400 naming it."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    errors = FieldErrors()
    value = parse_int(raw, errors, name)
    errors.raise_if_any("Invalid query")
    return value


def json_body() -> dict:
    """The request's JSON object, or a 400 saying why it is not one (not JSON, not UTF-8, nested too
    deeply, text that cannot be stored — see `app.request_limits`)."""
    try:
        data = request.get_json(silent=not request.is_json)
    except BadRequest as exc:
        reason = (exc.description or "").removeprefix("Failed to decode JSON object: ")
        raise ValidationFailed(f"The request body is not valid JSON: {reason}", {"body": [reason]}) from None
    return json_object(data)
