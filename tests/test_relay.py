"""The outbox relay and the automation dispatcher: the two built-in triggers, redelivery dedupe,
the loop guard and depth cap, retries with backoff, dead events and their replay."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.extensions import db as _db
from app.models import (
    Alert, AutomationRule, OutboxEvent, RuleExecution, Task, utcnow,
)
from app.services.orchestration import relay
from app.services.platform.events import example_payload
from app.services.platform.outbox import event_values

BASE = "/api/workflow"


@pytest.fixture
def coord(db, make_user):
    return make_user("coordinator")


def _task(client, headers, **data) -> dict:
    body = {"title": "Register cases", "task_type": "intake", "service_area": "nutrition", **data}
    return client.post(f"{BASE}/tasks", json=body, headers=headers).json["task"]


def _move(client, headers, task_id, to, reason="because"):
    response = client.post(f"{BASE}/tasks/{task_id}/transition", json={"to_state": to, "reason": reason},
                           headers=headers)
    assert response.status_code == 200, response.json
    return response.json


def _statuses() -> dict:
    return dict(_db.session.execute(select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all())


def test_intake_completed_creates_one_high_priority_assessment(client, db, coord, api_token):
    headers = api_token(coord)
    intake = _task(client, headers, title="Register cases in Kibera")
    _move(client, headers, intake["id"], "in_progress")
    completed = _move(client, headers, intake["id"], "completed")
    relay.drain(max_seconds=10)
    assessments = db.session.execute(select(Task).where(Task.task_type == "assessment")).scalars().all()
    assert len(assessments) == 1
    follow_up = assessments[0]
    assert (follow_up.title, follow_up.priority, follow_up.service_area, follow_up.status) == (
        "Assessment: Register cases in Kibera", "high", "nutrition", "new")
    created = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskCreated",
                                                           OutboxEvent.aggregate_id == str(follow_up.id))).scalar_one()
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.key == "intake_completed_assessment")).scalar_one()
    assert created.causation_id == completed["transition"]["event_id"] and created.depth == 1
    assert created.rule_chain == [rule.id] and created.correlation_id == f"task:{intake['id']}"
    assert _statuses() == {"done": 4}  # created ×2, in_progress, completed — all processed
    # the assessment shows in the API as a new task with its SLA-relevant fields
    listed = client.get(f"{BASE}/tasks?task_type=assessment", headers=headers).json["items"]
    assert [t["priority"] for t in listed] == ["high"]

    # a redelivered completion event (at-least-once) does not create a second assessment
    event = db.session.get(OutboxEvent, completed["transition"]["event_id"])
    event.status, event.next_attempt_at = "pending", utcnow()
    db.session.commit()
    relay.drain(max_seconds=10)
    assert db.session.execute(select(func.count()).select_from(Task).where(Task.task_type == "assessment")).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(RuleExecution)
                              .where(RuleExecution.rule_id == rule.id)).scalar_one() == 1


def test_other_completions_do_not_fire(client, db, coord, api_token):
    headers = api_token(coord)
    review = _task(client, headers, task_type="review")
    _move(client, headers, review["id"], "in_progress")
    _move(client, headers, review["id"], "completed")
    relay.drain(max_seconds=10)
    assert db.session.execute(select(func.count()).select_from(Task)).scalar_one() == 1


def test_action_plan_activated_raises_an_alert(client, db, coord, api_token):
    headers = api_token(coord)
    plan = client.post(f"{BASE}/action-plans", json={"title": "Cholera response", "service_area": "wash"},
                       headers=headers).json["action_plan"]
    client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers)
    relay.drain(max_seconds=10)
    alert = db.session.execute(select(Alert)).scalar_one()
    assert alert.title == "Action plan activated: Cholera response" and alert.project_id == plan["project_id"]
    assert alert.entity_type == "action_plan" and alert.entity_id == str(plan["id"])


def test_disabled_rule_does_not_fire(client, db, coord, api_token):
    rule = db.session.execute(select(AutomationRule).where(AutomationRule.key == "action_plan_activated_alert")).scalar_one()
    rule.enabled = False
    db.session.commit()
    headers = api_token(coord)
    plan = client.post(f"{BASE}/action-plans", json={"title": "Quiet"}, headers=headers).json["action_plan"]
    client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers)
    relay.drain(max_seconds=10)
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar_one() == 0


def _rule(db, name, event_type, condition, actions) -> AutomationRule:
    rule = AutomationRule(name=name, event_type=event_type, condition=condition, actions=actions, enabled=True)
    db.session.add(rule)
    db.session.commit()
    return rule


def test_automation_loop_is_stopped_by_the_guard(client, db, coord, api_token):
    """Two rules that undo each other: start → block → resume → (block again? no: loop guard)."""
    block = _rule(db, "Block on start", "TaskStatusChanged", {"field": "payload.to", "op": "eq", "value": "in_progress"},
                  [{"type": "transition", "to": "blocked", "reason": "auto-block"}])
    resume = _rule(db, "Resume on block", "TaskStatusChanged", {"field": "payload.to", "op": "eq", "value": "blocked"},
                   [{"type": "transition", "to": "in_progress", "reason": "auto-resume"}])
    headers = api_token(coord)
    task = _task(client, headers, task_type="general")
    _move(client, headers, task["id"], "in_progress")
    relay.drain(max_seconds=10)
    db.session.expire_all()
    assert db.session.get(Task, task["id"]).status == "in_progress"
    outcomes = db.session.execute(select(RuleExecution.rule_id, RuleExecution.outcome)
                                  .order_by(RuleExecution.id)).all()
    assert [tuple(o) for o in outcomes] == [(block.id, "fired"), (resume.id, "fired"), (block.id, "loop_blocked")]
    changes = db.session.execute(select(OutboxEvent.payload, OutboxEvent.depth, OutboxEvent.rule_chain)
                                 .where(OutboxEvent.event_type == "TaskStatusChanged")
                                 .order_by(OutboxEvent.depth)).all()
    assert [(p["to"], d, c) for p, d, c in changes] == [
        ("in_progress", 0, []), ("blocked", 1, [block.id]), ("in_progress", 2, [block.id, resume.id])]
    assert _statuses() == {"done": 4}


def test_depth_cap(client, db, app, coord, api_token):
    app.config["AUTOMATION_MAX_DEPTH"] = 2
    chain = []
    for source, target in (("a", "b"), ("b", "c"), ("c", "d")):
        chain.append(_rule(db, f"{source}→{target}", "TaskCreated",
                           {"field": "payload.task_type", "op": "eq", "value": source},
                           [{"type": "create_task", "title": f"type {target}", "task_type": target}]))
    _task(client, api_token(coord), task_type="a")
    relay.drain(max_seconds=10)
    types = db.session.execute(select(Task.task_type).order_by(Task.id)).scalars().all()
    assert types == ["a", "b", "c"]  # the third rule met an event at depth 2
    capped = db.session.execute(select(RuleExecution).where(RuleExecution.rule_id == chain[2].id)).scalar_one()
    assert capped.outcome == "depth_capped"


def test_failures_back_off_then_go_dead_and_replay_delivers_once(client, db, app, coord, api_token, monkeypatch):
    from app.services.orchestration import automation
    from app.services.orchestration import outbox_admin

    app.config.update(OUTBOX_MAX_ATTEMPTS=3, OUTBOX_RETRY_SECONDS=10)
    headers = api_token(coord)
    plan = client.post(f"{BASE}/action-plans", json={"title": "Flaky"}, headers=headers).json["action_plan"]
    event_id = client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers).json["transition"]["event_id"]
    real_dispatch = automation.dispatch

    def broken(event, rules, evaluations, handled=None, rows=None):
        real_dispatch(event, rules, evaluations, handled, rows)
        rows.flush()  # the alert is written, then the transaction fails
        raise RuntimeError("alert service down")

    monkeypatch.setattr(automation, "dispatch", broken)
    start = utcnow()
    first = relay.relay_outbox(now=start)
    assert (first.done, first.retrying) == (1, 1)  # ActionPlanCreated has no rules; the activation failed
    event = db.session.get(OutboxEvent, event_id)
    assert event.status == "pending" and event.attempts == 1 and "alert service down" in event.last_error
    assert event.next_attempt_at >= start + timedelta(seconds=10)
    assert relay.relay_outbox(now=start + timedelta(seconds=5)).claimed == 0  # not due yet
    relay.relay_outbox(now=start + timedelta(seconds=11))  # attempt 2, then backoff doubles to 20 s
    db.session.expire_all()
    assert db.session.get(OutboxEvent, event_id).next_attempt_at >= start + timedelta(seconds=31)
    relay.relay_outbox(now=start + timedelta(seconds=40))
    db.session.expire_all()
    event = db.session.get(OutboxEvent, event_id)
    assert event.status == "dead" and event.attempts == 3
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar_one() == 0  # rolled back each time

    monkeypatch.setattr(automation, "dispatch", real_dispatch)
    from app.schemas.users import UserIn
    from app.services.platform.users import create_user

    boss = create_user(UserIn(username="boss", password="correct-horse-battery", role="admin", projects=["Project A"],
                              platform_operator=True))
    assert outbox_admin.replay_events(boss, [event_id]) == 1
    relay.drain(max_seconds=10)
    db.session.expire_all()
    assert db.session.get(OutboxEvent, event_id).status == "done"
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar_one() == 1


def test_relay_claims_in_batches_and_skips_locked_rows(db, app):
    """Two sessions on PostgreSQL claim disjoint batches (FOR UPDATE SKIP LOCKED)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite runs one relay")
    db.session.execute(OutboxEvent.__table__.insert(), [
        event_values("AlertRaised", "alert", i, example_payload("AlertRaised", alert_id=i)) for i in range(10)])
    db.session.commit()
    from sqlalchemy.orm import Session

    with Session(db.engine) as other:
        locked = other.execute(select(OutboxEvent.id).order_by(OutboxEvent.created_at).limit(4)
                               .with_for_update(skip_locked=True)).scalars().all()
        result = relay.relay_outbox(batch_size=100)
        assert result.claimed == 6 and len(locked) == 4
        other.rollback()
    assert relay.relay_outbox(batch_size=100).claimed == 4


