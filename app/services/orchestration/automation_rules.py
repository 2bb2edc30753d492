"""Automation rules as users manage them: list, create, edit, enable/disable, delete, and "test a rule
against a past event" — which says whether it would match and what each action would do, without
doing any of it. The dispatcher that really runs rules is `app.services.orchestration.automation`.

Tenancy: a rule with a project belongs to it; a rule without one (project_id NULL) is global —
every user sees it, only the platform operator changes it. Built-in rules (`key` set) may be switched on and off but
never deleted. Changing rules takes MANAGE_WORKFLOWS.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import (
    AutomationRule, OutboxEvent, Permission, RuleExecution, RuleOutcome, Task, User, WebhookEndpoint,
)
from app.services.platform.permissions import require_permission
from app.services.orchestration import automation
from app.services.platform.access import parse_int, project_scope, resolve_project
from app.services.orchestration.conditions import evaluate, validate_condition
from app.services.orchestration.event_catalogue import EVENT_TYPES, PLAN_EVENTS, TASK_EVENTS
from app.services.orchestration.state_machines import MACHINES
from app.services.orchestration.webhook_targets import check_target
from app.services.platform.errors import Conflict, FieldErrors, Forbidden, NotFound

ACTION_TYPES = ("create_task", "transition", "alert", "webhook")
ALERT_LEVELS = ("info", "warning", "critical")
PRIORITIES = ("low", "medium", "high", "urgent")
TASK_TARGETS = ("new", "in_progress", "blocked", "completed", "cancelled")
PLAN_TARGETS = ("active", "archived")
REASON_REQUIRED = ("blocked", "cancelled")
MAX_ACTIONS = 10
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def transition_targets(event_type: str) -> tuple[str, ...]:
    if event_type in TASK_EVENTS:
        return TASK_TARGETS
    if event_type in PLAN_EVENTS:
        return PLAN_TARGETS
    return ()


# --- reading ----------------------------------------------------------------------------------

@dataclass
class RuleRow:
    rule: AutomationRule
    fired: int
    last_fired: datetime | None
    editable: bool


def rules_query(user: User):
    """Rules this user sees: their projects' and the global ones."""
    return automation.rules_for_project(project_scope(user))


def can_edit(user: User, rule: AutomationRule) -> bool:
    return user.has_permission(Permission.MANAGE_WORKFLOWS) and (rule.project_id is not None or user.is_platform_operator)


def list_rules(user: User, rule_id: int | None = None) -> list[RuleRow]:
    """Visible rules (or just one) with how often each fired and when last; the built-in rules are
    added first if missing."""
    try:
        automation.ensure_builtin_rules()
    except IntegrityError:  # another request inserted them at the same moment
        db.session.rollback()
    fired = (select(RuleExecution.rule_id, func.count().label("n"), func.max(RuleExecution.at).label("last"))
             .where(RuleExecution.outcome == RuleOutcome.FIRED.value).group_by(RuleExecution.rule_id).subquery())
    stmt = (rules_query(user).add_columns(fired.c.n, fired.c.last)
            .outerjoin(fired, fired.c.rule_id == AutomationRule.id)
            .order_by(AutomationRule.event_type, AutomationRule.name, AutomationRule.id))
    if rule_id is not None:
        stmt = stmt.where(AutomationRule.id == rule_id)
    return [RuleRow(rule, n or 0, last, can_edit(user, rule)) for rule, n, last in db.session.execute(stmt)]


def rule_row(user: User, rule_id) -> RuleRow:
    """One visible rule with its counts (the list's row after a toggle)."""
    return list_rules(user, get_rule(user, rule_id).id)[0]


def get_rule(user: User, rule_id) -> AutomationRule:
    """A rule this user sees, or NotFound (other projects' rules look like missing ones)."""
    try:
        wanted = int(rule_id)
    except (TypeError, ValueError):
        raise NotFound(f"No rule {rule_id!r}") from None
    rule = db.session.execute(rules_query(user).where(AutomationRule.id == wanted)).scalar_one_or_none()
    if rule is None:
        raise NotFound(f"No rule {wanted}")
    return rule


