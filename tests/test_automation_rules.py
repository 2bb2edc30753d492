"""Automation rules pages and service: the condition builder and actions editor, validation naming
fields, tenancy and permissions, HTMX toggles, fired counts, "test against a past event" (loop
guard and depth cap), and the alerts page."""
import re

import pytest
from sqlalchemy import select

from app.models import Alert, AutomationRule, OutboxEvent
from app.services.orchestration import alerts
from app.services.orchestration import automation_rules as rules_svc
from app.services.orchestration import relay
from app.services.orchestration import webhooks
from app.services.orchestration import work_items
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.platform.outbox import emit_event
from app.services.orchestration.transitions import transition
from app.schemas.automation import EndpointIn, RuleIn
from app.schemas.parsing import validate_data
from app.schemas.workflow import TaskIn

HX = {"HX-Request": "true"}


@pytest.fixture
def coord(make_user):
    return make_user("coordinator", ["Project A"], username="coord")


def make_task(user, **extra):
    data = {"title": "Check the cold chain", "task_type": "general", "service_area": "immunisation",
            "priority": "high", **extra}
    return work_items.create_task(user, TaskIn(**data))


def status_event(user, task, to):
    """Move a task and return the TaskStatusChanged event it wrote."""
    from app.extensions import db

    return db.session.get(OutboxEvent, transition(user, "task", task.id, to).event_id)


def rule_form(**fields):
    """A posted rule form: builder rows and actions as the page sends them."""
    data = {"name": "Urgent completions", "description": "", "event_type": "TaskStatusChanged",
            "condition_mode": "builder", "match": "all", "enabled": "on",
            "cond_field": ["payload.to", "payload.priority"], "cond_op": ["eq", "in"],
            "cond_value": ["completed", "high, urgent"],
            "action_key": ["k1"], "a-k1-type": "alert", "a-k1-level": "warning",
            "a-k1-title": "Task {payload.task_id} done", "a-k1-message": "In {payload.service_area}"}
    data.update(fields)
    return data


def save(user, **fields):
    data = {"name": "Rule", "event_type": "TaskStatusChanged", "condition": {}, "actions": [], **fields}
    return rules_svc.save_rule(user, validate_data(RuleIn, data, "Invalid rule"))


def test_form_builds_condition_and_actions_or_names_each_bad_field(client, login, csrf, coord, db):
    login(coord)
    page = client.get("/automation/rules/new").get_data(as_text=True)
    assert "Add condition" in page and 'name="cond_field"' in page and "payload.priority" in page  # field hints
    token = csrf()
    bad = client.post("/automation/rules/new", data=rule_form(
        csrf_token=token, name="", event_type="TaskStatusChanged", cond_op=["eq", "in"],
        action_key=["x", "y", "z"], **{"a-x-type": "transition", "a-x-to": "archived",
                                       "a-y-type": "create_task", "a-y-title": "", "a-y-task_type": "Bad Type",
                                       "a-y-priority": "soon", "a-z-type": "webhook", "a-z-endpoint_id": ""}))
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    for field in ("name", "actions.0.to", "actions.1.title", "actions.1.task_type", "actions.1.priority",
                  "actions.2.endpoint_id"):
        assert f'id="{field}-error"' in html, field
    assert 'value="high, urgent"' in html  # what was typed is kept
    missing = client.post("/automation/rules/new", data=rule_form(
        csrf_token=token, action_key=["z"], **{"a-z-type": "webhook", "a-z-endpoint_id": "999"}))
    assert missing.status_code == 400 and "webhook endpoint 999 does not exist" in missing.get_data(as_text=True)

    done = client.post("/automation/rules/new", data=rule_form(csrf_token=token), follow_redirects=True)
    html = done.get_data(as_text=True)
    assert done.status_code == 200 and "Rule “Urgent completions” saved." in html
    assert '"field": "payload.priority"' in html and "Warning alert “Task ‹task id› done”" in html
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.name == "Urgent completions")).scalar_one()
    assert rule.condition == {"all": [{"field": "payload.to", "op": "eq", "value": "completed"},  # urgent: critical
                                      {"field": "payload.priority", "op": "in", "value": ["high", "critical"]}]}
    assert rule.project_id == coord.project_ids[0]
    assert rule.actions == [{"type": "alert", "level": "warning", "title": "Task {payload.task_id} done",
                             "message": "In {payload.service_area}", "escalate": False}]
    edit = client.get(f"/automation/rules/{rule.id}/edit").get_data(as_text=True)
    assert 'value="payload.priority"' in edit and 'value="high, critical"' in edit
    assert 'value="Task {payload.task_id} done"' in edit


