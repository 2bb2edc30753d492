"""The task and action-plan state machines through /api/workflow/: every edge, the permission matrix,
guards, the audit row and event, and compare-and-set under two concurrent transitions."""
from __future__ import annotations

import threading
from itertools import product

import pytest
import requests
from sqlalchemy import func, select

from app.models import ActionPlan, OutboxEvent, Role, StateTransition, Task
from app.schemas.workflow import ActionPlanIn, TaskIn

BASE = "/api/workflow"
TASK_STATES = ("new", "in_progress", "blocked", "completed", "cancelled")
TASK_EDGES = {("new", "in_progress"), ("new", "blocked"), ("new", "cancelled"), ("in_progress", "completed"),
              ("in_progress", "blocked"), ("in_progress", "cancelled"), ("blocked", "in_progress"),
              ("blocked", "cancelled")}
PLAN_STATES = ("draft", "active", "archived")
PLAN_EDGES = {("draft", "active"), ("draft", "archived"), ("active", "archived")}


@pytest.fixture
def people(db, make_user):
    from app.services.platform.users import ensure_default_roles

    ensure_default_roles()
    db.session.add(Role(name="viewer", description="reads only", permissions=["VIEW_STATS"]))
    db.session.commit()
    return {"admin": make_user("admin"), "coord": make_user("coordinator"), "agent": make_user("agent"),
            "agent2": make_user("agent"), "viewer": make_user("viewer"),
            "outsider": make_user("coordinator", projects=("Project B",))}


def _task(client, headers, **data) -> dict:
    body = {"title": "Check the cold chain", "task_type": "intake", "service_area": "immunisation", **data}
    response = client.post(f"{BASE}/tasks", json=body, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["task"]


def _force(db, model, row_id: int, status: str) -> None:
    db.session.get(model, row_id).status = status
    db.session.commit()


def _move(client, headers, task_id: int, to: str, reason: str = "because", **extra):
    return client.post(f"{BASE}/tasks/{task_id}/transition", json={"to_state": to, "reason": reason, **extra},
                       headers=headers)


@pytest.fixture
def coordinator(db, make_user):
    return make_user("coordinator")


@pytest.mark.parametrize("source,target", list(product(TASK_STATES, TASK_STATES)))
def test_every_task_edge(db, coordinator, source, target):
    """The transition table, edge by edge, through the one `transition()` (HTTP adds nothing here:
    the error shapes are checked over HTTP below)."""
    from app.services.platform.errors import InvalidTransition
    from app.services.orchestration.transitions import transition
    from app.services.orchestration.work_items import create_task

    task = create_task(coordinator, TaskIn(title="Check the cold chain", task_type="intake",
                                     service_area="immunisation"))
    _force(db, Task, task.id, source)
    if (source, target) in TASK_EDGES:
        result = transition(coordinator, "task", task.id, target, reason="because")
        assert (result.from_state, result.to_state) == (source, target)
        db.session.expire_all()
        assert db.session.get(Task, task.id).status == target
        assert db.session.execute(select(func.count()).select_from(StateTransition)).scalar_one() == 1
    else:
        with pytest.raises(InvalidTransition) as refused:
            transition(coordinator, "task", task.id, target, reason="because")
        assert refused.value.details["from"] == source and refused.value.details["to"] == target
        db.session.rollback()
        assert db.session.get(Task, task.id).status == source  # nothing changed
        assert db.session.execute(select(func.count()).select_from(OutboxEvent)
                                  .where(OutboxEvent.event_type == "TaskStatusChanged")).scalar_one() == 0


@pytest.mark.parametrize("source,target", list(product(PLAN_STATES, PLAN_STATES)))
def test_every_action_plan_edge(db, coordinator, source, target):
    from app.services.platform.errors import InvalidTransition
    from app.services.orchestration.transitions import transition
    from app.services.orchestration.work_items import create_action_plan

    plan = create_action_plan(coordinator, ActionPlanIn(title="Measles follow-up", service_area="immunisation"))
    _force(db, ActionPlan, plan.id, source)
    if (source, target) in PLAN_EDGES:
        assert transition(coordinator, "action_plan", plan.id, target).to_state == target
    else:
        with pytest.raises(InvalidTransition):
            transition(coordinator, "action_plan", plan.id, target)
        db.session.rollback()
        assert db.session.get(ActionPlan, plan.id).status == source


def test_refused_edges_over_http_name_both_states(client, db, people, api_token):
    headers = api_token(people["coord"])
    task = _task(client, headers)
    _force(db, Task, task["id"], "completed")
    response = _move(client, headers, task["id"], "in_progress")
    assert response.status_code == 400
    assert response.json["success"] is False and response.json["error_code"] == "INVALID_TRANSITION"
    assert response.json["details"]["from"] == "completed" and response.json["details"]["to"] == "in_progress"
    plan = client.post(f"{BASE}/action-plans", json={"title": "Measles follow-up", "service_area": "immunisation"},
                       headers=headers).json["action_plan"]
    _force(db, ActionPlan, plan["id"], "archived")
    refused = client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=headers)
    assert refused.status_code == 400 and refused.json["error_code"] == "INVALID_TRANSITION"
    assert client.post(f"{BASE}/action-plans/{plan['id']}/archive", headers=headers).status_code == 400


