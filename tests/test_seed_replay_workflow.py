"""Seed S3 (`002_…`, workflow orchestration) replayed: every concrete request of the document, sent as
written (ids adapted), gets the documented outcome."""
from datetime import timedelta

from sqlalchemy import select

from app.models import Alert, SlaConfig, SlaRecord, StateTransition, Task, utcnow

BASE = "/api/workflow"


def test_task_requests_as_written(client, db, make_user, api_token):
    coordinator = make_user("coordinator")
    headers = api_token(coordinator)
    created = client.post(f"{BASE}/tasks", headers=headers, json={
        "title": "Process Application", "description": "Review and process new application", "task_type": "intake",
        "priority": "high", "assigned_to": "user123", "due_date": "2024-01-15T10:00:00Z"})
    assert created.status_code == 201, created.json
    task = created.json["task"]
    assert task["assigned_to"] == "user123" and task["due_date"].startswith("2024-01-15T10:00:00")
    # assigned_to naming one of our users by username or id assigns them
    agent = make_user("agent")
    named = client.post(f"{BASE}/tasks", headers=headers, json={"title": "Visit", "assigned_to": agent.username})
    assert named.json["task"]["assignee_id"] == agent.id
    moved = client.post(f"{BASE}/tasks/{task['id']}/transition", headers=headers, json={
        "target_state": "in_progress",
        "context": {"reason": "Starting work", "estimated_completion": "2024-01-15T12:00:00Z"},
        "notes": "Beginning task execution"})
    assert moved.status_code == 200, moved.json
    audit = db.session.execute(select(StateTransition).where(StateTransition.entity_id == task["id"])).scalars().all()
    assert audit[-1].context["notes"] == "Beginning task execution"
    assert client.get(f"{BASE}/tasks/{task['id']}", headers=headers).status_code == 200
    listed = client.get(f"{BASE}/tasks?state=in_progress&task_type=intake&limit=50", headers=headers).json
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    assert client.get(f"{BASE}/tasks?state=new", headers=headers).json["_meta"]["total"] == 1  # the other one
    unknown = client.post(f"{BASE}/tasks", headers=headers, json={"title": "x", "asigned_to": "typo"})
    assert unknown.status_code == 400 and "asigned_to" in unknown.json["details"]


def test_invalid_transition_and_forbidden_bodies(client, make_user, api_token):
    coordinator = make_user("coordinator")
    headers = api_token(coordinator)
    task = client.post(f"{BASE}/tasks", headers=headers, json={"title": "t"}).json["task"]
    client.post(f"{BASE}/tasks/{task['id']}/transition", headers=headers, json={"target_state": "in_progress"})
    refused = client.post(f"{BASE}/tasks/{task['id']}/transition", headers=headers, json={"target_state": "new"})
    assert refused.status_code == 400
    body = refused.json
    assert body["success"] is False and body["error_code"] == "INVALID_TRANSITION"
    assert body["message"] == "Transition from in_progress to new not allowed"
    assert {"current_state": "in_progress", "target_state": "new", "entity_type": "Task"}.items() <= body["details"].items()
    denied = client.get(f"{BASE}/stats", headers=api_token(make_user("agent")))
    assert denied.status_code == 403
    assert denied.json["detail"] == "Insufficient permissions" and denied.json["error_code"] == "PERMISSION_DENIED"


def test_action_plans_as_written(client, db, make_user, api_token):
    headers = api_token(make_user("coordinator"))
    goals = ["Complete all pending assessments", "Update compliance documentation", "Schedule quarterly review"]
    created = client.post(f"{BASE}/action-plans", headers=headers, json={
        "title": "Q1 Compliance Plan", "description": "Quarterly compliance action plan", "goals": goals})
    assert created.status_code == 201, created.json
    plan = created.json["action_plan"]
    assert plan["goals"] == goals and plan["metadata"] == {}
    assert client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers).status_code == 200
    assert client.post(f"{BASE}/action-plans/{plan['id']}/archive", headers=headers).status_code == 200
    detail = client.get(f"{BASE}/action-plans/{plan['id']}", headers=headers).json["action_plan"]
    assert detail["goals"] == goals and detail["status"] == "archived"


def test_metadata_needs_no_token(client):
    response = client.get(f"{BASE}/metadata")
    assert response.status_code == 200 and response.json["success"] is True
    assert "task" in response.json["state_machines"]


def test_sla_configs_as_written(client, db, make_user, api_token):
    headers = api_token(make_user("admin"))
    created = client.post(f"{BASE}/sla-configs", headers=headers, json={
        "service_area": "intake", "target_minutes": 60, "task_type": "intake", "active": True})
    assert created.status_code == 201, created.json
    config = created.json["sla_config"]
    assert config["target_minutes"] == 60 and config["active"] is True and config["name"]
    listed = client.get(f"{BASE}/sla-configs?active_only=true", headers=headers).json
    assert config["id"] in [c["id"] for c in listed["items"]]
    assert client.get(f"{BASE}/stats", headers=headers).status_code == 200


