"""The event catalogue (issue 14, point 1): every event the flows write follows its type's payload
schema, a producer cannot write another shape, and the rule editor, the webhook docs and
/api/workflow/metadata describe the events from the same schemas."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from markupsafe import escape
from sqlalchemy import select

from app.models import OutboxEvent, SlaConfig, SlaRecord
from app.schemas.automation import RuleIn
from app.schemas.parsing import validate_data
from app.services.orchestration import sla_scan
from app.services.platform.errors import ValidationFailed
from app.services.platform.events import EVENT_TYPES, EVENTS, UnknownEvent, check_event, example_payload, payload_fields
from app.services.platform.outbox import emit_event, event_values
from tests.ticket_fixtures import desk, payload  # noqa: F401

TASKS = "/tasks/api/tasks"
WORKFLOW = "/api/workflow"


def _written(db) -> list[OutboxEvent]:
    db.session.expire_all()
    return db.session.execute(select(OutboxEvent).order_by(OutboxEvent.created_at)).scalars().all()


def _sla_config(db, project_id: int, task_type: str) -> None:
    db.session.add(SlaConfig(name="catalogue", project_id=project_id, service_area="*", task_type=task_type,
                             resolution_minutes=60, warning_percent=80, pause_states=["blocked"], enabled=True))
    db.session.commit()


def _clock_times(db):
    """The warning and due times of the one SLA clock (the default calendar may be a business one)."""
    (record,) = db.session.execute(select(SlaRecord)).scalars().all()
    return record.warn_at, record.due_at


def test_every_flow_writes_events_that_follow_the_catalogue(client, db, desk, api_token, make_user):
    """Drive each producer (intake, the seed's task API, work items, transitions, action plans, the SLA
    scan, rules raising alerts, a failed job) and read back what was stored: every catalogued type is written, and
    every stored payload has exactly its type's fields."""
    boss, (a1, a2, _a3) = api_token(desk.boss), desk.agents
    _sla_config(db, desk.project_id, "review")
    ticket = client.post("/api/tickets/", json=payload("CAT-1"), headers=boss).json
    task_id = ticket["task_id"]
    extra = make_user("agent", username="extra")
    assert client.post(f"{TASKS}/{task_id}/assign_user/", json={"userID": extra.id}, headers=boss).status_code == 200
    assert client.post(f"{TASKS}/{task_id}/comments/", json={"body": "On it", "visibility": "reply"},
                       headers=api_token(a1)).status_code == 201
    assert client.post(f"{TASKS}/{task_id}/reassign/", json={"reason": "Not my area"},
                       headers=api_token(a2)).status_code == 200
    assert client.post(f"{TASKS}/{task_id}/update_user_status/", json={"user_id": a1.id, "status": "in_progress"},
                       headers=api_token(a1)).status_code == 200
    for who in (a1, desk.tech, a1):  # Triage → Repair → Check → completed (the workflow notifies)
        assert client.post(f"{TASKS}/{task_id}/move_to_next_step/", headers=api_token(who)).status_code == 200
    work = client.post(f"{WORKFLOW}/tasks", json={"title": "Review the cold chain", "task_type": "review",
                                                  "service_area": "immunisation"}, headers=boss).json["task"]
    assert client.post(f"{WORKFLOW}/tasks/{work['id']}/transition", json={"to_state": "in_progress"},
                       headers=boss).status_code == 200
    plan = client.post(f"{WORKFLOW}/action-plans", json={"title": "Measles follow-up"}, headers=boss).json
    assert client.post(f"{WORKFLOW}/action-plans/{plan['action_plan']['id']}/activate",
                       headers=boss).status_code == 200
    from app.services.processing.jobs import run_job_now

    assert run_job_now("echo", {"message": "x", "fail": True}, launcher=desk.boss).status == "failed"  # JobFailed
    warn_at, due_at = _clock_times(db)
    assert sla_scan.scan_sla_breaches(warn_at + timedelta(minutes=1))["warned"] == 1
    assert sla_scan.scan_sla_breaches(due_at + timedelta(minutes=1))["breached"] == 1
    from app.services.orchestration import relay

    relay.drain(max_seconds=30)  # the built-in rule alerts on the plan's activation

    written = _written(db)
    for event in written:
        check_event(event.event_type, event.aggregate_type, event.payload)  # raises on any other shape
    assert {e.event_type for e in written} == set(EVENT_TYPES)
    created = {e.payload["kind"]: e.payload for e in written if e.event_type == "TaskCreated"}
    assert set(created) == {"ticket_task", "work_item"}  # one shape, both kinds
    ticket_task, work_item = created["ticket_task"], created["work_item"]
    assert sorted(ticket_task) == sorted(work_item) == sorted(f.name for f in payload_fields("TaskCreated"))
    assert (ticket_task["task_id"], ticket_task["external_id"], ticket_task["status"]) == (task_id, "CAT-1", "new")
    assert ticket_task["assignees"] == [a.id for a in desk.agents] and ticket_task["workflow_id"] == desk.workflow.id
    assert (work_item["task_id"], work_item["ticket_id"], work_item["created_by_id"]) == (work["id"], None, desk.boss.id)
    moved = {e.payload["kind"] for e in written if e.event_type == "TaskStatusChanged"}
    assert moved == {"ticket_task", "work_item"}


