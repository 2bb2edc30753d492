"""What a page reads from its request, with the schema the service takes: the query string of a list
page (filters, page number) and the fields of a posted form. A bad value is a 400 naming it; a form
that comes back with its errors hands `form_data()` to its page service, which validates it."""
from __future__ import annotations

from typing import TypeVar

from flask import request
from pydantic import BaseModel

from app.blueprints.operations import bool_fields, list_fields, query_dict
from app.schemas.parsing import validate_data

M = TypeVar("M", bound=BaseModel)


def page_query(model: type[M]) -> M:
    """The page's query string as `model`."""
    return validate_data(model, query_dict(model), "Invalid query")


def form_data(model: type[BaseModel]) -> dict:
    """The posted form as `model` reads it, the CSRF token left out: every list field of the model
    (checkboxes, multiple selects) as a list, empty when nothing is ticked, and every true/false field
    as its checkbox (false when not ticked)."""
    lists, checkboxes = list_fields(model), bool_fields(model)
    data = {key: request.form.get(key) for key in request.form if key != "csrf_token" and key not in lists}
    return {**data, **{name: request.form.getlist(name) for name in lists},
            **{name: data.get(name, False) for name in checkboxes}}


def included(model: type[M]) -> M:
    """`model`'s fields among what a request sends (query string and form): a page's filters that an
    action's request carries along with its own fields (the task board's)."""
    return validate_data(model, {name: request.values.get(name) for name in model.model_fields
                                 if name in request.values}, "Invalid query")
