"""What the web layer refuses before any view runs, so no input can become a 5xx:

- bodies over MAX_CONTENT_LENGTH → 413 (werkzeug raises it; `app.errors` answers in the family's shape);
- JSON that is not UTF-8, nested deeper than JSON_MAX_DEPTH, or holding text PostgreSQL cannot store
  (NUL, lone surrogates) → 400 naming where;
- ids in URLs beyond the integer columns' range → 404 (the `int` converter is bounded);
- NUL characters in query strings and form fields → 400 naming the field.
"""
from __future__ import annotations

import json

from flask import Flask, Request, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.routing import IntegerConverter, ValidationError

from app.schemas.types import INT32_MAX, JSON_MAX_DEPTH, check_json_value, unstorable_text



class BoundedIntConverter(IntegerConverter):
    """`<int:…>` that matches only values an `integer` column can hold (a larger id cannot exist)."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002 — werkzeug's name
        kwargs.setdefault("max", INT32_MAX)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> int:
        try:
            return super().to_python(value)
        except ValidationError:
            # werkzeug's own answer would be 405 when a rule for another method shares the path
            # (PATCH /plannings/2147483648/ matches GET's pattern first); such an id is simply not found
            raise NotFound() from None


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing what would otherwise fail deep in a view (a RecursionError, a NUL
    that PostgreSQL rejects): `request.get_json()` turns the ValueError into a 400."""

    def loads(self, s, **kwargs):
        try:
            value = json.loads(s, **kwargs)
        except RecursionError:
            raise ValueError(f"body is nested more than {JSON_MAX_DEPTH} levels deep") from None
        check_json_value(value)
        return value


def _refuse_nul_in_fields() -> None:
    for source, values in (("query", request.args), ("form", request.form)):
        for name, value in values.items(multi=True):
            problem = unstorable_text(name) or unstorable_text(value)
            if problem:
                raise BadRequest(f"The {source} field {name.strip(chr(0))!r} {problem}.")


def _explained_json_failure(self, error):
    """Say why the body is not acceptable JSON (Flask says so only in debug mode)."""
    if error is None:  # not a JSON content type: Flask's own 415
        return Request.on_json_loading_failed(self, error)
    raise BadRequest(f"Failed to decode JSON object: {error}")


def init_app(app: Flask) -> None:
    """Call after the extensions (htmx-flask installs its request class; this one extends it)."""
    app.request_class = type("CheckedRequest", (app.request_class,),
                             {"on_json_loading_failed": _explained_json_failure})
    app.json = CheckedJSONProvider(app)
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(_refuse_nul_in_fields)
