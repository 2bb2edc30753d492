"""One page of a query's rows for the JSON APIs: the rows, where the page is, and how many there are.
The API builds its `{items, _meta, _links}` shape from it (`app/blueprints/api/pagination.py`)."""
from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from sqlalchemy import Select

from app.extensions import db


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


def paginate(stmt: Select, page: int, limit: int) -> Page:
    """Rows `limit * (page - 1)` onwards of `stmt` (at most `limit`) and the total count; a page past
    the end is empty."""
    result = db.paginate(stmt, page=page, per_page=limit, max_per_page=limit, error_out=False)
    return Page(list(result.items), page, limit, result.total)
