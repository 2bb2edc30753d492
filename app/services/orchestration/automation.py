"""The automation dispatcher: the outbox relay hands it each event; it runs the rules that match.

A rule's side effects and its `RuleExecution` row (unique per rule and event) are written in the
relay's transaction, so a redelivered event cannot fire a rule twice. Loop guard: a rule never fires
on an event that it caused, directly or further up the chain (`OutboxEvent.rule_chain`); depth cap:
events deeper than AUTOMATION_MAX_DEPTH fire nothing. Fan-out cap: one originating event's chain
(its correlation id) creates at most AUTOMATION_MAX_EFFECTS tasks, alerts and webhook deliveries;
past that its rules stop (`fanout_capped`) and one alert says so.
"""
from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace

from flask import current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import AutomationBudget, AutomationRule, OutboxEvent, Priority, RuleExecution, RuleOutcome, Task, utcnow
from app.services.platform.bulk_insert import RowBuffer
from app.services.platform import audit
from app.services.orchestration import webhooks
from app.services.orchestration.alerts import raise_alert
from app.services.orchestration.conditions import evaluate, lookup
from app.services.orchestration.transitions import Cause, transition
from app.services.orchestration.work_items import create_task
from app.schemas.parsing import validate_data
from app.schemas.workflow import TaskIn
from app.services.platform.errors import DomainError

log = logging.getLogger(__name__)

# The seed system's two triggers, built in (enable/disable them on the rules page).
BUILTIN_RULES = (
    {"key": "intake_completed_assessment", "name": "Intake completed → assessment task",
     "description": "When an intake task is completed, create a high-priority assessment task in the same area.",
     "event_type": "TaskStatusChanged",
     "condition": {"all": [{"field": "payload.to", "op": "eq", "value": "completed"},
                           {"field": "payload.task_type", "op": "eq", "value": "intake"}]},
     "actions": [{"type": "create_task", "title": "Assessment: {payload.title}", "task_type": "assessment",
                  "service_area": "", "priority": "high",
                  "description": "Created automatically when intake task {payload.task_id} was completed."}]},
    {"key": "action_plan_activated_alert", "name": "Action plan activated → alert",
     "description": "When an action plan is activated, raise an alert for its project.",
     "event_type": "ActionPlanStatusChanged",
     "condition": {"field": "payload.to", "op": "eq", "value": "active"},
     "actions": [{"type": "alert", "level": "info", "title": "Action plan activated: {payload.title}",
                  "message": "Action plan {payload.action_plan_id} ({payload.service_area}) is now active."}]},
    {"key": "job_failed_alert", "name": "Job failed → alert",
     "description": "When a job (a scheduled run included) fails, raise an alert for its project.",
     "event_type": "JobFailed",
     "condition": {"field": "payload.status", "op": "eq", "value": "failed"},
     "actions": [{"type": "alert", "level": "warning", "title": "Job failed: {payload.process_id}",
                  "message": "Job {payload.job_id} failed: {payload.message}"}]},
    {"key": "sla_breached_escalate", "name": "SLA breached → escalate",
     "description": "When a task's SLA clock is breached, raise a critical alert and make the task critical priority.",
     "event_type": "SlaBreached", "condition": {},
     "actions": [{"type": "alert", "level": "critical", "escalate": True,
                  "title": "SLA breached: task {payload.task_id}",
                  "message": "The {payload.kind} target of {payload.target_minutes} minutes was due at "
                             "{payload.due_at}; the task is escalated to critical priority."}]},
)

_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_.]+)\}")


def ensure_builtin_rules() -> None:
    """Insert the built-in rules that are missing (idempotent; commits only when it adds one)."""
    existing = set(db.session.execute(select(AutomationRule.key).where(AutomationRule.key.is_not(None))).scalars())
    missing = [r for r in BUILTIN_RULES if r["key"] not in existing]
    for spec in missing:
        db.session.add(AutomationRule(project_id=None, enabled=True, **spec))
    if missing:
        db.session.commit()


def event_document(event: OutboxEvent) -> dict:
    """What a rule's condition and templates see."""
    return {"event_type": event.event_type, "aggregate_type": event.aggregate_type,
            "aggregate_id": event.aggregate_id, "payload": event.payload or {}, "depth": event.depth,
            "correlation_id": event.correlation_id}


def render_text(template: str, doc: dict) -> str:
    """Fill `{payload.x}` placeholders from the event (no expressions; unknown ones are left empty)."""
    def fill(match: re.Match) -> str:
        value = lookup(doc, match.group(1))
        return "" if value is None or not isinstance(value, (str, int, float)) else str(value)

    return _PLACEHOLDER.sub(fill, str(template or ""))