def test_json_mode_condition_is_validated_and_kept_when_the_builder_cannot_show_it(client, login, csrf, coord, db):
    login(coord)
    token = csrf()
    broken = client.post("/automation/rules/new", data=rule_form(csrf_token=token, condition_mode="json",
                                                                  condition_json='{"all": [}'))
    assert broken.status_code == 400 and 'id="condition-error"' in broken.get_data(as_text=True)
    unknown_op = client.post("/automation/rules/new", data=rule_form(
        csrf_token=token, condition_mode="json", condition_json='{"field": "payload.to", "op": "like", "value": "x"}'))
    assert "condition.op: must be one of" in unknown_op.get_data(as_text=True)
    nested = '{"any": [{"not": {"field": "payload.to", "op": "eq", "value": "blocked"}}, {"field": "depth", "op": "gt", "value": 1}]}'
    ok = client.post("/automation/rules/new", data=rule_form(csrf_token=token, condition_mode="json",
                                                              condition_json=nested))
    assert ok.status_code == 302
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.key.is_(None))).scalar_one()
    assert rule.condition["any"][0] == {"not": {"field": "payload.to", "op": "eq", "value": "blocked"}}
    edit = client.get(f"/automation/rules/{rule.id}/edit").get_data(as_text=True)
    assert re.search(r'name="condition_mode" value="json" checked', edit) and "&#34;not&#34;" in edit


def test_htmx_form_pieces(client, login, coord):
    login(coord)
    row = client.get("/automation/rules/form/condition-row", headers=HX).get_data(as_text=True)
    assert 'name="cond_field"' in row and "<h1>" not in row
    hints = client.get("/automation/rules/form/field-hints?event_type=ActionPlanStatusChanged", headers=HX)
    assert "payload.action_plan_id" in hints.get_data(as_text=True) and "payload.task_id" not in hints.get_data(as_text=True)
    one = client.get("/automation/rules/form/action?new_action_type=create_task", headers=HX).get_data(as_text=True)
    two = client.get("/automation/rules/form/action?new_action_type=create_task", headers=HX).get_data(as_text=True)
    keys = [re.search(r'name="action_key" value="(\w+)"', h).group(1) for h in (one, two)]
    assert keys[0] != keys[1] and f'name="a-{keys[0]}-title"' in one
    assert client.get("/automation/rules/form/action?new_action_type=explode", headers=HX).status_code == 400


