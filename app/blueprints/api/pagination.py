"""List responses: {items, _meta, _links} with a capped page size. The rows come from a service as a
`Page` (`app/services/platform/paging.py`); this module reads the paging arguments and builds the links."""
from __future__ import annotations

from typing import Callable

from flask import current_app, request, url_for

from app.schemas.common import Paging
from app.schemas.parsing import validate_data
from app.services.platform.paging import Page


def page_args(default_limit: int = 50) -> tuple[int, int]:
    """(page, limit) from the query string (its other arguments are the route's): page ≥ 1, limit ≥ 1
    and capped at API_MAX_PAGE_SIZE."""
    given = {name: request.args[name] for name in Paging.model_fields if name in request.args}
    return paging(validate_data(Paging, given, "Invalid paging"), default_limit)


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
