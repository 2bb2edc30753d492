"""Constrained types every input schema is built from."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timezone
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, Field, StringConstraints, ValidationInfo, WithJsonSchema

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
Search = Annotated[Text(200) | None, BeforeValidator(_blank_is_none)]
Page = Annotated[int, Field(ge=1, le=1_000_000)]
# A free-form JSON object (task data, GeoJSON): bounded depth, and text PostgreSQL can store.
JsonObject = Annotated[dict[str, Any], AfterValidator(_storable_json)]


def _project_scope(raw, info: ValidationInfo):
    """A project id, or null / "*" for every project (a form's number arrives as text)."""
    if raw is None or raw == "*":
        return raw
    if isinstance(raw, str) and info.mode == "python" and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= INT32_MAX:
        raise ValueError(f'must be a project id, or "*" for every project, got {raw!r}')
    return raw


# The project of a row that may instead apply to every project (SLA configs, rules, webhook endpoints):
# an id, or null / "*" for every project.
ProjectScope = Annotated[int | str | None, BeforeValidator(_project_scope), WithJsonSchema({
    "anyOf": [{"type": "integer", "minimum": 1, "maximum": INT32_MAX}, {"type": "string", "enum": ["*"]}],
    "nullable": True})]


def Choice(values, aliases: dict[str, str] | None = None, what: str | None = None):  # noqa: N802 — a type factory
    """One of `values` (case-insensitive, stripped), or one of `aliases` standing for one of them (read
    as the value it stands for). A bad one is refused with the list of values; the document lists the
    values and the aliases."""
    values, aliases = tuple(values), dict(aliases or {})

    def pick(raw):
        text = raw.strip().lower() if isinstance(raw, str) else None
        value = aliases.get(text, text)
        if value not in values:
            raise ValueError(f"must be one of {', '.join(values)}, got {raw!r}")
        return value

    schema = {"type": "string", "enum": [*values, *(a for a in aliases if a not in values)]}
    if aliases:
        schema["description"] = (what + ". " if what else "") + "Aliases: " + ", ".join(
            f"{alias} = {value}" for alias, value in aliases.items())
    elif what:
        schema["description"] = what
    return Annotated[str, BeforeValidator(pick), WithJsonSchema(schema)]


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory of zones: OSError
        raise ValueError(f"is not a known time zone (e.g. Africa/Nairobi, Europe/Berlin, UTC), got {name!r}") from None
    return name


# An IANA time zone name (Africa/Nairobi).
TimeZone = Annotated[Text(64, min_length=1), AfterValidator(_known_zone)]

YEARS = (1900, 2999)  # dates outside are typos, and date arithmetic (due = received + 14 days) stays in range


def read_datetime(raw) -> datetime:
    """An ISO 8601 date or date-time (as text or a datetime) in UTC; ValueError saying why not."""
    try:
        if isinstance(raw, datetime):
            parsed = raw
        elif isinstance(raw, str):
            text = raw.strip()
            parsed = (datetime.combine(date.fromisoformat(text), time()) if len(text) == 10
                      else datetime.fromisoformat(text.replace("Z", "+00:00")))
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date or time like 2026-03-01T09:30:00Z, got {raw!r}") from None
    if not YEARS[0] <= parsed.year <= YEARS[1]:
        raise ValueError(f"must be a date between the years {YEARS[0]} and {YEARS[1]}, got {raw!r}")
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


# An ISO 8601 date or date-time (a date is its midnight UTC; a time without offset is UTC).
When = Annotated[datetime, BeforeValidator(read_datetime),
                 WithJsonSchema({"type": "string", "format": "date-time",
                                 "description": "ISO 8601 date-time (a date alone is its midnight UTC)"})]


def Slug(max_length: int = 40, spaces: bool = False, star: bool = False, blank: bool = False):  # noqa: N802
    """A short lowercase name (a task type, a service area): letters, digits, `_` and `-` (and spaces
    if `spaces`; "*" for "any" if `star`; "" for none if `blank`), read lowercased."""
    inner = "a-z0-9_ -" if spaces else "a-z0-9_-"
    pattern = rf"^[a-z0-9][{inner}]{{0,{max_length - 1}}}$"
    rule = re.compile(pattern)
    message = ('must be "*" (any) or a short lowercase name' if star else "must be a short lowercase name") + \
        f" (letters, digits, _ and -; at most {max_length} characters)" + (", or empty" if blank else "")

    def read(raw):
        text = raw.strip().lower() if isinstance(raw, str) else None
        if text is None or not (rule.match(text) or (star and text == "*") or (blank and text == "")):
            raise ValueError(f"{message}, got {raw!r}")
        return text

    schema = {"type": "string", "pattern": f"^(\\*|{pattern[1:-1]})$" if star else pattern, "maxLength": max_length}
    if blank:
        schema["pattern"] = f"^(|{schema['pattern'][1:-1]})$"
    return Annotated[str, BeforeValidator(read), WithJsonSchema(schema)]