def recent_executions(rule: AutomationRule, limit: int = 25) -> list[RuleExecution]:
    return list(db.session.execute(select(RuleExecution).where(RuleExecution.rule_id == rule.id)
                                   .order_by(RuleExecution.at.desc(), RuleExecution.id.desc()).limit(limit)).scalars())


def _visible_events(project_ids: list[int]):
    """Events of these projects: by payload.project_id, or (SLA events carry none) by their task."""
    tasks = select(cast(Task.id, String)).where(Task.project_id.in_(project_ids))
    return or_(OutboxEvent.payload["project_id"].as_integer().in_(project_ids),
               and_(OutboxEvent.aggregate_type == "task", OutboxEvent.aggregate_id.in_(tasks)))


def recent_events(user: User, event_type: str, project_id: int | None = None, limit: int = 50) -> list[OutboxEvent]:
    """The newest events of a type the user may test a rule against (one project's when given)."""
    scope = [project_id] if project_id is not None and project_id in project_scope(user) else project_scope(user)
    return list(db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == event_type,
                                                             _visible_events(scope))
                                   .order_by(OutboxEvent.created_at.desc()).limit(limit)).scalars())


# --- validation and changes -------------------------------------------------------------------

def _project(user: User, raw, errors: FieldErrors) -> int | None:
    if raw == "" and user.is_platform_operator:
        return None  # the form's "All projects" choice: a global rule
    return resolve_project(user, raw, errors)


def _condition(raw, errors: FieldErrors) -> dict:
    if raw in (None, ""):
        return {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            errors.add("condition", f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
            return {}
    if raw == {}:
        return {}
    for problem in validate_condition(raw):
        errors.add("condition", problem)
    return raw if isinstance(raw, dict) else {}


def _text(action: dict, key: str, where: str, errors: FieldErrors, max_length: int, required: bool) -> str:
    value = str(action.get(key) or "").strip()
    if required and not value:
        errors.add(f"{where}.{key}", "is required")
    elif len(value) > max_length:
        errors.add(f"{where}.{key}", f"must be at most {max_length} characters")
    return value


def _choice(action: dict, key: str, where: str, errors: FieldErrors, choices, default: str | None = None) -> str:
    value = str(action.get(key) or default or "").strip().lower()
    if value not in choices:
        errors.add(f"{where}.{key}", f"must be one of {', '.join(choices)}")
    return value


def _action(user: User, action, where: str, event_type: str, errors: FieldErrors) -> dict:
    if not isinstance(action, dict):
        errors.add(where, "must be an object with a type")
        return {}
    kind = action.get("type")
    if kind not in ACTION_TYPES:
        errors.add(f"{where}.type", f"must be one of {', '.join(ACTION_TYPES)}")
        return {}
    if kind == "create_task":
        out = {"type": kind, "title": _text(action, "title", where, errors, 255, True)}
        for key, required in (("task_type", True), ("service_area", False)):
            value = str(action.get(key) or "").strip().lower()
            if (required or value) and not _SLUG.match(value):
                errors.add(f"{where}.{key}", "must be a short lowercase name (letters, digits, _ and -)"
                           + ("" if required else ", or empty for the event's own"))
            out[key] = value
        out["priority"] = _choice(action, "priority", where, errors, PRIORITIES, "medium")
        out["description"] = _text(action, "description", where, errors, 10_000, False)
        return out
    if kind == "transition":
        targets = transition_targets(event_type)
        if not targets:
            errors.add(f"{where}.type", f"{event_type or 'this event'} is not about a task or an action plan")
            return {"type": kind, "to": str(action.get("to") or ""), "reason": str(action.get("reason") or "")}
        to = _choice(action, "to", where, errors, targets)
        reason = _text(action, "reason", where, errors, 500, to in REASON_REQUIRED)
        return {"type": kind, "to": to, "reason": reason}
    if kind == "alert":
        return {"type": kind, "level": _choice(action, "level", where, errors, ALERT_LEVELS, "info"),
                "title": _text(action, "title", where, errors, 255, True),
                "message": _text(action, "message", where, errors, 5000, False)}
    endpoint_id = parse_int(action.get("endpoint_id"), errors, f"{where}.endpoint_id")
    if endpoint_id is not None and _endpoint(user, endpoint_id) is None:
        errors.add(f"{where}.endpoint_id", f"webhook endpoint {endpoint_id} does not exist or is not yours")
    return {"type": kind, "endpoint_id": endpoint_id}


def _endpoint(user: User, endpoint_id: int) -> WebhookEndpoint | None:
    return db.session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, or_(WebhookEndpoint.project_id.is_(None),
                                               WebhookEndpoint.project_id.in_(project_scope(user))))
    ).scalar_one_or_none()


