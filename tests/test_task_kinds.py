"""Task kinds (ticket task, work item): both task APIs serve both kinds, each with its own fields; "mine"
means the same on both APIs and the board; one priority vocabulary; the migration that brought them."""
import re
from pathlib import Path

import flask_migrate
from sqlalchemy import select, text

from app import create_app
from app.extensions import db as _db
from app.models import AutomationRule, Project, Task, Ticket
from app.schemas.automation import RuleIn
from app.schemas.parsing import validate_data
from app.services.helpdesk.intake import receive_ticket
from tests.ticket_fixtures import desk, payload  # noqa: F401

SEED, WORKFLOW = "/tasks/api/tasks", "/api/workflow/tasks"
MIGRATIONS = str(Path(__file__).resolve().parent.parent / "migrations")


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.json
    return {t["id"] for t in response.json["items"]}


def test_both_apis_serve_both_kinds_each_with_its_own_fields(client, desk, api_token):
    headers = api_token(desk.boss)
    ticket_task = receive_ticket(desk.project_id, payload("T-1")).task_id
    item = client.post(WORKFLOW, json={"title": "Count the chairs", "service_area": "nutrition"},
                       headers=headers).json["task"]
    agents = sorted(a.id for a in desk.agents)

    seed = client.get(f"{SEED}/", headers=headers)
    assert seed.status_code == 200 and _ids(seed) == {ticket_task, item["id"]}
    by_id = {t["id"]: t for t in seed.json["items"]}
    assert by_id[ticket_task]["kind"] == "ticket_task" and by_id[ticket_task]["ticket_external_id"] == "T-1"
    assert by_id[ticket_task]["current_step_name"] == "Triage" and by_id[ticket_task]["steps_count"] == 3
    assert sorted(u["userID"] for u in by_id[ticket_task]["users"]) == agents
    work_item = by_id[item["id"]]
    assert (work_item["kind"], work_item["title"], work_item["service_area"]) == ("work_item", "Count the chairs",
                                                                                  "nutrition")
    assert not {"users", "workflow_id", "current_step", "ticket_id"} & set(work_item)
    for task_id in (ticket_task, item["id"]):
        detail = client.get(f"{SEED}/{task_id}/", headers=headers)
        assert detail.status_code == 200 and detail.json == by_id[task_id]
    assert _ids(client.get(f"{SEED}/?kind=work_item", headers=headers)) == {item["id"]}

    listed = client.get(WORKFLOW, headers=headers)
    assert _ids(listed) == {ticket_task, item["id"]}
    by_id = {t["id"]: t for t in listed.json["items"]}
    ticket_json = by_id[ticket_task]
    assert (ticket_json["kind"], ticket_json["title"], ticket_json["ticket_external_id"]) == (
        "ticket_task", "Laptop does not boot", "T-1")
    assert ticket_json["current_step_name"] == "Triage" and sorted(ticket_json["step_assignee_ids"]) == agents
    assert by_id[item["id"]]["kind"] == "work_item" and "current_step_name" not in by_id[item["id"]]
    for task_id in (ticket_task, item["id"]):
        detail = client.get(f"{WORKFLOW}/{task_id}", headers=headers)
        assert detail.status_code == 200 and detail.json["task"] == by_id[task_id]
    assert _ids(client.get(f"{WORKFLOW}?kind=ticket_task", headers=headers)) == {ticket_task}
    assert client.get(f"{WORKFLOW}?kind=ticket", headers=headers).status_code == 400


def test_mine_is_the_same_on_both_apis_and_the_board(client, web_app, desk, api_token, login):
    """Mine = assigned to me now: the task's assignee, or on its current step and not declined. Not: a
    step I have left, an assignment I declined, a task I only created."""
    boss, agent = api_token(desk.boss), desk.agents[0]
    me = api_token(agent)
    on_step = receive_ticket(desk.project_id, payload("T-1")).task_id
    declined = receive_ticket(desk.project_id, payload("T-2")).task_id
    moved_on = receive_ticket(desk.project_id, payload("T-3")).task_id
    assert client.post(f"{SEED}/{declined}/update_user_status/", json={"user_id": agent.id, "status": "declined"},
                       headers=me).status_code == 200
    assert client.post(f"{SEED}/{moved_on}/move_to_next_step/", headers=boss).status_code == 200
    assigned = client.post(WORKFLOW, json={"title": "Fix the fridge", "assignee_id": agent.id},
                           headers=boss).json["task"]["id"]
    client.post(WORKFLOW, json={"title": "Made by me"}, headers=me)
    client.post(WORKFLOW, json={"title": "Someone else's"}, headers=boss)

    mine = {on_step, assigned}
    assert _ids(client.get(f"{SEED}/?mine=1", headers=me)) == mine
    assert _ids(client.get(f"{WORKFLOW}?mine=true", headers=me)) == mine
    assert _ids(client.get(f"{SEED}/?user_id={agent.id}", headers=boss)) == mine
    assert _ids(client.get(f"{WORKFLOW}?assignee_id={agent.id}", headers=boss)) == mine
    board = login(agent, test_client=web_app.test_client()).get("/tasks/?mine=1").get_data(as_text=True)
    assert {int(i) for i in re.findall(r'data-task-id="(\d+)"', board)} == mine


