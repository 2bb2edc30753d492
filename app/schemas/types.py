"""Constrained types every input schema is built from."""
from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

INT32_MAX = 2**31 - 1  # PostgreSQL `integer` columns (every id here)
INT64_MAX = 2**63 - 1
JSON_MAX_DEPTH = 64  # free-form JSON (task data, geometry, stored inputs)


def unstorable_text(value: str) -> str | None:
    """Why PostgreSQL could not store this text, or None."""
    if "\x00" in value:
        return "contains a NUL character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def check_json_value(value, where: str = "body", max_depth: int = JSON_MAX_DEPTH) -> None:
    """Raise ValueError naming the first place (`where.key.0…`) nested too deeply or holding text
    PostgreSQL cannot store (iterative: a hostile document cannot exhaust the stack)."""
    stack = [(value, where, 1)]
    while stack:
        node, place, depth = stack.pop()
        if depth > max_depth:
            raise ValueError(f"{place} is nested more than {max_depth} levels deep")
        if isinstance(node, dict):
            for key, child in node.items():
                problem = unstorable_text(key)
                if problem:
                    raise ValueError(f"a key in {place} {problem}")
                stack.append((child, f"{place}.{key}", depth + 1))
        elif isinstance(node, list):
            stack.extend((child, f"{place}.{i}", depth + 1) for i, child in enumerate(node))
        elif isinstance(node, str):
            problem = unstorable_text(node)
            if problem:
                raise ValueError(f"{place} {problem}")


def _printable(value: str) -> str:
    """Refuse what PostgreSQL text cannot store (NUL) and what UTF-8 cannot encode (lone surrogates)."""
    problem = unstorable_text(value)
    if problem:
        raise ValueError(f"must not contain {problem.removeprefix('contains ')}")
    return value


def _storable_json(value):
    check_json_value(value, where="the value")
    return value


def Text(max_length: int, min_length: int = 0, strip: bool = True):  # noqa: N802 — a type factory reads like a type
    """A string of at most `max_length` characters (at least `min_length`), stripped unless `strip` is
    False (a message kept as typed)."""
    return Annotated[str, StringConstraints(strip_whitespace=strip, min_length=min_length, max_length=max_length),
                     AfterValidator(_printable)]


def _blank_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


# A row id: a positive integer within the column's range (larger ones cannot exist: a 404, not a 500).
Id = Annotated[int, Field(ge=1, le=INT32_MAX)]
# An optional id from a form or query string, where an empty field means "none".
OptionalId = Annotated[Id | None, BeforeValidator(_blank_is_none)]
Name = Text(255, min_length=1)
ShortText = Text(255)
LongText = Text(10_000)
Search = Annotated[str | None, BeforeValidator(_blank_is_none), Text(200)]
Page = Annotated[int, Field(ge=1, le=1_000_000)]
# A free-form JSON object (task data, GeoJSON): bounded depth, and text PostgreSQL can store.
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]