def validate_rule(user: User, data: dict) -> dict:
    """The cleaned fields of a rule, or ValidationFailed naming each bad field
    (`condition`, `actions.<n>.<key>`, …). `project_id` "" makes an admin's rule global; missing,
    it is the user's only project."""
    errors = FieldErrors()
    out = {"name": errors.text(data, "name", 160), "description": errors.text(data, "description", 2000, False)}
    out["project_id"] = _project(user, data.get("project_id"), errors)
    event_type = str(data.get("event_type") or "")
    if event_type not in EVENT_TYPES:
        errors.add("event_type", f"must be one of {', '.join(EVENT_TYPES)}")
    out["event_type"] = event_type
    out["condition"] = _condition(data.get("condition"), errors)
    actions = data.get("actions") or []
    if not isinstance(actions, list):
        errors.add("actions", "must be a list")
        actions = []
    elif len(actions) > MAX_ACTIONS:
        errors.add("actions", f"at most {MAX_ACTIONS} actions per rule")
    out["actions"] = [_action(user, a, f"actions.{i}", event_type, errors) for i, a in enumerate(actions)]
    out["enabled"] = bool(data.get("enabled", True))
    errors.raise_if_any("Invalid rule")
    return out


def _editable(user: User, rule_id) -> AutomationRule:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    rule = get_rule(user, rule_id)
    if not can_edit(user, rule):
        raise Forbidden(f"Rule {rule.id} is global: only an admin can change it.")
    return rule


