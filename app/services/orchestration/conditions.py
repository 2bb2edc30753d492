"""Automation rule conditions: structured JSON, checked on save by their schema (`RuleIn.condition`
in app/schemas/automation.py), evaluated here. Never `eval`.

    {"all": [c, ...]} | {"any": [c, ...]} | {"not": c} | {"field": "payload.priority", "op": "eq", "value": "high"}
"""
from __future__ import annotations

from typing import Any

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "startswith", "exists")
_MISSING = object()


def lookup(data: Any, path: str) -> Any:
    current = data
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "exists":
        return left is not _MISSING and left is not None
    if left is _MISSING:
        return op in ("ne", "not_in")
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if op == "in":
        return left in right
    if op == "not_in":
        return left not in right
    if op == "contains":
        return isinstance(left, (str, list)) and right in left
    if op == "startswith":
        return isinstance(left, str) and isinstance(right, str) and left.startswith(right)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    textual = isinstance(left, str) and isinstance(right, str)
    if not (numeric or textual):
        return False
    return {"gt": left > right, "gte": left >= right, "lt": left < right, "lte": left <= right}[op]


def evaluate(condition: dict | None, data: dict) -> bool:
    """True when `data` (an event: type, payload, …) satisfies the condition; no condition is True."""
    if not condition:
        return True
    if "all" in condition:
        return all(evaluate(c, data) for c in condition["all"])
    if "any" in condition:
        return any(evaluate(c, data) for c in condition["any"])
    if "not" in condition:
        return not evaluate(condition["not"], data)
    return _compare(condition["op"], lookup(data, condition["field"]), condition.get("value"))