def test_aliases_of_the_ticket_service(client, db, people, api_token):
    headers = api_token(people["coord"])
    task = _task(client, headers)
    held = _move(client, headers, task["id"], "on_hold")
    assert held.status_code == 200 and held.json["task"]["status"] == "blocked"
    listed = client.get(f"{BASE}/tasks?status=on_hold", headers=headers).json
    assert [t["id"] for t in listed["items"]] == [task["id"]]
    back = _move(client, headers, task["id"], "pending")  # pending = new, which nothing leads back to
    assert back.status_code == 400 and back.json["error_code"] == "INVALID_TRANSITION"
    unknown = _move(client, headers, task["id"], "sleeping")
    assert unknown.status_code == 400 and "to_state" in unknown.json["details"]


def test_permission_matrix(client, db, people, api_token):
    """Authors and assignees act on their tasks; only authors and supervisors cancel; without
    UPDATE_TASK nobody acts; other projects' tasks do not exist."""
    coord, agent, agent2 = (api_token(people[k]) for k in ("coord", "agent", "agent2"))
    mine = _task(client, agent)  # created by agent
    assigned = _task(client, coord, assignee_id=people["agent"].id)
    other = _task(client, coord)
    cases = [  # (headers, task, to, expected status)
        (agent, mine, "in_progress", 200), (agent2, mine, "blocked", 403),
        (agent, assigned, "in_progress", 200), (agent, assigned, "cancelled", 403),
        (agent, other, "in_progress", 403), (api_token(people["viewer"]), other, "in_progress", 403),
        (api_token(people["outsider"]), other, "in_progress", 404),
        (coord, assigned, "cancelled", 200), (api_token(people["admin"]), other, "cancelled", 200),
        (agent, mine, "cancelled", 200),
    ]
    for headers, task, to, expected in cases:
        response = _move(client, headers, task["id"], to)
        assert response.status_code == expected, (task["title"], to, response.json)
        if expected == 403:
            assert response.json["error_code"] == "PERMISSION_DENIED" and response.json["success"] is False
    # buttons and metadata come from the same table
    fresh = _task(client, coord, assignee_id=people["agent"].id)
    seen = client.get(f"{BASE}/tasks/{fresh['id']}", headers=agent).json["task"]
    assert seen["allowed_transitions"] == ["in_progress", "blocked"]
    assert client.get(f"{BASE}/tasks/{fresh['id']}", headers=coord).json["task"]["allowed_transitions"] == [
        "in_progress", "blocked", "cancelled"]
    # action plans: ACTIVATE_ACTION_PLAN
    plan = client.post(f"{BASE}/action-plans", json={"title": "Plan"}, headers=coord).json["action_plan"]
    denied = client.post(f"{BASE}/action-plans/{plan['id']}/activate", headers=agent)
    assert denied.status_code == 403 and denied.json["error_code"] == "PERMISSION_DENIED"
    assert client.post(f"{BASE}/action-plans", json={"title": "x"}, headers=agent).status_code == 403