def save_rule(user: User, data: dict, rule_id=None) -> AutomationRule:
    """Create a rule, or update one (rule_id). Commits."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    rule = _editable(user, rule_id) if rule_id is not None else AutomationRule(created_by_id=user.id)
    clean = validate_rule(user, data)
    for key, value in clean.items():
        setattr(rule, key, value)
    db.session.add(rule)
    db.session.commit()
    return rule


def set_enabled(user: User, rule_id, enabled: bool) -> AutomationRule:
    """Switch a rule on or off (built-in ones too). Commits."""
    rule = _editable(user, rule_id)
    rule.enabled = bool(enabled)
    db.session.commit()
    return rule


def delete_rule(user: User, rule_id) -> None:
    """Delete a rule and its execution log; built-in rules can only be disabled. Commits."""
    rule = _editable(user, rule_id)
    if rule.key:
        raise Conflict(f"Rule {rule.id} is built in: disable it instead of deleting it.")
    db.session.delete(rule)
    db.session.commit()


# --- test against a past event ----------------------------------------------------------------

def _event(user: User, event_id) -> OutboxEvent:
    event = db.session.execute(select(OutboxEvent).where(OutboxEvent.id == str(event_id or ""),
                                                         _visible_events(project_scope(user)))).scalar_one_or_none()
    if event is None:
        raise NotFound(f"No event {event_id!r} in your projects")
    return event


def test_rule(user: User, rule_id_or_data, event_id) -> dict:
    """Would this rule (a saved one by id, or unsaved form data) fire on this past event, and what
    would each action do? Nothing is changed. `verdict` is one of matched, not_matched, loop_blocked,
    depth_capped, other_event_type, other_project."""
    if isinstance(rule_id_or_data, dict):
        rule = SimpleNamespace(id=None, name=str(rule_id_or_data.get("name") or "(unsaved rule)"),
                               **{k: v for k, v in validate_rule(user, rule_id_or_data).items() if k != "name"})
    else:
        rule = get_rule(user, rule_id_or_data)
    event = _event(user, event_id)
    doc = automation.event_document(event)
    project_id = (event.payload or {}).get("project_id")
    if event.event_type != rule.event_type:
        verdict, message = "other_event_type", f"The rule listens to {rule.event_type}, not {event.event_type}."
    elif rule.project_id is not None and project_id != rule.project_id:
        verdict, message = "other_project", f"The rule is for project {rule.project_id}; this event is not."
    elif rule.id is not None and rule.id in (event.rule_chain or ()):
        verdict, message = RuleOutcome.LOOP_BLOCKED.value, "Loop guard: this event was caused by this rule."
    elif event.depth >= current_app.config["AUTOMATION_MAX_DEPTH"]:
        verdict, message = (RuleOutcome.DEPTH_CAPPED.value, f"Depth cap: the event is {event.depth} steps down a "
                            f"causation chain (limit {current_app.config['AUTOMATION_MAX_DEPTH']}).")
    elif evaluate(rule.condition, doc):
        verdict, message = "matched", "The condition matches: the rule would fire."
    else:
        verdict, message = "not_matched", "The condition does not match: the rule would not fire."
    return {"rule_id": rule.id, "rule_name": rule.name, "event_id": event.id, "event_type": event.event_type,
            "verdict": verdict, "matched": verdict == "matched", "message": message, "document": doc,
            "actions": [_preview(user, action, event, doc) for action in (rule.actions or [])]}


test_rule.__test__ = False  # a service, not a pytest test, when imported into a test module


def _preview(user: User, action: dict, event: OutboxEvent, doc: dict) -> dict:
    """What one action would do for this event (read-only)."""
    kind, payload, render = action.get("type"), event.payload or {}, automation.render_text
    if kind == "create_task":
        area = action.get("service_area") or payload.get("service_area") or "general"
        ok = payload.get("project_id") is not None
        text = (f"Create a {action.get('priority', 'medium')}-priority {action.get('task_type')} task "
                f"“{render(action.get('title'), doc)[:255]}” in service area {area}"
                + ("" if ok else " — but the event names no project, so the task would have none"))
        return {"type": kind, "ok": ok, "summary": text}
    if kind == "transition":
        return _preview_transition(action, event)
    if kind == "alert":
        return {"type": kind, "ok": True, "summary": f"Raise a {action.get('level')} alert "
                f"“{render(action.get('title'), doc)[:255]}”: {render(action.get('message'), doc)}".rstrip(": ")}
    if kind == "webhook":
        endpoint = _endpoint(user, action.get("endpoint_id"))
        if endpoint is None or not endpoint.enabled:
            return {"type": kind, "ok": False, "summary": f"Webhook endpoint {action.get('endpoint_id')} is "
                    f"{'disabled' if endpoint else 'missing'}: nothing would be sent."}
        refused = check_target(endpoint.url)
        return {"type": kind, "ok": refused is None,
                "summary": f"Send a signed {event.event_type} delivery to “{endpoint.name}” ({endpoint.url})"
                + (f" — but the target is refused: {refused}" if refused else "")}
    return {"type": kind, "ok": False, "summary": f"Unknown action type {kind!r}"}


def _preview_transition(action: dict, event: OutboxEvent) -> dict:
    machine, to = MACHINES.get(event.aggregate_type), action.get("to")
    if machine is None:
        return {"type": "transition", "ok": False,
                "summary": f"The event is about a {event.aggregate_type}, which has no states to change."}
    obj = db.session.get(machine.model, int(event.aggregate_id)) if str(event.aggregate_id).isdigit() else None
    if obj is None:
        return {"type": "transition", "ok": False, "summary": f"{machine.label.capitalize()} {event.aggregate_id} "
                "no longer exists."}
    label = f"{machine.label} {obj.id}"
    if to not in machine.edges.get(obj.status, ()):
        return {"type": "transition", "ok": False, "summary": f"Refused: {label} is {obj.status} now and cannot "
                f"go to {to} (allowed: {', '.join(machine.edges.get(obj.status, ())) or 'none'})."}
    return {"type": "transition", "ok": True, "summary": f"Move {label} from {obj.status} to {to}"
            + (f" (reason: {action.get('reason')})" if action.get("reason") else "")}
