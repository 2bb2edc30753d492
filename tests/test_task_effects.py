"""A ticket task's change of state has the same effects whichever way it comes in — the board, the
seed's /tasks/api, /api/workflow (one and a batch), an automation rule: the task's row, its step's
assignments, the end logic's NotificationRequested event, the SLA clock and the audit row. And
completing it before its workflow's last step is refused everywhere unless the skip is confirmed."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from app.models import AutomationRule, OutboxEvent, RuleExecution, SlaRecord, StateTransition, Task, TaskAssignment
from app.schemas.automation import RuleIn
from app.schemas.parsing import validate_data
from app.services.helpdesk.intake import receive_ticket
from app.services.helpdesk.ticket_tasks import move_to_next_step
from app.services.orchestration import automation_rules as rules_svc
from app.services.orchestration import relay, sla
from app.services.orchestration.transitions import transition
from tests.ticket_fixtures import desk, payload  # noqa: F401

ENTRY_POINTS = ("board", "tasks_api", "workflow_single", "workflow_batch", "automation")
HX = {"HX-Request": "true"}


@pytest.fixture
def change(client, db, desk, login, csrf, api_token):
    """change(entry, task_id, to_state, reason, skip=False) → (HTTP status, or 200/409 for the rule
    action's outcome; the error code, None on the board, whose errors are toasts; the message; the
    details). The board and /tasks/api take the task as it is; the workflow API and the rule put it
    in_progress first (the rule fires on that change)."""
    login(desk.boss)
    board_headers = {**HX, "X-CSRFToken": csrf()}
    bearer = api_token(desk.boss)

    def _change(entry: str, task_id: int, to: str, reason: str, skip: bool = False):
        confirm = {"skip_remaining_steps": True} if skip else {}
        if entry == "board":
            action = "complete" if to == "completed" else "cancel"
            response = client.post(f"/tasks/{task_id}/actions/{action}", data={k: "true" for k in confirm},
                                   headers={**board_headers, "HX-Prompt": reason})
            return response.status_code, None, html.unescape(response.get_data(as_text=True)), None
        if entry == "tasks_api":
            action = "complete_task" if to == "completed" else "cancel"
            response = client.post(f"/tasks/api/tasks/{task_id}/{action}/", json={"reason": reason, **confirm},
                                   headers=bearer)
        elif entry == "workflow_single":
            transition(desk.boss, "task", task_id, "in_progress")
            response = client.post(f"/api/workflow/tasks/{task_id}/transition",
                                   json={"to_state": to, "reason": reason, **confirm}, headers=bearer)
        elif entry == "workflow_batch":
            transition(desk.boss, "task", task_id, "in_progress")
            response = client.post("/api/workflow/tasks/transitions", headers=bearer, json={
                "transitions": [{"task_id": task_id, "to_state": to, "reason": reason, **confirm}]})
            [result] = response.json["results"]
            return (200, None, "", result) if result["ok"] else (409, result["error_code"], result["message"],
                                                                 result["details"])
        else:
            return _by_rule(db, desk, task_id, to, reason, skip)
        body = response.json
        return response.status_code, body.get("error_code"), body["message"], body.get("details")

    return _change


def _by_rule(db, desk, task_id, to, reason, skip):
    """A rule moves the task when it starts: the start is made, the relay runs the rule."""
    rule = rules_svc.save_rule(desk.boss, validate_data(RuleIn, {
        "name": f"Auto {to} {task_id}", "event_type": "TaskStatusChanged",
        "condition": {"all": [{"field": "payload.task_id", "op": "eq", "value": task_id},
                              {"field": "payload.to", "op": "eq", "value": "in_progress"}]},
        "actions": [{"type": "transition", "to": to, "reason": reason, "skip_remaining_steps": skip}]}, "Invalid rule"))
    transition(desk.boss, "task", task_id, "in_progress")
    while relay.relay_outbox().claimed:
        pass
    [execution] = db.session.execute(select(RuleExecution).where(RuleExecution.rule_id == rule.id)).scalars()
    [outcome] = execution.detail["actions"]
    return (200, None, "", outcome) if outcome["ok"] else (409, outcome["error_code"].upper(), outcome["error"], None)


def _ticket_task(desk, steps_done: int) -> int:
    """A new ticket task of the 3-step "Laptop repair" workflow, moved on `steps_done` steps."""
    task_id = receive_ticket(desk.project_id, payload()).task_id
    for _ in range(steps_done):
        move_to_next_step(desk.boss, task_id)
    return task_id


def _rows(db, task_id: int) -> dict:
    """What the change left, in terms that do not depend on the entry point (nor on who the
    round-robin picked first)."""
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    steps = {s.id: s.name for s in task.workflow.steps}
    audit = db.session.execute(select(StateTransition).where(
        StateTransition.entity_type == "task", StateTransition.entity_id == task_id)
        .order_by(StateTransition.id.desc())).scalars().first()
    event = db.session.get(OutboxEvent, audit.event_id)
    notes = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "NotificationRequested",
                                                         OutboxEvent.aggregate_id == str(task_id))).scalars().all()
    assignments = db.session.execute(select(TaskAssignment).where(TaskAssignment.task_id == task_id)).scalars()
    return {
        "task": (task.status, task.completed_at is not None),
        "assignments": sorted((steps[a.step_id], a.username, a.status) for a in assignments),
        "notifications": [(sorted(n.payload["user_ids"]), n.payload["subject"].split(" resolved: ")[1],
                           n.causation_id == event.id, n.correlation_id == event.correlation_id) for n in notes],
        "clocks": [(r.kind, r.status, r.stopped_at is not None) for r in db.session.execute(
            select(SlaRecord).where(SlaRecord.task_id == task_id)).scalars()],
        "audit": (audit.from_state, audit.to_state, audit.reason, event.event_type, event.payload["to"]),
    }


def _expected(desk, to: str) -> dict:
    agents = sorted(a.username for a in desk.agents)
    last = "completed" if to == "completed" else "declined"
    return {
        "task": (to, to == "completed"),
        "assignments": sorted([("Triage", a, "completed") for a in agents] + [("Repair", "t1", "completed")]
                              + [("Check", a, last) for a in agents]),
        "notifications": [(sorted(a.id for a in desk.agents), "Laptop does not boot", True, True)]
        if to == "completed" else [],
        "clocks": [("resolution", "met" if to == "completed" else "cancelled", True)],
        "audit": ("in_progress", to, "done", "TaskStatusChanged", to),
    }


@pytest.mark.parametrize("to", ["completed", "cancelled"])
def test_every_entry_point_has_the_same_effects(db, desk, change, to):
    sla.seed_sla_defaults()
    seen = {}
    for entry in ENTRY_POINTS:
        task_id = _ticket_task(desk, steps_done=2)  # at its last step, "Check"
        if entry in ("board", "tasks_api"):
            transition(desk.boss, "task", task_id, "in_progress")
        status, code, message, _ = change(entry, task_id, to, "done")
        assert (status, code) == (200, None), (entry, message)
        seen[entry] = _rows(db, task_id)
    assert seen == {entry: _expected(desk, to) for entry in ENTRY_POINTS}


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_completing_before_the_last_step_is_refused_unless_confirmed(db, desk, change, entry):
    task_id = _ticket_task(desk, steps_done=0)  # at "Triage", step 1 of 3
    before = _state(db, task_id)
    status, code, message, details = change(entry, task_id, "completed", "done")
    assert (status, code) == (409, None if entry == "board" else "STEPS_REMAINING")
    assert f"Task {task_id} is at step 1 of 3 ('Triage'); completing it now would skip 'Repair', 'Check'." in message
    if details is not None:
        assert [s["name"] for s in details["remaining_steps"]] == ["Repair", "Check"]
        assert details["current_step"]["name"] == "Triage" and details["steps_count"] == 3
    after = _state(db, task_id)
    if entry in ("board", "tasks_api"):  # complete starts a new task first: that start is undone too
        assert after == before and after["status"] == "new"
    else:  # only the start that set it up
        assert after == {**before, "status": "in_progress", "audits": before["audits"] + 1}

    skipping_id = _ticket_task(desk, steps_done=0)
    status, code, message, _ = change(entry, skipping_id, "completed", "done", skip=True)
    assert (status, code) == (200, None), message
    done = _rows(db, skipping_id)
    assert done["task"] == ("completed", True)
    assert done["assignments"] == sorted(("Triage", a.username, "completed") for a in desk.agents)  # no one else
    assert len(done["notifications"]) == 1
    audit = db.session.execute(select(StateTransition).where(StateTransition.entity_id == skipping_id,
                                                             StateTransition.to_state == "completed")).scalar_one()
    assert [s["name"] for s in audit.context["skipped_steps"]] == ["Repair", "Check"]
    by = audit.context["skipped_by"]
    if entry == "automation":
        assert audit.actor_id is None and by == {"rule_id": by["rule_id"]} and by["rule_id"]
    else:
        assert by == {"user_id": desk.boss.id, "username": "boss"} and audit.actor_id == desk.boss.id


def _state(db, task_id: int) -> dict:
    db.session.expire_all()
    task = db.session.get(Task, task_id)
    return {"status": task.status, "step": task.current_step_id,
            "assignments": sorted((a.user_id, a.status) for a in task.assignments),
            "audits": len(db.session.execute(select(StateTransition.id).where(
                StateTransition.entity_type == "task", StateTransition.entity_id == task_id)).all()),
            "notifications": db.session.execute(select(OutboxEvent.id).where(
                OutboxEvent.event_type == "NotificationRequested", OutboxEvent.aggregate_id == str(task_id))).all()}


def test_the_board_asks_before_complete_skips_steps(client, db, desk, login):
    early, last = _ticket_task(desk, steps_done=0), _ticket_task(desk, steps_done=2)
    login(desk.boss)
    page = client.get("/tasks/").get_data(as_text=True)

    def complete_button(task_id):
        card = page.split(f'data-task-id="{task_id}"')[1].split("</article>")[0]
        return re.search(r'<button[^>]*data-action="complete"[^>]*>', card).group(0)

    early_button = complete_button(early)
    assert html.unescape(re.search(r'hx-confirm="([^"]*)"', early_button).group(1)) == (
        f"Complete task {early} at step 1 of 3? Steps Repair, Check will be skipped.")
    assert """hx-vals='{"skip_remaining_steps": true}'""" in early_button and "btn-primary" not in early_button
    last_button = complete_button(last)
    assert "hx-confirm" not in last_button and "hx-vals" not in last_button and "btn-primary" in last_button


def test_next_step_at_the_last_step_completes_without_confirmation(client, db, desk, api_token):
    task_id = _ticket_task(desk, steps_done=2)
    done = client.post(f"/tasks/api/tasks/{task_id}/move_to_next_step/", headers=api_token(desk.boss))
    assert done.status_code == 200 and done.json["task"]["status"] == "completed"
    audit = db.session.execute(select(StateTransition).where(StateTransition.entity_id == task_id,
                                                             StateTransition.to_state == "completed")).scalar_one()
    assert "skipped_steps" not in audit.context


def test_the_rule_preview_says_it_would_be_refused(db, desk):
    rule = rules_svc.save_rule(desk.boss, validate_data(RuleIn, {
        "name": "Close on start", "event_type": "TaskStatusChanged",
        "condition": {"field": "payload.to", "op": "eq", "value": "in_progress"},
        "actions": [{"type": "transition", "to": "completed"}]}, "Invalid rule"))
    task_id = _ticket_task(desk, steps_done=0)
    started = transition(desk.boss, "task", task_id, "in_progress")
    [action] = rules_svc.test_rule(desk.boss, rule.id, started.event_id)["actions"]
    assert not action["ok"] and action["summary"].startswith(f"Refused: Task {task_id} is at step 1 of 3 ('Triage')")


def test_the_document_shows_the_confirmation(client):
    doc = client.get("/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    for name in ("TransitionIn", "TransitionItem", "CompleteIn"):
        assert schemas[name]["properties"]["skip_remaining_steps"]["type"] == "boolean", name
        assert "STEPS_REMAINING" in schemas[name]["properties"]["skip_remaining_steps"]["description"]
    for path in ("/tasks/api/tasks/{task_id}/complete/", "/tasks/api/tasks/{task_id}/complete_task/"):
        body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].endswith("/CompleteIn")


def test_the_rule_form_sets_and_shows_the_confirmation(client, db, desk, login, csrf):
    login(desk.boss)
    form = {"csrf_token": csrf(), "name": "Close on start", "description": "", "event_type": "TaskStatusChanged",
            "condition_mode": "builder", "match": "all", "enabled": "on", "cond_field": ["payload.to"],
            "cond_op": ["eq"], "cond_value": ["in_progress"], "action_key": ["k1", "k2"],
            "a-k1-type": "transition", "a-k1-to": "completed", "a-k1-reason": "", "a-k1-skip_remaining_steps": "true",
            "a-k2-type": "transition", "a-k2-to": "completed", "a-k2-reason": ""}
    saved = client.post("/automation/rules/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "Move to completed, skipping a ticket task's remaining steps" in saved
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.name == "Close on start")).scalar_one()
    assert [a["skip_remaining_steps"] for a in rule.actions] == [True, False]
    edit = client.get(f"/automation/rules/{rule.id}/edit").get_data(as_text=True)
    assert len(re.findall(r'name="a-[^"]+-skip_remaining_steps" value="true" checked', edit)) == 1