@dataclass
class RuleSet:
    """The enabled rules, loaded once per relay batch, by event type."""

    by_type: dict[str, list[AutomationRule]] = field(default_factory=dict)

    @classmethod
    def load(cls) -> "RuleSet":
        rules = db.session.execute(select(AutomationRule).where(AutomationRule.enabled.is_(True))
                                   .order_by(AutomationRule.id)).scalars().all()
        by_type: dict[str, list[AutomationRule]] = {}
        for rule in rules:
            by_type.setdefault(rule.event_type, []).append(rule)
        return cls(by_type)

    def for_event(self, event: OutboxEvent) -> list[AutomationRule]:
        project_id = (event.payload or {}).get("project_id")
        return [r for r in self.by_type.get(event.event_type, ()) if r.project_id in (None, project_id)]


def verdict(rule: AutomationRule, event: OutboxEvent) -> str | None:
    """Why a rule must not fire on this event (loop guard, depth cap), or None."""
    if rule.id in (event.rule_chain or ()):
        return RuleOutcome.LOOP_BLOCKED.value
    if event.depth >= current_app.config["AUTOMATION_MAX_DEPTH"]:
        return RuleOutcome.DEPTH_CAPPED.value
    return None


def dispatch(event: OutboxEvent, rules: list[AutomationRule], evaluations: Counter, handled: set,
             rows: RowBuffer) -> None:
    """Run every rule in `rules` that matches the event. Raises to have the event retried.
    `handled` holds (rule_id, event_id) pairs already executed (the relay loads them per batch,
    `handled_pairs`); the rule executions and alerts wait in `rows`, which the relay flushes."""
    doc = event_document(event)
    for rule in rules:
        if not evaluate(rule.condition, doc):
            evaluations[(rule.id, "not_matched")] += 1
            continue
        if (rule.id, event.id) in handled:  # a redelivery: this rule already handled this event
            evaluations[(rule.id, "duplicate")] += 1
            continue
        outcome = verdict(rule, event)
        if outcome:
            log.warning("rule %s not fired on %s %s: %s", rule.id, event.event_type, event.id, outcome,
                        extra={"correlation_id": event.correlation_id})
            detail = {"depth": event.depth, "rule_chain": list(event.rule_chain or [])}
        elif not spend_budget(rule, event, rows):
            outcome = RuleOutcome.FANOUT_CAPPED.value
            detail = {"chain": chain_key(event), "limit": current_app.config["AUTOMATION_MAX_EFFECTS"]}
        else:
            outcome = RuleOutcome.FIRED.value
            detail = {"actions": [run_action(action, rule, event, doc, rows) for action in (rule.actions or [])]}
        rows.add(RuleExecution, {"rule_id": rule.id, "event_id": event.id, "outcome": outcome, "detail": detail,
                                 "at": utcnow()})
        evaluations[(rule.id, outcome)] += 1


EFFECTS = frozenset({"create_task", "alert", "webhook"})  # actions that create something


def chain_key(event: OutboxEvent) -> str:
    """The originating event's chain: its correlation id (inherited down the chain), else its own id."""
    return event.correlation_id or event.id


def spend_budget(rule: AutomationRule, event: OutboxEvent, rows: RowBuffer) -> bool:
    """Reserve the rule's effects in the chain's budget (in the relay's transaction, so concurrent
    relays count exactly); False when they would pass AUTOMATION_MAX_EFFECTS. The first refusal in a
    chain raises one alert."""
    effects = sum(1 for action in (rule.actions or []) if action.get("type") in EFFECTS)
    if not effects:
        return True
    limit, key, now = current_app.config["AUTOMATION_MAX_EFFECTS"], chain_key(event), utcnow()
    table = AutomationBudget.__table__
    upsert = (pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert)(table).values(
        chain_key=key, effects=effects, updated_at=now)
    total = db.session.execute(upsert.on_conflict_do_update(
        index_elements=["chain_key"], set_={"effects": table.c.effects + effects, "updated_at": now})
        .returning(table.c.effects)).scalar_one()
    if total <= limit:
        return True
    first = db.session.execute(update(table).where(table.c.chain_key == key)
                               .values(effects=table.c.effects - effects, capped_at=func.coalesce(table.c.capped_at, now))
                               .returning(table.c.capped_at == now)).scalar_one()
    if first:
        log.warning("automation chain %s capped at %s effects (rule %s)", key, limit, rule.id,
                    extra={"correlation_id": event.correlation_id})
        raise_alert((event.payload or {}).get("project_id"), "warning",
                    f"Automation stopped: one chain of events reached {limit} tasks, alerts and deliveries",
                    f"Rule '{rule.name}' and any later rule in this chain did not run on {event.event_type} "
                    f"(chain {key}). Check the rules for actions that trigger each other.",
                    source="automation", event_id=event.id, entity_type=event.aggregate_type,
                    entity_id=event.aggregate_id, causation=event, rows=rows)
    return False