def test_guards_audit_and_event(client, db, people, api_token):
    headers = api_token(people["coord"])
    task = _task(client, headers)
    no_reason = _move(client, headers, task["id"], "blocked", reason="")
    assert no_reason.status_code == 400 and no_reason.json["error_code"] == "VALIDATION_FAILED"
    assert "reason" in no_reason.json["details"]
    ok = _move(client, headers, task["id"], "blocked", reason="Vaccine carrier missing",
               context={"source": "field visit"}, expected_state="new")
    assert ok.status_code == 200
    stale = _move(client, headers, task["id"], "in_progress", expected_state="new")
    assert stale.status_code == 409 and stale.json["error_code"] == "CONFLICT"
    record = db.session.execute(select(StateTransition)).scalar_one()
    assert (record.entity_type, record.entity_id, record.from_state, record.to_state, record.actor_id) == (
        "task", task["id"], "new", "blocked", people["coord"].id)
    assert record.reason == "Vaccine carrier missing" and record.context == {"source": "field visit"}
    event = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskStatusChanged")).scalar_one()
    assert event.id == record.event_id and event.correlation_id == record.correlation_id == f"task:{task['id']}"
    assert event.payload["from"] == "new" and event.payload["to"] == "blocked"
    assert event.payload["task_type"] == "intake" and event.payload["reason"] == "Vaccine carrier missing"
    detail = client.get(f"{BASE}/tasks/{task['id']}", headers=headers).json
    assert [(h["from"], h["to"]) for h in detail["history"]] == [("new", "blocked")]
    traced = _move(client, {**headers, "X-Correlation-ID": "visit-42"}, task["id"], "in_progress")
    assert traced.json["transition"]["correlation_id"] == "visit-42"


def test_create_task_validation_names_fields_and_changes_nothing(client, db, people, api_token):
    headers = api_token(people["coord"])
    bad = client.post(f"{BASE}/tasks", json={"title": "", "priority": "whenever", "task_type": "Not A Type",
                                             "assignee_id": people["outsider"].id, "due_at": "tomorrow"},
                      headers=headers)
    assert bad.status_code == 400 and bad.json["error_code"] == "VALIDATION_FAILED"
    assert set(bad.json["details"]) == {"title", "priority", "task_type", "due_at"}  # the body's schema
    stranger = client.post(f"{BASE}/tasks", json={"title": "Fine", "assignee_id": people["outsider"].id},
                           headers=headers)  # then what needs the database
    assert stranger.status_code == 400 and stranger.json["details"] == {
        "assignee_id": [f"user {people['outsider'].id} does not exist in this project"]}
    assert db.session.execute(select(func.count()).select_from(Task)).scalar_one() == 0
    assert db.session.execute(select(func.count()).select_from(OutboxEvent)).scalar_one() == 0


