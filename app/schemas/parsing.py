"""Inputs → validated models, or one ValidationFailed that names every bad field.

JSON bodies are validated strictly from their raw bytes (pydantic's own JSON parser: JSON types are
kept, so `true` is never 1 and `2.7` never 2; dates come as ISO strings). Query strings and forms
are text, validated in lax mode (text → numbers, dates, booleans), within the same bounds.
"""
from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from app.services.platform.errors import ValidationFailed

M = TypeVar("M", bound=BaseModel)


class Input(BaseModel):
    """Base of every input schema: unknown fields are errors (a client's typo is never dropped)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def Unchanged(**kwargs):  # noqa: N802 — reads as a default value
    """The default of a field a change may leave out but never clear (a name, a required link):
    absent means "unchanged", null is refused (by the model's validator), and the document shows no
    null default."""
    return Field(default=None, json_schema_extra=_no_default, **kwargs)


def Derived(**kwargs):  # noqa: N802 — reads as a default value
    """The default of a field that, when not given, a validator derives from the others (the field's
    validator runs on the default too); the document shows no default."""
    return Field(default=None, validate_default=True, json_schema_extra=_no_default, **kwargs)


def fold_aliases(data: Any, aliases: dict[str, str]) -> Any:
    """`data` with each alias renamed to its field (`{"team_id": 3}` → `{"team": 3}`) — for a
    `model_validator(mode="before")`, so clients' other names are accepted and every error names the
    field itself. Given both ways, the alias is left in place and refused as an unknown field."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for alias, name in aliases.items():
        if alias in data and name not in data:
            data[name] = data.pop(alias)
    return data


def field_errors(exc: ValidationError) -> dict[str, list[str]]:
    """pydantic's errors as {dotted field: [messages]} (the body itself is `body`). A field that may
    be left out but not cleared (`X | SkipJsonSchema[None]`) is a union to pydantic: its errors name
    the field, without the union's member and without "input should be None"."""
    errors = exc.errors(include_url=False, include_input=False)
    unions = {error["loc"][:-1] for error in errors if error["type"] == "none_required" and error["loc"][-1:] == ("none",)}
    details: dict[str, list[str]] = {}
    for error in errors:
        loc = error["loc"]
        base = next((loc[:n] for n in range(len(loc) - 1, -1, -1) if loc[:n] in unions), None)
        if base is not None:
            if error["type"] == "none_required":
                continue
            loc = base + loc[len(base) + 1:]
        location = ".".join(str(part) for part in loc) or "body"
        details.setdefault(location, []).append(_message(error))
    return details


def by_form_field(details: dict[str, list[str]]) -> dict[str, list[str]]:
    """Errors keyed by the form field they belong to (a page shows them under it): a place inside a
    field (`quantities.1`) is named in the message instead."""
    out: dict[str, list[str]] = {}
    for place, messages in details.items():
        field, _, inside = place.partition(".")
        out.setdefault(field, []).extend(f"{inside}: {m}" if inside else m for m in messages)
    return out


def _message(error: dict) -> str:
    kind, message, context = error["type"], error["msg"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "is not a field of this request"
    if kind == "missing" or (kind in ("string_too_short", "too_short") and context.get("min_length") == 1):
        return "is required"  # an empty text or an empty list where one item is the least
    if kind in ("model_type", "model_attributes_type", "dict_type") and not error["loc"]:
        return "must be a JSON object"
    if kind == "json_invalid":
        return f"is not valid JSON ({message.removeprefix('Invalid JSON: ')})"
    if kind.startswith("value_error"):
        return message.removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else kind


def _raise(exc: ValidationError, summary: str):
    details = field_errors(exc)
    named = "; ".join(f"{field}: {messages[0]}" for field, messages in details.items())
    raise ValidationFailed(f"{summary} — {named}", details) from None


def validate_json(model: type[M], raw: bytes | str, summary: str = "Invalid input") -> M:
    """A JSON document (the raw body) as `model`, strictly."""
    try:
        return model.model_validate_json(raw or b"null", strict=True)
    except ValidationError as exc:
        _raise(exc, summary)


def validate_data(model: type[M], data: Any, summary: str = "Invalid input", strict: bool = False) -> M:
    """Already-decoded data (a form, a query string, a stored inputs dict) as `model`. Outside strict
    mode a blank field counts as not given (an empty select or search box: the default applies)."""
    if not strict and isinstance(data, dict):
        data = {key: value for key, value in data.items() if value != ""}
    try:
        return model.model_validate(data, strict=strict)
    except ValidationError as exc:
        _raise(exc, summary)


class AliasedInput(Input):
    """An input whose fields clients also send under other names (the seeds' spellings): `aliases` maps
    a field to its other names. The first name given a value (not null, not "") wins, so a sender
    filling `ticket_number` and leaving `id` empty is read as meant; the others are dropped. The
    document lists each alias beside its field. A null for a field with a default is that default
    (senders write `"description": null` for "none")."""

    aliases: ClassVar[dict[str, tuple[str, ...]]] = {}

    @model_validator(mode="before")
    @classmethod
    def _fold_aliases(cls, data):
        return cls.folded(data)

    @classmethod
    def folded(cls, data):
        """`data` with every alias under its field's name (a copy; anything but a dict as is)."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for field, others in cls.aliases.items():
            names = [name for name in (field, *others) if name in data]
            if not names:
                continue
            given = [data.pop(name) for name in names]
            data[field] = next((value for value in given if value not in (None, "")), given[0])
        for name, info in cls.model_fields.items():
            if data.get(name, "") is None and not info.is_required() and info.default is not None:
                del data[name]
        return data

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema, handler):
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        properties = target.get("properties", {})
        for field, others in cls.aliases.items():
            if field not in properties:
                continue
            if field in target.get("required", []):
                target["required"] = [name for name in target["required"] if name != field]
                described = properties[field].get("description", "").rstrip(".")
                properties[field] = {**properties[field], "description": (
                    f"{described}. " if described else "") + f"Required, as {field} or one of its aliases."}
            for name in others:
                properties[name] = {**properties[field], "description": f"Alias of {field}."}
        if "required" in target and not target["required"]:
            del target["required"]
        return schema


def not_cleared(*fields: str):
    """A change model's validator for `fields`: they may be left out, never set to null ("is required")."""
    def check(cls, value):
        if value is None:
            raise ValueError("is required")
        return value

    return field_validator(*fields)(classmethod(check))