def handled_pairs(event_ids: list[str]) -> set:
    """(rule_id, event_id) pairs already executed for these events (one query per batch)."""
    if not event_ids:
        return set()
    return {tuple(row) for row in db.session.execute(select(RuleExecution.rule_id, RuleExecution.event_id)
                                                     .where(RuleExecution.event_id.in_(event_ids))).all()}


def run_action(action: dict, rule: AutomationRule, event: OutboxEvent, doc: dict, rows: RowBuffer) -> dict:
    """One action of a rule. A refusal by the domain (say, the task already moved on) is the action's
    result, not a failure to retry: services validate before they write, so a refusal leaves nothing
    behind. Anything else raises."""
    kind = action.get("type")
    cause = Cause.of(event, rule.id)
    payload = event.payload or {}
    try:
        if kind == "create_task":
            return _create_task(action, doc, payload, cause)
        if kind == "transition":
            return _transition(action, event, doc, cause)
        if kind == "alert":
            return _alert(action, rule, event, doc, payload, cause, rows)
        if kind == "webhook":
            delivery = webhooks.queue_delivery(int(action["endpoint_id"]), event, source=f"rule:{rule.id}")
            return {"type": kind, "ok": delivery is not None,
                    "delivery_id": delivery.id if delivery is not None else None}
        return {"type": kind, "ok": False, "error": f"unknown action type {kind!r}"}
    except DomainError as exc:
        return {"type": kind, "ok": False, "error": exc.message, "error_code": exc.code}


def _create_task(action: dict, doc: dict, payload: dict, cause) -> dict:
    data = {"title": render_text(action.get("title") or "Follow-up", doc)[:255],
            "task_type": action.get("task_type") or "general",
            "service_area": action.get("service_area") or payload.get("service_area") or "general",
            "priority": action.get("priority") or "medium",
            "description": render_text(action.get("description") or "", doc),
            "action_plan_id": payload.get("action_plan_id")}
    task = create_task(None, validate_data(TaskIn, data, "Invalid task"), project_id=payload.get("project_id"),
                       cause=cause, commit=False)
    return {"type": "create_task", "ok": True, "task_id": task.id}


def _transition(action: dict, event: OutboxEvent, doc: dict, cause) -> dict:
    result = transition(None, event.aggregate_type, event.aggregate_id, action.get("to"),
                        reason=render_text(action.get("reason") or "automation", doc), cause=cause, commit=False,
                        skip_remaining_steps=action.get("skip_remaining_steps") is True)
    return {"type": "transition", "ok": True, "entity": f"{event.aggregate_type}:{event.aggregate_id}",
            "from": result.from_state, "to": result.to_state}


def _alert(action: dict, rule: AutomationRule, event: OutboxEvent, doc: dict, payload: dict, cause,
           rows: RowBuffer) -> dict:
    causation = SimpleNamespace(id=event.id, correlation_id=event.correlation_id, depth=event.depth,
                                rule_chain=list(cause.rule_chain))
    escalate = action.get("escalate") is True
    escalated = _escalate(event, payload) if escalate else None
    alert_id = raise_alert(payload.get("project_id"), "critical" if escalate else action.get("level") or "info",
                        render_text(action.get("title") or rule.name, doc)[:255],
                        render_text(action.get("message") or "", doc), source=f"rule:{rule.id}", event_id=event.id,
                        entity_type=event.aggregate_type, entity_id=str(event.aggregate_id), causation=causation, rows=rows)
    return {"type": "alert", "ok": True, "alert_id": alert_id, **({"escalated_task_id": escalated} if escalate else {})}


def _escalate(event: OutboxEvent, payload: dict) -> int | None:
    """Escalation: the event's task (its aggregate, or the task an SLA event names) becomes critical
    priority (audited); its id, or None when the event is about no task."""
    task_id = payload.get("task_id") if event.aggregate_type == "task" else None
    task = db.session.get(Task, int(task_id)) if task_id is not None else None
    if task is None:
        return None
    if task.priority != Priority.CRITICAL.value:
        audit.record(None, "escalate", "task", task.id, {"priority": [task.priority, Priority.CRITICAL.value],
                                                         "event_id": event.id}, source="automation")
        task.priority = Priority.CRITICAL.value
    return task.id


def rules_for_project(project_ids: list[int]):
    """Rules visible to these projects (global ones included)."""
    return select(AutomationRule).where(or_(AutomationRule.project_id.is_(None),
                                            AutomationRule.project_id.in_(project_ids)))