def test_list_toggle_fired_count_and_who_may_change_what(client, login, csrf, make_user, coord, db, web_app):
    admin = make_user("admin", ["Project A"], username="boss", platform_operator=True)
    agent = make_user("agent", ["Project A"], username="ag")
    rule = save(coord, name="Urgent task alert", event_type="TaskCreated",
                condition={"field": "payload.priority", "op": "eq", "value": "urgent"},
                actions=[{"type": "alert", "level": "critical", "title": "Urgent: {payload.title}"}])
    make_task(coord, priority="urgent", title="Fridge broken")
    make_task(coord, priority="low")
    relay.relay_outbox()

    login(coord)
    page = client.get("/automation/rules").get_data(as_text=True)
    assert "Intake completed → assessment task" in page and "built-in" in page  # built-in rules are listed
    row = re.search(rf'<tr data-rule-id="{rule.id}".*?</tr>', page, re.S).group(0)
    assert '<td class="num fired-count">1</td>' in row and "<time datetime=" in row and "data-ago" in row
    assert "Urgent task alert" in row  # "… s ago" is written by app.js from the time
    builtin = db.session.execute(select(AutomationRule).where(AutomationRule.key.is_not(None))).scalars().first()
    builtin_row = re.search(rf'<tr data-rule-id="{builtin.id}".*?</tr>', page, re.S).group(0)
    assert "rule_toggle" not in builtin_row and "<form" not in builtin_row  # global: coordinators cannot switch it

    token = csrf()
    off = client.post(f"/automation/rules/{rule.id}/toggle", data={"csrf_token": token, "enabled": "0"}, headers=HX)
    body = off.get_data(as_text=True)
    assert off.status_code == 200 and body.strip().startswith("<tr") and 'data-enabled="false"' in body and ">Off<" in body
    assert "HX-Request" in off.headers["Vary"]
    assert client.post(f"/automation/rules/{builtin.id}/toggle", data={"csrf_token": token, "enabled": "0"}).status_code == 403
    assert client.post(f"/automation/rules/{builtin.id}/delete", data={"csrf_token": token}).status_code == 403

    admin_client = web_app.test_client()
    login(admin, test_client=admin_client)
    admin_token = csrf(admin_client)
    toggled = admin_client.post(f"/automation/rules/{builtin.id}/toggle", data={"csrf_token": admin_token, "enabled": "0"},
                                headers=HX)
    assert 'data-enabled="false"' in toggled.get_data(as_text=True)
    refused = admin_client.post(f"/automation/rules/{builtin.id}/delete", data={"csrf_token": admin_token})
    assert refused.status_code == 409 and "disable it instead" in refused.get_data(as_text=True)
    gone = admin_client.post(f"/automation/rules/{rule.id}/delete", data={"csrf_token": admin_token}, follow_redirects=True)
    assert "Rule deleted." in gone.get_data(as_text=True) and "Urgent task alert" not in gone.get_data(as_text=True)

    agent_client = web_app.test_client()
    login(agent, test_client=agent_client)
    listing = agent_client.get("/automation/rules").get_data(as_text=True)
    assert "Intake completed" in listing and "New rule" not in listing
    assert agent_client.get("/automation/rules/new").status_code == 403


def test_rules_of_other_projects_are_invisible(client, login, make_user, coord):
    other = make_user("coordinator", ["Project B"], username="bcoord")
    theirs = save(other, name="B only")
    login(coord)
    assert client.get(f"/automation/rules/{theirs.id}").status_code == 404
    assert "B only" not in client.get("/automation/rules").get_data(as_text=True)
    with pytest.raises(NotFound):
        rules_svc.set_enabled(coord, theirs.id, False)
    with pytest.raises(ValidationFailed) as bad:
        save(coord, name="Sneaky", project_id=other.project_ids[0])
    assert "project_id" in bad.value.details


def test_service_validation_names_fields(coord):
    with pytest.raises(ValidationFailed) as exc:
        save(coord, event_type="AlertRaised", condition={"field": "", "op": "eq"},
             actions=[{"type": "transition", "to": "completed"}, {"type": "alert", "level": "loud", "title": ""},
                      {"type": "teleport"},
                      {"type": "create_task", "title": "t", "task_type": "general", "service_area": "Not/A/Slug"}])
    details = exc.value.details
    assert "AlertRaised is not about a task" in details["actions.0.type"][0]
    assert {"condition", "actions.1.level", "actions.1.title", "actions.2.type", "actions.3.service_area"} <= set(details)
    with pytest.raises(ValidationFailed) as exc:
        save(coord, actions=[{"type": "transition", "to": "cancelled", "reason": ""}])
    assert "actions.0.reason" in exc.value.details  # the state machine would refuse it without one


