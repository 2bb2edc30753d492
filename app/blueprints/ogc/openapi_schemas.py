"""pydantic models → OpenAPI 3.0 schemas (the dialect OGC API – Processes' `oas30` class names):
JSON Schema 2020-12 constructs rewritten — `anyOf [X, null]` → `nullable`, `const` → `enum`, numeric
`exclusiveMinimum`/`exclusiveMaximum` → the 3.0 boolean form, `examples` → `example` — and every
model's definitions gathered under `components/schemas`."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

REF = "#/components/schemas/{model}"


def _nullable(node: dict) -> dict:
    options = node.get("anyOf") or node.get("oneOf")
    if not isinstance(options, list):
        return node
    rest = [o for o in options if o != {"type": "null"}]
    if len(rest) == len(options):
        return node
    key = "anyOf" if "anyOf" in node else "oneOf"
    out = {k: v for k, v in node.items() if k != key}
    if len(rest) == 1 and "$ref" not in rest[0]:
        out.update(rest[0])
    else:
        out[key] = rest if len(rest) > 1 else None
        if out[key] is None:  # a single $ref cannot carry `nullable` next to it in 3.0
            del out[key]
            out["allOf"] = rest
    out["nullable"] = True
    return out


def to_oas30(node: Any) -> Any:
    """One JSON Schema (and everything inside it) in OpenAPI 3.0's dialect."""
    if isinstance(node, list):
        return [to_oas30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = _nullable({k: v for k, v in node.items()})
    out: dict = {}
    for key, value in node.items():
        if key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            out[key.replace("exclusive", "").lower()] = value
            out[key] = True
        elif key == "examples":
            out["example"] = value[0] if isinstance(value, list) and value else value
        elif key in ("properties", "patternProperties", "$defs"):
            out[key] = {name: to_oas30(schema) for name, schema in value.items()}
        else:
            out[key] = to_oas30(value)
    if "type" in out and isinstance(out["type"], list):  # ["string", "null"]
        types = [t for t in out["type"] if t != "null"]
        out["type"] = types[0] if len(types) == 1 else types
        if len(types) < len(node["type"]):
            out["nullable"] = True
    return out


class SchemaSet:
    """The models a document uses, turned into schemas all at once (pydantic names each model once,
    `-Input`/`-Output` when its validation and serialization schemas differ): `add` every model,
    then `resolve()`, then `ref(model, mode)` for each use and `components()` for the definitions."""

    def __init__(self) -> None:
        self._wanted: dict[tuple[type[BaseModel], str], None] = {}
        self._refs: dict[tuple[type[BaseModel], str], dict] = {}
        self._definitions: dict[str, dict] = {}

    def add(self, model: type[BaseModel], mode: str) -> None:
        self._wanted[(model, mode)] = None

    def resolve(self) -> None:
        if not self._wanted:
            return
        mapping, definitions = models_json_schema(list(self._wanted), ref_template=REF)
        self._definitions = {name: to_oas30(schema) for name, schema in definitions.get("$defs", {}).items()}
        self._refs = {key: to_oas30(schema) for key, schema in mapping.items()}

    def ref(self, model: type[BaseModel], mode: str) -> dict:
        return self._refs[(model, mode)]

    def components(self) -> dict:
        return dict(sorted(self._definitions.items()))
