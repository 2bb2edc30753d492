"""Constrained types every input schema is built from."""
from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints

INT32_MAX = 2**31 - 1  # PostgreSQL `integer` columns (every id here)
INT64_MAX = 2**63 - 1


def _printable(value: str) -> str:
    """Refuse what PostgreSQL text cannot store (NUL) and what UTF-8 cannot encode (lone surrogates)."""
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    return value


def Text(max_length: int, min_length: int = 0):  # noqa: N802 — a type factory reads like a type
    """A stripped string of at most `max_length` characters (at least `min_length`)."""
    return Annotated[str, StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
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
