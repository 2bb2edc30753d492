"""List responses: {items, _meta, _links} with a capped page size."""
from __future__ import annotations

from typing import Callable

from flask import current_app, request, url_for
from sqlalchemy import Select

from app.extensions import db
from app.services.platform.access import parse_int
from app.services.platform.errors import FieldErrors


def page_args(default_limit: int = 50) -> tuple[int, int]:
    errors = FieldErrors()
    page = parse_int(request.args.get("page", 1), errors, "page", minimum=1)
    limit = parse_int(request.args.get("limit", default_limit), errors, "limit", minimum=1)
    errors.raise_if_any("Invalid paging")
    return page, min(limit, current_app.config["API_MAX_PAGE_SIZE"])


def paginated(stmt: Select, serialize: Callable, default_limit: int = 50) -> dict:
    page, limit = page_args(default_limit)
    result = db.paginate(stmt, page=page, per_page=limit, max_per_page=limit, error_out=False)
    args = request.args.to_dict()

    def link(p: int) -> str:
        return url_for(request.endpoint, **{**(request.view_args or {}), **args, "page": p, "limit": limit}, _external=False)

    links = {"self": link(page)}
    if result.has_next:
        links["next"] = link(page + 1)
    if result.has_prev:
        links["prev"] = link(page - 1)
    return {
        "items": [serialize(row) for row in result.items],
        "_meta": {"page": page, "limit": limit, "total": result.total, "pages": result.pages},
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
    from werkzeug.exceptions import BadRequest

    from app.services.platform.errors import ValidationFailed

    try:
        data = request.get_json(silent=not request.is_json)
    except BadRequest as exc:
        reason = (exc.description or "").removeprefix("Failed to decode JSON object: ")
        raise ValidationFailed(f"The request body is not valid JSON: {reason}", {"body": [reason]}) from None
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", {"body": ["must be a JSON object"]})
    return data