def test_default_sla_configs_are_around_the_clock(client, db, make_user, api_token):
    from app.services.orchestration.sla import seed_sla_defaults

    seed_sla_defaults()
    targets = {c.task_type: c.resolution_minutes for c in db.session.execute(select(SlaConfig)).scalars()
               if c.project_id is None}
    assert {k: targets[k] for k in ("intake", "assessment", "review")} == {"intake": 60, "assessment": 240,
                                                                          "review": 120}
    headers = api_token(make_user("coordinator"))
    task = client.post(f"{BASE}/tasks", headers=headers, json={"title": "Sunday intake", "task_type": "intake"}).json
    record = db.session.execute(select(SlaRecord).where(SlaRecord.task_id == task["task"]["id"])).scalar_one()
    assert record.due_at - record.started_at == timedelta(minutes=60)  # whatever the day and hour


def test_an_sla_breach_raises_an_alert_and_escalates(client, db, make_user, api_token):
    from app.services.orchestration.relay import relay_outbox
    from app.services.orchestration.sla import seed_sla_defaults
    from app.services.orchestration.sla_scan import scan_sla_breaches

    seed_sla_defaults()
    headers = api_token(make_user("coordinator"))
    task = client.post(f"{BASE}/tasks", headers=headers, json={"title": "Late", "task_type": "intake",
                                                             "priority": "medium"}).json["task"]
    record = db.session.execute(select(SlaRecord).where(SlaRecord.task_id == task["id"])).scalar_one()
    record.due_at = record.warn_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    scan_sla_breaches()
    relay_outbox()
    db.session.expire_all()
    alerts = db.session.execute(select(Alert).where(Alert.entity_id == str(task["id"]))).scalars().all()
    assert any(a.level == "critical" for a in alerts)
    assert db.session.get(Task, task["id"]).priority == "critical"
    record = db.session.get(SlaRecord, record.id)
    detail = client.get(f"{BASE}/tasks/{task['id']}", headers=headers).json
    assert detail["sla"]["breached"] is True and "actual_minutes" in detail["sla"]


def test_the_seeds_custom_trigger_runs_as_written(client, db, make_user, api_token):
    from app.schemas.automation import RuleIn
    from app.services.orchestration.automation_rules import save_rule
    from app.services.orchestration.relay import relay_outbox

    coordinator = make_user("coordinator")
    save_rule(coordinator, RuleIn.model_validate({
        "name": "custom_trigger", "description": "Alert when critical tasks are blocked",
        "event_type": "TaskStateChanged",
        "condition": {"all": [{"field": "new_state", "op": "eq", "value": "blocked"},
                              {"field": "priority", "op": "eq", "value": "critical"}]},
        "actions": [{"action_type": "emit_alert", "parameters": {
            "alert_type": "critical_task_blocked", "message": "Critical task blocked", "escalate": True}}]}))
    headers = api_token(coordinator)
    task = client.post(f"{BASE}/tasks", headers=headers, json={"title": "Urgent", "priority": "critical"}).json["task"]
    calm = client.post(f"{BASE}/tasks", headers=headers, json={"title": "Calm", "priority": "low"}).json["task"]
    for one in (task, calm):
        assert client.post(f"{BASE}/tasks/{one['id']}/transition", headers=headers,
                           json={"target_state": "blocked", "reason": "waiting"}).status_code == 200
    relay_outbox()
    db.session.expire_all()
    alerts = db.session.execute(select(Alert).where(Alert.source.like("rule:%"))).scalars().all()
    assert [(a.entity_id, a.level, a.title) for a in alerts] == [(str(task["id"]), "critical", "critical_task_blocked")]


def test_the_seeds_settings(client, app, web_app, db, make_user, api_token):
    from app.config import load_config
    from app.services.orchestration.relay import relay_outbox

    config = load_config(app.instance_path, {"METRICS_ENABLED": "false", "PROMETHEUS_PORT": "9090", "WORKFLOW_ENABLED": "false"})
    assert (config["METRICS_ENABLED"], config["PROMETHEUS_PORT"], config["WORKFLOW_ENABLED"]) == (False, 9090, False)
    assert load_config(app.instance_path, {"WORKFLOW_WORKER_INTERVAL": "5"})["WORKFLOW_WORKER_INTERVAL"] == 5.0
    web_app.config["METRICS_ENABLED"] = False
    assert client.get("/metrics", headers={"Authorization": "Bearer x"}).status_code == 404
    app.config["WORKFLOW_ENABLED"] = False  # the relay runs with the tests' app: no rule fires
    headers = api_token(make_user("coordinator"))
    plan = client.post(f"{BASE}/action-plans", headers=headers, json={"title": "Quiet"}).json["action_plan"]
    client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers)
    assert relay_outbox().claimed >= 1
    assert db.session.execute(select(Alert)).scalars().all() == []  # the built-in activation alert did not fire
