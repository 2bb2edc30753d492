"""Execute forms generated from a process's input model: the fields to render, and a submitted form
read with the same model (lax: the form's text becomes numbers, dates, lists)."""
from __future__ import annotations

from dataclasses import dataclass

from app.schemas.parsing import validate_data
from app.services.processing.registry import Process, input_specs

CHOICES = "x-options"  # a schema naming where an input's choices come from (e.g. dhis2-connections)


@dataclass
class Field:
    name: str
    title: str
    kind: str  # text | number | integer | checkbox | select | date | json | connection
    required: bool
    default: object = None
    choices: tuple = ()
    minimum: object = None
    maximum: object = None


def _value_schema(schema: dict) -> dict:
    """The schema of a given value: an optional input's `anyOf [X, null]` is X."""
    options = [option for option in schema.get("anyOf", ()) if option.get("type") != "null"]
    return {**schema, **options[0]} if len(options) == 1 else schema


def _kind(schema: dict) -> str:
    if schema.get(CHOICES) == "dhis2-connections":
        return "connection"
    if "enum" in schema:
        return "select"
    if schema.get("format") == "date":
        return "date"
    if "anyOf" in schema or schema.get("type") in ("array", "object"):
        return "json"  # a list or object, typed as JSON (lists also comma-separated)
    return {"boolean": "checkbox", "integer": "integer", "number": "number"}.get(schema.get("type"), "text")


def form_fields(process: Process) -> list[Field]:
    fields = []
    for spec in input_specs(process):
        schema = _value_schema(spec.schema)
        fields.append(Field(spec.name, spec.title, _kind(schema), spec.required, schema.get("default"),
                            tuple(schema.get("enum", ())), schema.get("minimum"), schema.get("maximum")))
    return fields


def inputs_from_form(process: Process, form) -> dict:
    """The submitted form read with the process's model (an unticked box is false; an empty field is not
    given, so its default applies), as the JSON values the job engine takes. ValidationFailed names
    each bad field."""
    values = {field.name: form.get(field.name) in ("on", "true", "1") if field.kind == "checkbox"
              else form.get(field.name, "") for field in form_fields(process)}
    return validate_data(process.inputs, values, f"Invalid inputs for {process.id}").model_dump(mode="json")