@pytest.mark.parametrize("in_sql", [True, False], ids=["one-statement", "python"])
def test_both_sla_scan_paths_write_catalogued_payloads(db, make_user, monkeypatch, in_sql):
    """The PostgreSQL scan builds its payloads in SQL (the catalogue cannot check them as they are
    written): both paths must give the same catalogued shape."""
    from app.services.orchestration import work_items
    from app.schemas.workflow import TaskIn

    user = make_user("coordinator")
    _sla_config(db, user.project_ids[0], "assessment")
    work_items.create_task(user, TaskIn(title="Assess", task_type="assessment", service_area="nutrition"))
    if not in_sql:
        monkeypatch.setattr(sla_scan, "is_postgresql", lambda: False)
    warn_at, due_at = _clock_times(db)
    assert sla_scan.scan_sla_breaches(warn_at + timedelta(minutes=1)) == {"warned": 1, "breached": 0}
    assert sla_scan.scan_sla_breaches(due_at + timedelta(minutes=1)) == {"warned": 0, "breached": 1}
    clocks = [e for e in _written(db) if e.event_type in ("SlaWarning", "SlaBreached")]
    assert [e.event_type for e in clocks] == ["SlaWarning", "SlaBreached"]
    for event in clocks:
        check_event(event.event_type, event.aggregate_type, event.payload)
        assert event.payload["kind"] == "resolution" and event.payload["target_minutes"] == 60


def test_a_producer_cannot_write_an_uncatalogued_event(db):
    good = example_payload("TaskAssigned")
    with pytest.raises(UnknownEvent, match="'TaskDeleted' is not in the event catalogue"):
        emit_event("TaskDeleted", "task", 1, good)
    with pytest.raises(UnknownEvent, match="TaskAssigned is about a task, not a alert"):
        event_values("TaskAssigned", "alert", 1, good)
    with pytest.raises(UnknownEvent, match="step_id"):
        emit_event("TaskAssigned", "task", 1, {k: v for k, v in good.items() if k != "step_id"})  # missing
    with pytest.raises(UnknownEvent, match="surprise"):
        emit_event("TaskAssigned", "task", 1, {**good, "surprise": 1})  # not in the schema
    with pytest.raises(UnknownEvent, match="user_id"):
        emit_event("TaskAssigned", "task", 1, {**good, "user_id": "7"})  # text where an id belongs
    with pytest.raises(UnknownEvent, match="to"):
        emit_event("TaskStatusChanged", "task", 1, example_payload("TaskStatusChanged", to="done"))  # no such state
    assert not db.session.new  # nothing was added


def test_the_rule_editor_suggests_the_fields_of_the_chosen_event(client, login, make_user):
    login(make_user("coordinator"))
    hints = client.get("/automation/rules/form/field-hints?event_type=TaskCreated").get_data(as_text=True)
    suggested = re.findall(r'<option value="([a-z_.]+)"', hints)
    assert suggested[:len(payload_fields("TaskCreated"))] == [f"payload.{f.name}" for f in payload_fields("TaskCreated")]
    assert "payload.kind" in suggested and "payload.assignees" in suggested and "event_type" in suggested
    assert 'label="one of ticket_task, work_item' in hints
    breach = client.get("/automation/rules/form/field-hints?event_type=SlaBreached").get_data(as_text=True)
    assert "payload.due_at" in breach and "payload.assignees" not in breach
    page = client.get("/automation/rules/new").get_data(as_text=True)  # the form opens on TaskStatusChanged
    assert 'value="payload.from"' in page and 'value="payload.reason"' in page


def test_a_rule_on_a_field_its_event_never_carries_is_refused():
    rule = {"name": "Typo", "event_type": "TaskCreated", "actions": [],
            "condition": {"all": [{"field": "payload.priority", "op": "eq", "value": "high"},
                                  {"not": {"field": "payload.to", "op": "eq", "value": "completed"}},
                                  {"field": "depth", "op": "eq", "value": 0}]}}
    with pytest.raises(ValidationFailed) as refused:
        validate_data(RuleIn, rule, "Invalid rule")
    assert refused.value.details == {"condition": ["condition: TaskCreated events have no field payload.to "
                                                   "(see the suggestions)"]}
    validate_data(RuleIn, {**rule, "event_type": "TaskStatusChanged"}, "Invalid rule")  # it carries `to`


def test_the_webhook_docs_list_every_event_with_its_fields(client, login, make_user):
    assert client.get("/automation/webhooks/events").status_code == 302  # signed-in users only
    login(make_user("agent"))
    assert "Events and payloads" in client.get("/automation/webhooks").get_data(as_text=True)
    page = client.get("/automation/webhooks/events").get_data(as_text=True)
    sections = re.findall(r'data-event-type="(\w+)"', page)
    assert sections == list(EVENT_TYPES)
    for name in EVENT_TYPES:
        section = page.split(f'data-event-type="{name}"', 1)[1].split("</section>", 1)[0]
        assert re.findall(r'data-field="(\w+)"', section) == [f.name for f in payload_fields(name)]
        assert escape(EVENTS[name].about) in section
    assert "webhook-signature" in page and '"type": "TaskCreated"' in page  # an example body


def test_metadata_describes_each_event_type_as_json_schema(client, make_user, api_token):
    meta = client.get(f"{WORKFLOW}/metadata", headers=api_token(make_user("agent"))).get_json()
    assert sorted(meta["events"]) == sorted(EVENT_TYPES)
    for name, schema in meta["events"].items():
        assert sorted(schema["properties"]) == sorted(f.name for f in payload_fields(name))
        assert sorted(schema["required"]) == sorted(schema["properties"])  # every field always present
        assert schema["additionalProperties"] is False and schema["x-aggregate-type"] == EVENTS[name].aggregate_type
    created = meta["events"]["TaskCreated"]["properties"]
    assert created["kind"]["enum"] == ["ticket_task", "work_item"]
    assert created["status"]["enum"] == ["new", "in_progress", "blocked", "completed", "cancelled"]
    assert meta["events"]["TaskStatusChanged"]["properties"]["from"]["enum"] == created["status"]["enum"]
