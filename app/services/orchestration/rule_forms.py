"""The rule form in both directions: posted fields → the data `RuleIn` reads, and a rule (or a rejected
post) → what the form shows. The condition comes from builder rows (field / op / value, combined with
all or any) or, in JSON mode, from a raw JSON text the schema reads."""
from __future__ import annotations

import json

from werkzeug.datastructures import MultiDict

from app.models import AutomationRule

ACTION_FIELDS = {
    "create_task": ("title", "task_type", "service_area", "priority", "description"),
    "transition": ("to", "reason", "skip_remaining_steps"),
    "alert": ("level", "title", "message", "escalate"),
    "webhook": ("endpoint_id",),
}
ACTION_DEFAULTS = {
    "create_task": {"title": "", "task_type": "general", "service_area": "", "priority": "medium", "description": ""},
    "transition": {"to": "", "reason": "", "skip_remaining_steps": False},
    "alert": {"level": "warning", "title": "", "message": "", "escalate": False},
    "webhook": {"endpoint_id": ""},
}


def _scalar(text: str):
    """A typed value from a text box: JSON literals (3, 2.5, true, null, "x") as such, else the text."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return value if isinstance(value, (str, int, float, bool)) or value is None else text


def _show(value) -> str:
    """The text box content that `_scalar` reads back as this value."""
    if isinstance(value, str):
        return value if _scalar(value) == value else json.dumps(value)
    return json.dumps(value)


def condition_from_rows(match: str, fields: list[str], ops: list[str], values: list[str]) -> dict:
    """The condition the builder rows say, combined with all or any; empty rows are left out."""
    leaves = []
    for field, op, text in zip(fields, ops, values):
        field = field.strip()
        if not field:
            continue  # an empty row is not a condition
        leaf = {"field": field, "op": op}
        if op in ("in", "not_in"):
            leaf["value"] = [_scalar(part.strip()) for part in text.split(",") if part.strip()]
        elif op != "exists":
            leaf["value"] = _scalar(text.strip())
        leaves.append(leaf)
    return {("any" if match == "any" else "all"): leaves} if leaves else {}


def rows_from_condition(condition: dict) -> tuple[str, list[dict]] | None:
    """(match, rows) when the builder can show this condition; None when it needs JSON mode."""
    if not condition:
        return "all", []
    if "field" in condition:
        nodes, match = [condition], "all"
    elif set(condition) in ({"all"}, {"any"}):
        match = next(iter(condition))
        nodes = condition[match]
    else:
        return None
    if not all(isinstance(n, dict) and "field" in n for n in nodes):
        return None
    rows = []
    for node in nodes:
        value = node.get("value", "")
        text = ", ".join(_show(v) for v in value) if isinstance(value, list) else ("" if node["op"] == "exists"
                                                                                 else _show(value))
        rows.append({"field": node["field"], "op": node["op"], "value": text})
    return match, rows


def rule_data(form: MultiDict) -> dict:
    """What `RuleIn` reads from a posted form: a blank field is one not given (the project's blank
    "All projects" choice is every project)."""
    if form.get("condition_mode") == "json":
        condition = form.get("condition_json", "")
    else:
        condition = condition_from_rows(form.get("match", "all"), form.getlist("cond_field"),
                                        form.getlist("cond_op"), form.getlist("cond_value"))
    data = {"name": form.get("name", ""), "description": form.get("description", ""),
            "event_type": form.get("event_type", ""), "enabled": form.get("enabled") in ("on", "1", "true"),
            "condition": condition,
            "actions": [{k: v for k, v in action.items() if v != ""} for action in actions_from_form(form)]}
    if "project_id" in form:
        data["project_id"] = form["project_id"] or "*"
    return data


def actions_from_form(form: MultiDict) -> list[dict]:
    """The posted actions, in the form's order, each with the fields of its type."""
    actions = []
    for key in form.getlist("action_key"):
        kind = form.get(f"a-{key}-type", "")
        action = {"type": kind}
        for name in ACTION_FIELDS.get(kind, ()):
            action[name] = form.get(f"a-{key}-{name}", "")
        actions.append(action)
    return actions


def form_state(rule: AutomationRule | None = None, form: MultiDict | None = None) -> dict:
    """What the form shows: a new rule, a saved one, or a rejected post as it was typed."""
    if form is not None:
        rows = [{"field": f, "op": o, "value": v} for f, o, v in zip(
            form.getlist("cond_field"), form.getlist("cond_op"), form.getlist("cond_value"))]
        return {"name": form.get("name", ""), "description": form.get("description", ""),
                "project_id": form.get("project_id", ""), "event_type": form.get("event_type", ""),
                "enabled": form.get("enabled") in ("on", "1", "true"),
                "condition_mode": "json" if form.get("condition_mode") == "json" else "builder",
                "match": form.get("match", "all"), "rows": rows, "condition_json": form.get("condition_json", ""),
                "actions": actions_from_form(form)}
    if rule is None:
        return {"name": "", "description": "", "project_id": "", "event_type": "TaskStatusChanged", "enabled": True,
                "condition_mode": "builder", "match": "all", "rows": [{"field": "", "op": "eq", "value": ""}],
                "condition_json": "", "actions": []}
    shown = rows_from_condition(rule.condition or {})
    return {"name": rule.name, "description": rule.description or "", "project_id": rule.project_id or "",
            "event_type": rule.event_type, "enabled": rule.enabled,
            "condition_mode": "builder" if shown else "json", "match": shown[0] if shown else "all",
            "rows": shown[1] if shown else [], "condition_json": json.dumps(rule.condition or {}, indent=2),
            "actions": [{**ACTION_DEFAULTS.get(a.get("type"), {}), **a} for a in rule.actions or []]}