def test_list_filters_metadata_and_stats(client, db, people, api_token):
    coord, agent = api_token(people["coord"]), api_token(people["agent"])
    a = _task(client, coord, service_area="nutrition", priority="high")
    _task(client, coord, task_type="review")
    theirs = _task(client, agent)
    _move(client, coord, a["id"], "in_progress")
    assert [t["id"] for t in client.get(f"{BASE}/tasks?service_area=nutrition", headers=coord).json["items"]] == [a["id"]]
    assert [t["id"] for t in client.get(f"{BASE}/tasks?status=in_progress&priority=high", headers=coord).json["items"]] == [a["id"]]
    agent_id = people["agent"].id
    assert [t["id"] for t in client.get(f"{BASE}/tasks?created_by_id={agent_id}", headers=coord).json["items"]] == [
        theirs["id"]]
    assert client.get(f"{BASE}/tasks?mine=1", headers=agent).json["items"] == []  # made by them, not assigned to them
    assert client.get(f"{BASE}/tasks?status=nope", headers=coord).json["details"] == {
        "status": ["must be one of new, in_progress, blocked, completed, cancelled, got 'nope'"]}
    meta = client.get(f"{BASE}/metadata", headers=agent).json
    assert meta["state_machines"]["task"]["transitions"]["blocked"] == ["in_progress", "cancelled"]
    assert meta["state_machines"]["action_plan"]["transitions"]["draft"] == ["active", "archived"]
    assert {r["key"] for r in meta["rules"] if r["built_in"]} == {"intake_completed_assessment",
                                                                  "action_plan_activated_alert", "job_failed_alert",
                                                                  "sla_breached_escalate"}
    stats = client.get(f"{BASE}/stats", headers=coord).json
    assert stats["tasks"]["by_state"]["in_progress"] == 1 and stats["tasks"]["total"] == 3
    assert client.get(f"{BASE}/stats", headers=agent).status_code == 403