def test_one_priority_vocabulary_on_every_way_in(client, db, desk, api_token):
    headers = api_token(desk.boss)
    urgent = client.post(WORKFLOW, json={"title": "Fridge", "priority": "URGENT"}, headers=headers).json["task"]
    normal = client.post(WORKFLOW, json={"title": "Chairs", "priority": "normal"}, headers=headers).json["task"]
    assert (urgent["priority"], normal["priority"]) == ("critical", "medium")
    ticket_task = receive_ticket(desk.project_id, payload("T-1", priority="Urgent")).task_id
    assert client.get(f"{SEED}/{ticket_task}/", headers=headers).json["priority"] == "critical"
    assert _ids(client.get(f"{WORKFLOW}?priority=urgent", headers=headers)) == {urgent["id"], ticket_task}
    assert client.get(f"{WORKFLOW}?priority=whenever", headers=headers).status_code == 400
    meta = client.get("/api/workflow/metadata", headers=headers).json
    assert meta["priorities"] == ["low", "medium", "high", "critical"]

    rule = validate_data(RuleIn, {
        "name": "r", "event_type": "TaskCreated", "condition": {"field": "payload.priority", "op": "in",
                                                                "value": ["Urgent", "high", 3]},
        "actions": [{"type": "create_task", "title": "t", "task_type": "general", "priority": "urgent"}]}, "")
    assert rule.condition_document()["value"] == ["critical", "high", 3] and rule.actions[0].priority == "critical"


def test_the_migration_gives_tasks_a_kind_and_rewrites_priorities_both_ways(tmp_path, app_config):
    """Rows as they were before the migration (SQLite; PostgreSQL runs it for every test session)."""
    before, after = "853da17fae4e", "29847f5bf1f3"
    app = create_app({**app_config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'old.db'}"})
    with app.app_context():
        flask_migrate.upgrade(MIGRATIONS, revision=before)
        project = _db.session.execute(Project.__table__.insert().values(name="P")).inserted_primary_key[0]
        ticket = _db.session.execute(Ticket.__table__.insert().values(
            project_id=project, external_id="T-1", priority="critical")).inserted_primary_key[0]
        for ticket_id, priority in ((ticket, "critical"), (None, "urgent"), (None, "Normal")):
            _db.session.execute(Task.__table__.insert().values(project_id=project, ticket_id=ticket_id,
                                                               priority=priority))
        _db.session.execute(AutomationRule.__table__.insert().values(
            name="r", event_type="TaskCreated", actions=[{"type": "create_task", "priority": "urgent"},
                                                         {"type": "alert", "level": "critical"}],
            condition={"not": {"any": [{"field": "payload.priority", "op": "eq", "value": "urgent"},
                                       {"field": "payload.title", "op": "eq", "value": "urgent"}]}}))
        _db.session.commit()

        def rows():
            tasks = _db.session.execute(text("SELECT * FROM tasks ORDER BY id")).mappings().all()
            rule = _db.session.execute(select(AutomationRule.actions, AutomationRule.condition)).one()
            return [(t.get("kind"), t["priority"]) for t in tasks], rule.actions, rule.condition

        flask_migrate.upgrade(MIGRATIONS, revision=after)
        tasks, actions, condition = rows()
        assert tasks == [("ticket_task", "critical"), ("work_item", "critical"), ("work_item", "medium")]
        assert actions == [{"type": "create_task", "priority": "critical"}, {"type": "alert", "level": "critical"}]
        assert condition["not"]["any"] == [{"field": "payload.priority", "op": "eq", "value": "critical"},
                                           {"field": "payload.title", "op": "eq", "value": "urgent"}]

        flask_migrate.downgrade(MIGRATIONS, revision=before)
        tasks, actions, _ = rows()
        assert tasks == [(None, "critical"), (None, "urgent"), (None, "medium")]
        assert actions[0] == {"type": "create_task", "priority": "urgent"}
        _db.session.remove()