def test_test_against_a_past_event_says_what_would_happen(client, login, csrf, coord, make_user, db, app, web_app):
    for a in (app, web_app):
        a.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    endpoint, _ = webhooks.create_endpoint(coord, EndpointIn(name="Ops hook", url="http://127.0.0.1:9/hook"))
    rule = save(coord, name="Started tasks", condition={"field": "payload.to", "op": "eq", "value": "in_progress"},
                actions=[{"type": "transition", "to": "completed", "reason": "auto"},
                         {"type": "alert", "level": "warning", "title": "Task {payload.task_id} started",
                          "message": "priority {payload.priority}"},
                         {"type": "create_task", "title": "Review {payload.task_id}", "task_type": "review",
                          "service_area": "", "priority": "low"},
                         {"type": "webhook", "endpoint_id": endpoint.id}])
    task = make_task(coord)
    started = status_event(coord, task, "in_progress")
    other_user = make_user("coordinator", ["Project B"], username="bc")
    foreign = status_event(other_user, make_task(other_user), "in_progress")
    db.session.commit()

    login(coord)
    detail = client.get(f"/automation/rules/{rule.id}").get_data(as_text=True)
    assert f'value="{started.id}"' in detail and f'value="{foreign.id}"' not in detail
    token = csrf()
    result = client.post(f"/automation/rules/{rule.id}/test", data={"csrf_token": token, "event_id": started.id},
                         headers=HX)
    html = result.get_data(as_text=True)
    assert result.status_code == 200 and "<h1>" not in html and 'data-verdict="matched"' in html
    assert f"Move task {task.id} from in progress to completed (reason: auto)" in html
    assert f"Raise a warning alert “Task {task.id} started”: priority high" in html
    assert f"Create a low-priority review task “Review {task.id}” in service area immunisation" in html
    assert "Send a signed TaskStatusChanged delivery to “Ops hook”" in html
    db.session.expire_all()
    assert db.session.get(type(task), task.id).status == "in_progress"  # nothing was done
    assert db.session.execute(select(Alert)).first() is None

    completed = status_event(coord, task, "completed")
    not_matched = rules_svc.test_rule(coord, rule.id, completed.id)
    assert not_matched["verdict"] == "not_matched"
    assert f"Refused: task {task.id} is completed now and cannot go to completed" in not_matched["actions"][0]["summary"]
    assert client.post(f"/automation/rules/{rule.id}/test", data={"csrf_token": token, "event_id": foreign.id},
                       headers=HX).status_code == 404

    loop = emit_event("TaskStatusChanged", "task", task.id, dict(started.payload), rule_chain=[rule.id], depth=1)
    deep = emit_event("TaskStatusChanged", "task", task.id, dict(started.payload), depth=app.config["AUTOMATION_MAX_DEPTH"])
    db.session.commit()
    page = client.post(f"/automation/rules/{rule.id}/test", data={"csrf_token": token, "event_id": loop.id})
    assert page.status_code == 200 and "<h1>Started tasks</h1>" in page.get_data(as_text=True)  # no-JS: the whole page
    assert "Loop guard: this event was caused by this rule." in page.get_data(as_text=True)
    assert rules_svc.test_rule(coord, rule.id, deep.id)["verdict"] == "depth_capped"

    draft = rules_svc.test_rule(coord, RuleIn(name="Draft", event_type="TaskStatusChanged",
                                              condition={"field": "payload.to", "op": "eq", "value": "completed"}),
                                completed.id)
    assert draft["verdict"] == "matched" and draft["actions"] == []


def test_raise_alert_emits_alert_raised_down_the_causation_chain(coord, db):
    task = make_task(coord)
    cause = status_event(coord, task, "in_progress")
    cause.rule_chain, cause.depth = [7], 2
    alert_id = alerts.raise_alert(coord.project_ids[0], "critical", "Cold chain broken", "Fridge at 12°C", "rule:7",
                               event_id=cause.id, entity_type="task", entity_id=task.id, causation=cause)
    db.session.commit()
    raised = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "AlertRaised")).scalar_one()
    assert raised.aggregate_id == str(alert_id) and raised.causation_id == cause.id
    assert db.session.get(Alert, alert_id).title == "Cold chain broken"
    assert raised.correlation_id == cause.correlation_id and raised.depth == 3 and raised.rule_chain == [7]
    assert raised.payload["level"] == "critical" and raised.payload["project_id"] == coord.project_ids[0]
    with pytest.raises(ValidationFailed):
        alerts.raise_alert(None, "apocalyptic", "x", "", "test")