def test_two_concurrent_transitions_one_wins(live_server, db, people, api_token, monkeypatch):
    """Both requests pass every check on the same `new` task, then race on the compare-and-set."""
    import app.services.orchestration.transitions as transitions

    headers = api_token(people["coord"])
    created = requests.post(f"{live_server.url}{BASE}/tasks", json={"title": "Race", "task_type": "general"},
                            headers=headers, timeout=10).json()["task"]
    barrier = threading.Barrier(2, timeout=10)
    original = transitions._compare_and_set

    def synchronised(*args, **kwargs):
        barrier.wait()
        return original(*args, **kwargs)

    monkeypatch.setattr(transitions, "_compare_and_set", synchronised)
    results: dict[str, requests.Response] = {}

    def go(to: str):
        results[to] = requests.post(f"{live_server.url}{BASE}/tasks/{created['id']}/transition",
                                    json={"to_state": to, "reason": "race"}, headers=headers, timeout=30)

    threads = [threading.Thread(target=go, args=(to,)) for to in ("in_progress", "cancelled")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    codes = sorted(r.status_code for r in results.values())
    assert codes == [200, 409], {k: (r.status_code, r.text) for k, r in results.items()}
    winner = next(k for k, r in results.items() if r.status_code == 200)
    loser = next(r for r in results.values() if r.status_code == 409)
    assert loser.json()["error_code"] == "CONFLICT" and loser.json()["success"] is False
    db.session.expire_all()
    assert db.session.get(Task, created["id"]).status == winner
    events = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskStatusChanged")).scalars().all()
    assert [e.payload["to"] for e in events] == [winner]
    assert db.session.execute(select(func.count()).select_from(StateTransition)).scalar_one() == 1


def test_a_conflict_in_the_callers_transaction_writes_nothing_and_keeps_the_callers_work(db, coordinator):
    """Rules run transitions inside the relay's transaction (commit=False): a task changed meanwhile is
    refused with a Conflict that leaves no event and no audit row behind, and what the caller did before
    in the same transaction (here, another task's transition) is committed."""
    from sqlalchemy import update

    from app.services.orchestration.sla import seed_sla_defaults
    from app.services.orchestration.transitions import transition
    from app.services.orchestration.work_items import create_task
    from app.services.platform.errors import Conflict

    seed_sla_defaults()
    stale, other = (create_task(coordinator, TaskIn(title=title, task_type="intake", service_area="immunisation"))
                    for title in ("Stale", "Other"))
    stale_id = stale.id
    assert db.session.get(Task, stale_id).status == "new"  # the system's transition finds it loaded
    transition(None, "task", other.id, "in_progress", reason="rule", commit=False)
    db.session.execute(update(Task).where(Task.id == stale_id).values(status="blocked")
                       .execution_options(synchronize_session=False))  # someone else's change
    with pytest.raises(Conflict):
        transition(None, "task", stale_id, "in_progress", reason="rule", commit=False)
    db.session.commit()
    db.session.expire_all()
    assert (db.session.get(Task, stale_id).status, db.session.get(Task, other.id).status) == ("blocked", "in_progress")
    assert [r.entity_id for r in db.session.execute(select(StateTransition)).scalars()] == [other.id]
    assert db.session.execute(select(OutboxEvent.aggregate_id).where(
        OutboxEvent.event_type == "TaskStatusChanged")).scalars().all() == [str(other.id)]


def _batch(client, headers, items):
    return client.post(f"{BASE}/tasks/transitions", json={"transitions": items}, headers=headers)


def test_batch_applies_items_in_order_each_on_its_own(client, db, people, api_token):
    from app.models import SlaRecord
    from app.services.orchestration.sla import seed_sla_defaults

    seed_sla_defaults()
    coord, agent = api_token(people["coord"]), api_token(people["agent"])
    a, b = _task(client, coord), _task(client, coord, task_type="review")
    hidden = _task(client, api_token(people["outsider"]))
    response = _batch(client, coord, [
        {"task_id": a["id"], "to_state": "in_progress"},
        {"task_id": a["id"], "to_state": "completed", "context": {"visit": 3}},
        {"task_id": b["id"], "to_state": "completed"},                   # not an edge from new
        {"task_id": b["id"], "to_state": "blocked"},                     # the guard: no reason
        {"task_id": b["id"], "to_state": "blocked", "reason": "No fuel", "expected_state": "new"},
        {"task_id": b["id"], "to_state": "in_progress", "expected_state": "new"},  # stale: b is blocked now
        {"task_id": hidden["id"], "to_state": "in_progress"},            # another project's task
        {"task_id": 2**31 - 1, "to_state": "in_progress"},               # no such task
    ])
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["success"], body["applied"], body["refused"]) == (False, 3, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [(r["from"], r["to"]) for r in results if r["ok"]] == [
        ("new", "in_progress"), ("in_progress", "completed"), ("new", "blocked")]
    assert [r.get("error_code") for r in results] == [
        None, None, "INVALID_TRANSITION", "VALIDATION_FAILED", None, "CONFLICT", "NOT_FOUND", "NOT_FOUND"]
    assert results[2]["details"]["allowed"] == ["in_progress", "blocked", "cancelled"]
    assert "reason" in results[3]["details"]
    db.session.expire_all()
    assert (db.session.get(Task, a["id"]).status, db.session.get(Task, b["id"]).status) == ("completed", "blocked")
    assert db.session.get(Task, a["id"]).assignee_id == people["coord"].id  # starting it claimed it
    assert db.session.get(Task, hidden["id"]).status == "new"
    audit = db.session.execute(select(StateTransition).order_by(StateTransition.id)).scalars().all()
    assert [(r.entity_id, r.from_state, r.to_state) for r in audit] == [
        (a["id"], "new", "in_progress"), (a["id"], "in_progress", "completed"), (b["id"], "new", "blocked")]
    assert audit[1].context == {"visit": 3} and audit[2].reason == "No fuel"
    events = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskStatusChanged")
                                .order_by(OutboxEvent.created_at)).scalars().all()
    assert sorted(e.id for e in events) == sorted(r["event_id"] for r in results if r["ok"])
    assert {e.id: e.correlation_id for e in events} == {r.event_id: f"task:{r.entity_id}" for r in audit}
    # the clocks moved as single transitions move them (seed targets are resolution clocks)
    clocks = {(r.task_id, r.kind): r.status for r in db.session.execute(select(SlaRecord)).scalars()}
    assert clocks == {(a["id"], "resolution"): "met", (b["id"], "resolution"): "paused",
                      (hidden["id"], "resolution"): "running"}
    # the same refusals as the single endpoint: an agent on someone else's task
    denied = _batch(client, agent, [{"task_id": b["id"], "to_state": "in_progress", "reason": "fuel found"}])
    assert denied.json["results"][0]["error_code"] == "PERMISSION_DENIED" and denied.json["applied"] == 0


