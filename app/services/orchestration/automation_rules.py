"""Automation rules as users manage them: list, create, edit, enable/disable, delete, and "test a rule
against a past event" — which says whether it would match and what each action would do, without
doing any of it. The dispatcher that really runs rules is `app.services.orchestration.automation`.

Tenancy: a rule with a project belongs to it; a rule without one (project_id NULL) is global —
every user sees it, only the platform operator changes it. Built-in rules (`key` set) may be switched on and off but
never deleted. Changing rules takes MANAGE_WORKFLOWS.
"""
from __future__ import annotations

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
from app.schemas.automation import RuleIn, WebhookAction
from app.services.platform.access import project_scope, resolve_scope
from app.services.orchestration.conditions import evaluate
from app.services.orchestration.state_machines import MACHINES, TASK
from app.services.orchestration.task_effects import StepsRemaining, confirm_completion
from app.services.orchestration.webhook_targets import check_target
from app.services.platform.errors import Conflict, FieldErrors, Forbidden, NotFound

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

def _endpoint(user: User, endpoint_id: int) -> WebhookEndpoint | None:
    return db.session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id, or_(WebhookEndpoint.project_id.is_(None),
                                               WebhookEndpoint.project_id.in_(project_scope(user))))
    ).scalar_one_or_none()


def checked_rule(user: User, data: RuleIn) -> dict:
    """The column values of a rule, after what needs the database: its project (absent: the user's
    only one; every project: the platform operator only) and the webhook endpoints its actions call;
    else ValidationFailed naming each (`project_id`, `actions.<n>.endpoint_id`)."""
    errors = FieldErrors()
    project_id = resolve_scope(user, data.project_id, "project_id" in data.model_fields_set, errors)
    for n, action in enumerate(data.actions):
        if isinstance(action, WebhookAction) and _endpoint(user, action.endpoint_id) is None:
            errors.add(f"actions.{n}.endpoint_id", f"webhook endpoint {action.endpoint_id} does not exist or is not yours")
    errors.raise_if_any("Invalid rule")
    return {"name": data.name, "description": data.description, "project_id": project_id,
            "event_type": data.event_type, "condition": data.condition_document(),
            "actions": [action.model_dump() for action in data.actions], "enabled": data.enabled}


def _editable(user: User, rule_id) -> AutomationRule:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    rule = get_rule(user, rule_id)
    if not can_edit(user, rule):
        raise Forbidden(f"Rule {rule.id} is global: only an admin can change it.")
    return rule


def save_rule(user: User, data: RuleIn, rule_id=None) -> AutomationRule:
    """Create a rule, or update one (rule_id). Commits."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    rule = _editable(user, rule_id) if rule_id is not None else AutomationRule(created_by_id=user.id)
    clean = checked_rule(user, data)
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


def test_rule(user: User, rule_id_or_data: int | RuleIn, event_id) -> dict:
    """Would this rule (a saved one by id, or an unsaved one) fire on this past event, and what
    would each action do? Nothing is changed. `verdict` is one of matched, not_matched, loop_blocked,
    depth_capped, other_event_type, other_project."""
    if isinstance(rule_id_or_data, RuleIn):
        rule = SimpleNamespace(id=None, **checked_rule(user, rule_id_or_data))
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
        text = (f"Create a {action.get('priority', 'medium')}-priority {_spaced(action.get('task_type'))} task "
                f"“{render(action.get('title'), doc)[:255]}” in service area {_spaced(area)}"
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


def _spaced(value) -> str:
    """A state or slug as the summaries say it to people: `in_progress` → "in progress"."""
    return str(value).replace("_", " ")


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
        allowed = ", ".join(_spaced(s) for s in machine.edges.get(obj.status, ())) or "none"
        return {"type": "transition", "ok": False, "summary": f"Refused: {label} is {_spaced(obj.status)} now and "
                f"cannot go to {_spaced(to)} (allowed: {allowed})."}
    skipping = {}
    if machine is TASK:
        try:
            skipping = confirm_completion(obj, to, action.get("skip_remaining_steps") is True, {}, None)
        except StepsRemaining as exc:
            return {"type": "transition", "ok": False, "summary": f"Refused: {exc.message}"}
    return {"type": "transition", "ok": True, "summary": f"Move {label} from {_spaced(obj.status)} to {_spaced(to)}"
            + (f" (reason: {action.get('reason')})" if action.get("reason") else "")
            + "".join(f", skipping step '{step['name']}'" for step in skipping.get("skipped_steps", ()))}
