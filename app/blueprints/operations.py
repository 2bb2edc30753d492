"""Declared API operations: what a JSON route accepts (body and query schemas), what it answers (one
schema per status), and who may call it. `operation(...)` authenticates first, then parses the body
and query string with their schemas and hands the view validated models (`body=`, `query=`); the
OpenAPI document (`app/blueprints/ogc/openapi.py`) is generated from the same declarations.

A route that serves browsers too (OGC `/processes`, `/jobs`) names its page view (`html=`): a request
that neither asks for JSON nor carries a Bearer token gets the page; only JSON clients' requests are
authenticated and parsed here.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from functools import wraps
from typing import Any, Callable

from flask import request
from pydantic import BaseModel

from app.errors import ogc_json_client
from app.schemas.parsing import validate_data, validate_json

# A user's Bearer token; a user's or a pipeline run's; none; a Bearer token or a browser session (OGC);
# the same for a change (a session request needs its CSRF token).
AUTH = ("user", "actor", "public", "session-or-token", "session-or-token-csrf")


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    # status → the model of the body answered with it (None: no body, or the family's error body for
    # a status ≥ 400); 400, 401, 403, 404 (ids in the path) and 413 (a body) are added by family
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    body_required: bool = True  # False: no body at all reads as `body()` (every field's default)
    # The body's variants for the document (the execute request of each process), when the body model
    # reads them all; called when the document is made.
    body_variants: Callable[[], list[type[BaseModel]]] | None = None
    # OpenAPI the models cannot say (a header parameter, response headers, the values a path parameter
    # takes), merged into the operation; a callable is called when the document is made.
    extra: dict | Callable[[], dict] = field(default_factory=dict)


def _authenticate(auth: str) -> None:
    from app.security import api_actor, api_user, changing_actor, current_actor

    if auth == "user":
        api_user()
    elif auth == "actor":
        api_actor()
    elif auth == "session-or-token":
        current_actor()
    elif auth == "session-or-token-csrf":
        changing_actor()


def _is_list(annotation) -> bool:
    if typing.get_origin(annotation) in (list, tuple, set):
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation) if arg is not type(None))


def list_fields(model: type[BaseModel]) -> set[str]:
    """The names under which `model` takes a list."""
    return {f.alias or name for name, f in model.model_fields.items() if _is_list(f.annotation)}


def bool_fields(model: type[BaseModel]) -> set[str]:
    """The names under which `model` takes true or false."""
    return {f.alias or name for name, f in model.model_fields.items() if f.annotation is bool}


def query_dict(model: type[BaseModel]) -> dict[str, Any]:
    """The query string as the model reads it: repeated or comma-separated values for list fields."""
    lists = list_fields(model)
    out: dict[str, Any] = {}
    for key in request.args:
        if key in lists:
            out[key] = [part for raw in request.args.getlist(key) for part in raw.split(",") if part != ""]
        else:
            out[key] = request.args.get(key)
    return out


def operation(*, responses: dict[int, type[BaseModel] | None], body: type[BaseModel] | None = None,
              query: type[BaseModel] | None = None, auth: str = "user", summary: str | None = None,
              tags: tuple[str, ...] = (), body_required: bool = True, html: Callable | None = None,
              body_variants: Callable[[], list[type[BaseModel]]] | None = None,
              extra: dict | Callable[[], dict] | None = None) -> Callable:
    """Declare a JSON route (its page view `html` serves browsers). The caller is authenticated before
    anything of the request is read. `body_required=False`: the body may be left out (an action whose
    only field is optional)."""
    if auth not in AUTH:
        raise ValueError(f"auth must be one of {AUTH}")

    def decorate(view: Callable) -> Callable:
        spec = Operation((summary or (view.__doc__ or view.__name__).strip().splitlines()[0]).strip(), auth,
                         body, query, dict(responses), tuple(tags), body_required, body_variants, extra or {})

        @wraps(view)
        def wrapper(*args, **kwargs):
            if html is not None and not ogc_json_client():
                return html(*args, **kwargs)
            _authenticate(auth)
            if body is not None:
                raw = request.get_data(cache=True)
                kwargs["body"] = (body() if not body_required and not raw.strip()
                                  else validate_json(body, raw, "Invalid request body"))
            if query is not None:
                kwargs["query"] = validate_data(query, query_dict(query), "Invalid query")
            return view(*args, **kwargs)

        wrapper.__operation__ = spec
        return wrapper

    return decorate


def operation_of(view: Callable) -> Operation | None:
    return getattr(view, "__operation__", None)