def test_batch_body_is_validated_and_changes_nothing(client, db, people, api_token):
    coord = api_token(people["coord"])
    task = _task(client, coord)
    for body in ({"transitions": "all of them"}, {"transitions": []}, {},
                 {"transitions": [{"task_id": task["id"], "to_state": "in_progress"}] * 501}):
        response = client.post(f"{BASE}/tasks/transitions", json=body, headers=coord)
        assert response.status_code == 400 and response.json["error_code"] == "VALIDATION_FAILED"
        assert "transitions" in response.json["details"]
    assert client.post(f"{BASE}/tasks/transitions", json={"transitions": []}).status_code == 401
    db.session.expire_all()
    assert db.session.get(Task, task["id"]).status == "new"
    assert db.session.execute(select(func.count()).select_from(StateTransition)).scalar_one() == 0


@pytest.mark.parametrize("item,field,message", [
    ({"task_id": True}, "transitions.1.task_id", "valid integer"),      # never task 1
    ({"task_id": 2.7}, "transitions.1.task_id", "valid integer"),       # never task 2
    ({"task_id": "7"}, "transitions.1.task_id", "valid integer"),
    ({"task_id": 2**31}, "transitions.1.task_id", "less than or equal to 2147483647"),
    ({"task_id": 1, "to_state": "sleeping"}, "transitions.1.to_state", "must be one of new, in_progress"),
    ({"task_id": 1, "to_state": "blocked", "reason": "x" * 501}, "transitions.1.reason", "at most 500"),
    ({"task_id": 1, "context": "not an object"}, "transitions.1.context", "an object"),
    ({"task_id": 1, "colour": "red"}, "transitions.1.colour", "is not a field of this request"),
    ("not an object", "transitions.1", "an object"),
])
def test_a_malformed_batch_item_is_a_400_naming_it_and_nothing_is_applied(client, db, people, api_token, item,
                                                                          field, message):
    coord = api_token(people["coord"])
    task = _task(client, coord)
    if isinstance(item, dict):
        item = {"to_state": "in_progress", **item}
    response = _batch(client, coord, [{"task_id": task["id"], "to_state": "in_progress"}, item])
    assert response.status_code == 400 and response.json["error_code"] == "VALIDATION_FAILED", response.json
    assert message in response.json["details"][field][0]
    db.session.expire_all()
    assert db.session.get(Task, task["id"]).status == "new"


def test_the_seed_transition_body_and_its_aliases(client, db, people, api_token):
    """`to_state`, `state`, `to` and the seed's `target_state`; the seed's `notes` are kept on the audit row."""
    headers = api_token(people["coord"])
    task = _task(client, headers)
    seed = client.post(f"{BASE}/tasks/{task['id']}/transition", headers=headers, json={
        "target_state": "in_progress", "context": {"reason": "Starting work"}, "notes": "Beginning task execution"})
    assert seed.status_code == 200, seed.json
    record = db.session.execute(select(StateTransition)).scalar_one()
    assert record.context == {"reason": "Starting work", "notes": "Beginning task execution"}
    held = client.post(f"{BASE}/tasks/{task['id']}/transition", json={"state": "ON_HOLD", "reason": "rain"},
                       headers=headers)
    assert held.json["task"]["status"] == "blocked"
    unknown = client.post(f"{BASE}/tasks/{task['id']}/transition", json={"to": "in_progress", "mood": "good"},
                          headers=headers)
    assert unknown.status_code == 400 and unknown.json["details"] == {"mood": ["is not a field of this request"]}
    too_long = client.post(f"{BASE}/tasks/{task['id']}/transition", json={"to": "in_progress"},
                           headers={**headers, "X-Correlation-ID": "x" * 65})
    assert too_long.status_code == 400 and "X-Correlation-ID" in too_long.json["details"]


