"""One page of a query's rows: for the JSON APIs (`Page`: the rows, where the page is, how many there
are — the API builds its `{items, _meta, _links}` shape from it) and for pages (`page_of`: Flask-SQLAlchemy's
pagination, which templates page through). A page number out of bounds is a 400 naming `page`."""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from sqlalchemy import Select

from flask_sqlalchemy.pagination import Pagination

from app.extensions import db
from app.services.platform.errors import ValidationFailed

MAX_PAGE = 1_000_000  # deeper than any list here; beyond it OFFSET arithmetic overflows


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    limit: int
    total: int

    @property
    def pages(self) -> int:
        return ceil(self.total / self.limit) if self.total else 0

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def _checked(page) -> int:
    page = 1 if page is None else page
    if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= MAX_PAGE:
        raise ValidationFailed(f"Invalid page {page!r}", {"page": [f"must be a whole number from 1 to {MAX_PAGE}"]})
    return page


def page_of(stmt: Select, page: int | None, per_page: int) -> Pagination:
    """Page `page` (1 when None) of `stmt` for a page's table; a page past the end is empty."""
    return db.paginate(stmt, page=_checked(page), per_page=per_page, max_per_page=per_page, error_out=False)


def paginate(stmt: Select, page: int, limit: int) -> Page:
    """Rows `limit * (page - 1)` onwards of `stmt` (at most `limit`) and the total count; a page past
    the end is empty."""
    result = page_of(stmt, page, limit)
    return Page(list(result.items), result.page, limit, result.total)
