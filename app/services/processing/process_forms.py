"""Execute forms generated from a process's input schema: fields to render, and form → inputs."""
from __future__ import annotations

import json
from dataclasses import dataclass

from app.services.processing.registry import Process


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


def form_fields(process: Process) -> list[Field]:
    fields = []
    for name, spec in process.inputs_schema.items():
        schema = spec.get("schema", {})
        kind = {"boolean": "checkbox", "integer": "integer", "number": "number"}.get(schema.get("type"), "text")
        if "enum" in schema:
            kind = "select"
        elif schema.get("format") == "date":
            kind = "date"
        elif "oneOf" in schema or schema.get("type") in ("array", "object"):
            kind = "json"
        if name == "connection" and process.id == "eo-aggregate-import":
            kind = "connection"
        fields.append(Field(name, spec.get("title", name), kind, spec.get("minOccurs", 0) >= 1,
                            schema.get("default"), tuple(schema.get("enum", ())), schema.get("minimum"), schema.get("maximum")))
    return fields


def inputs_from_form(process: Process, form) -> dict:
    """Typed inputs from a submitted form; empty optional fields are left out (defaults apply).
    Unparseable values are passed through as strings so the process's validation names them."""
    inputs: dict = {}
    for field in form_fields(process):
        raw = form.get(field.name, "")
        if field.kind == "checkbox":
            inputs[field.name] = form.get(field.name) in ("on", "true", "1")
            continue
        if raw == "":
            continue
        try:
            if field.kind in ("integer", "connection"):
                inputs[field.name] = int(raw)
            elif field.kind == "number":
                inputs[field.name] = float(raw)
            elif field.kind == "json":
                inputs[field.name] = json.loads(raw)
            else:
                inputs[field.name] = raw
        except ValueError:
            inputs[field.name] = raw
    return inputs