def test_alerts_page_filters_acknowledges_and_pages(client, login, csrf, coord, make_user, db):
    project = coord.project_ids[0]
    for i in range(27):
        alerts.raise_alert(project, "info", f"Routine {i:02d}", "", "sla")
    alerts.raise_alert(project, "critical", "Fridge down", "Vaccines at risk", "rule:1", entity_type="task", entity_id=5)
    other = make_user("coordinator", ["Project B"], username="bb")
    alerts.raise_alert(other.project_ids[0], "critical", "Not yours", "", "sla")
    db.session.commit()

    login(coord)
    html = client.get("/automation/alerts").get_data(as_text=True)
    assert html.index("Fridge down") < html.index("Routine 26") and "Not yours" not in html
    assert "Page 1 of 2" in html and 'id="open-count">28<' in html
    critical = client.get("/automation/alerts?level=critical", headers=HX)
    body = critical.get_data(as_text=True)
    assert "<h1>" not in body and "Fridge down" in body and "Routine" not in body and "Vaccines at risk" in body

    fridge = db.session.execute(select(Alert).where(Alert.title == "Fridge down")).scalar_one()
    acked = client.post(f"/automation/alerts/{fridge.id}/ack", data={"csrf_token": csrf()}, headers=HX)
    row = acked.get_data(as_text=True)
    assert row.strip().startswith("<tr") and "coord" in row and "Acknowledge</button>" not in row
    still_open = client.get("/automation/alerts?open=1").get_data(as_text=True)
    assert "Fridge down" not in still_open and "Routine 26" in still_open
    foreign = db.session.execute(select(Alert).where(Alert.title == "Not yours")).scalar_one()
    assert client.post(f"/automation/alerts/{foreign.id}/ack", data={"csrf_token": csrf()}).status_code == 404


def test_the_rule_form_keeps_an_escalating_alert(client, db, make_user, login, csrf):
    """An alert action's `escalate` (the seed's escalation) is set, shown and kept by the rule form."""
    import re

    from sqlalchemy import select

    from app.models import AutomationRule

    login(make_user("coordinator"))
    form = {"csrf_token": csrf(), "name": "Escalate blocked", "description": "", "event_type": "TaskStatusChanged",
            "condition_mode": "builder", "match": "all", "enabled": "on", "cond_field": ["payload.to"],
            "cond_op": ["eq"], "cond_value": ["blocked"], "action_key": ["k1", "k2"],
            "a-k1-type": "alert", "a-k1-level": "critical", "a-k1-title": "Blocked", "a-k1-message": "",
            "a-k1-escalate": "true",
            "a-k2-type": "alert", "a-k2-level": "info", "a-k2-title": "Noted", "a-k2-message": ""}
    saved = client.post("/automation/rules/new", data=form, follow_redirects=True).get_data(as_text=True)
    assert "escalating the task to critical" in saved
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.name == "Escalate blocked")).scalar_one()
    assert [a.get("escalate") for a in rule.actions] == [True, False]
    edit = client.get(f"/automation/rules/{rule.id}/edit").get_data(as_text=True)
    assert len(re.findall(r'name="a-[^"]+-escalate" value="true" checked', edit)) == 1
    resaved = client.post(f"/automation/rules/{rule.id}/edit", data={**form, "csrf_token": csrf()}, follow_redirects=True)
    assert resaved.status_code == 200
    db.session.expire_all()
    assert [a.get("escalate") for a in db.session.get(AutomationRule, rule.id).actions] == [True, False]