def test_the_seed_create_task_body(client, db, people, api_token):
    """The seed's example: `due_date` is the due time; `assigned_to` (another system's user) is accepted."""
    response = client.post(f"{BASE}/tasks", headers=api_token(people["coord"]), json={
        "title": "Process Application", "description": "Review and process new application", "task_type": "intake",
        "priority": "high", "assigned_to": "user123", "due_date": "2024-01-15T10:00:00Z"})
    assert response.status_code == 201, response.json
    assert response.json["task"]["due_at"] == "2024-01-15T10:00:00Z"


def test_coercion_and_bounds_on_the_workflow_api(client, db, people, api_token):
    headers = api_token(people["coord"])
    for query in ("page=9223372036854775807", "limit=0", "assignee_id=2147483648", "status=sleeping", "mine=maybe",
                  "colour=red"):
        response = client.get(f"{BASE}/tasks?{query}", headers=headers)
        assert response.status_code == 400 and response.json["success"] is False, query
    nul = client.get(f"{BASE}/tasks?search=a%00b", headers=headers)
    assert nul.status_code == 400 and "'search' contains a NUL character" in nul.json["message"]
    for body in ({"title": "x", "assignee_id": True}, {"title": "x", "action_plan_id": 2.7},
                 {"title": "x", "project_id": 2**40}, {"title": "x", "data": {"a": "\u0000"}}):
        refused = client.post(f"{BASE}/tasks", json=body, headers=headers)
        assert refused.status_code == 400 and set(refused.json["details"]) <= {
            "assignee_id", "action_plan_id", "project_id", "data"}, body
    plan = client.post(f"{BASE}/action-plans", headers=headers, json={
        "title": "Q1 Compliance Plan", "description": "Quarterly compliance action plan",
        "goals": ["Complete all pending assessments", "Schedule quarterly review"]})  # the seed's example
    assert plan.status_code == 201, plan.json
    assert client.get(f"{BASE}/action-plans?status=bogus", headers=headers).status_code == 400
    assert client.post(f"{BASE}/action-plans/{plan.json['action_plan']['id']}/activate", data="[1]",
                       content_type="application/json", headers=headers).status_code == 400


def test_batch_compare_and_set_refuses_a_task_changed_meanwhile(client, db, people, api_token, monkeypatch):
    """Between the batch's read and its UPDATE someone cancels task `b`: b's items come back as
    conflicts and write nothing; `a` is applied."""
    import app.services.orchestration.transitions as transitions
    from sqlalchemy import update

    coord = api_token(people["coord"])
    a, b = _task(client, coord), _task(client, coord)
    original = transitions._load_tasks

    def then_someone_cancels_b(actor, items):
        tasks = original(actor, items)
        db.session.execute(update(Task).where(Task.id == b["id"]).values(status="cancelled")
                           .execution_options(synchronize_session=False))
        return tasks

    monkeypatch.setattr(transitions, "_load_tasks", then_someone_cancels_b)
    response = _batch(client, coord, [{"task_id": b["id"], "to_state": "in_progress"},
                                      {"task_id": a["id"], "to_state": "in_progress"},
                                      {"task_id": b["id"], "to_state": "completed"}])
    assert [r.get("error_code") for r in response.json["results"]] == ["CONFLICT", None, "CONFLICT"]
    db.session.expire_all()
    assert (db.session.get(Task, a["id"]).status, db.session.get(Task, b["id"]).status) == ("in_progress", "cancelled")
    assert [r.entity_id for r in db.session.execute(select(StateTransition)).scalars()] == [a["id"]]
    assert db.session.execute(select(func.count()).select_from(OutboxEvent)
                              .where(OutboxEvent.event_type == "TaskStatusChanged")).scalar_one() == 1