def test_relay_processes_run_side_by_side_and_stop_together(db, app, worker_env):
    """`flask outbox relay --processes 2`: a parent and a forked child relay; SIGTERM to the parent
    stops both. SQLite has one writer, so there it is refused."""
    import signal
    import subprocess
    import sys
    from pathlib import Path

    from tests.conftest import ROOT, _children, wait_for

    command = [sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "relay", "--interval", "0.05",
               "--batch", "50", "--processes", "2"]
    if not worker_env["DATABASE_URL"].startswith("postgresql"):
        refused = subprocess.run(command, env=worker_env, cwd=str(ROOT), capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2 and "--processes > 1 needs PostgreSQL" in refused.stderr
        return
    db.session.add(AutomationRule(name="Alert per report", event_type="AlertRaised",
                                  condition={"field": "payload.source", "op": "eq", "value": "report"},
                                  actions=[{"type": "alert", "title": "Report {payload.alert_id}"}]))
    db.session.execute(OutboxEvent.__table__.insert(), [
        event_values("AlertRaised", "alert", n, example_payload("AlertRaised", alert_id=n, source="report",
                                                                project_id=None)) for n in range(1000)])
    db.session.commit()
    proc = subprocess.Popen(command, env=worker_env, cwd=str(ROOT), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        children = wait_for(lambda: _children(proc.pid), timeout=30, message="the child relay")

        def settled():
            db.session.expire_all()
            return db.session.execute(select(func.count()).select_from(OutboxEvent)
                                      .where(OutboxEvent.status != "done")).scalar_one() == 0
        wait_for(settled, timeout=120, interval=0.2, message="every event done")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not [pid for pid in children if Path(f"/proc/{pid}").exists()]  # the parent reaped them
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar_one() == 1000
    assert db.session.execute(select(func.count(func.distinct(Alert.event_id)))).scalar_one() == 1000


def test_fan_out_is_capped_per_originating_event_with_one_alert(client, db, coord, api_token, app):
    """Rules that feed each other (each creates a task on TaskCreated, and the loop guard only stops a
    rule from re-firing on its own descendants) would turn one API call into hundreds of tasks: the
    chain stops at AUTOMATION_MAX_EFFECTS and says so once."""
    app.config["AUTOMATION_MAX_EFFECTS"] = 10
    for n in range(4):
        db.session.add(AutomationRule(name=f"Echo {n}", event_type="TaskCreated", condition={},
                                      actions=[{"type": "create_task", "title": f"Echo {n} of {{payload.title}}",
                                                "task_type": "general", "service_area": "nutrition"}]))
    db.session.commit()
    _task(client, api_token(coord), title="Origin")
    relay.drain(max_seconds=30)
    made = db.session.scalar(select(func.count()).select_from(Task).where(Task.title.like("Echo%")))
    assert made == 10
    capped = db.session.execute(select(RuleExecution).where(RuleExecution.outcome == "fanout_capped")).scalars().all()
    assert capped and all(c.detail["limit"] == 10 for c in capped)
    alerts = db.session.execute(select(Alert).where(Alert.source == "automation")).scalars().all()
    assert len(alerts) == 1 and "reached 10 tasks, alerts and deliveries" in alerts[0].title
    assert _statuses() == {"done": db.session.scalar(select(func.count()).select_from(OutboxEvent))}
    # another API call is another chain, with a budget of its own
    _task(client, api_token(coord), title="Second origin")
    relay.drain(max_seconds=30)
    assert db.session.scalar(select(func.count()).select_from(Task).where(Task.title.like("Echo%"))) == 20
