"""Automation rule conditions: structured JSON, schema-checked on save, evaluated here. Never `eval`.

    {"all": [c, ...]} | {"any": [c, ...]} | {"not": c} | {"field": "payload.priority", "op": "eq", "value": "high"}
"""
from __future__ import annotations

from typing import Any

OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in", "contains", "startswith", "exists")
MAX_DEPTH = 8
MAX_NODES = 100
_MISSING = object()


def validate_condition(condition: Any) -> list[str]:
    """Problems with a condition, each naming where it is (empty when valid)."""
    problems: list[str] = []
    nodes = [0]

    def check(node: Any, where: str, depth: int) -> None:
        nodes[0] += 1
        if nodes[0] > MAX_NODES:
            problems.append(f"condition has more than {MAX_NODES} parts")
            return
        if depth > MAX_DEPTH:
            problems.append(f"{where}: nested deeper than {MAX_DEPTH}")
            return
        if not isinstance(node, dict) or len(node) == 0:
            problems.append(f"{where}: must be an object")
            return
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            if set(node) != {key} or not isinstance(node[key], list) or not node[key]:
                problems.append(f"{where}: '{key}' must be the only key and hold a non-empty list")
                return
            for i, child in enumerate(node[key]):
                check(child, f"{where}.{key}[{i}]", depth + 1)
        elif "not" in node:
            if set(node) != {"not"}:
                problems.append(f"{where}: 'not' must be the only key")
                return
            check(node["not"], f"{where}.not", depth + 1)
        else:
            if set(node) - {"field", "op", "value"}:
                problems.append(f"{where}: unknown keys {sorted(set(node) - {'field', 'op', 'value'})}")
            if not isinstance(node.get("field"), str) or not node.get("field"):
                problems.append(f"{where}: 'field' must be a dotted path like payload.priority")
            if node.get("op") not in OPS:
                problems.append(f"{where}: 'op' must be one of {', '.join(OPS)}")
            elif node["op"] != "exists" and "value" not in node:
                problems.append(f"{where}: 'value' is required for '{node['op']}'")
            elif node["op"] in ("in", "not_in") and not isinstance(node.get("value"), list):
                problems.append(f"{where}: 'value' must be a list for '{node['op']}'")
            value = node.get("value")
            if isinstance(value, (dict,)) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value)):
                problems.append(f"{where}: 'value' must be a primitive or a list of primitives")

    check(condition, "condition", 0)
    return problems


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
