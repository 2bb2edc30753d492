"""SLA clocks follow the task's transitions made through /api/workflow/ (the same transaction)."""
from __future__ import annotations

from sqlalchemy import select

from app.models import SlaRecord

BASE = "/api/workflow"


def test_clocks_start_pause_resume_and_stop_with_transitions(client, db, make_user, api_token):
    from app.services.orchestration.sla import seed_sla_defaults

    seed_sla_defaults()
    headers = api_token(make_user("coordinator"))
    task = client.post(f"{BASE}/tasks", json={"title": "Screen children", "task_type": "assessment",
                                              "service_area": "nutrition"}, headers=headers).json["task"]
    record = db.session.execute(select(SlaRecord).where(SlaRecord.task_id == task["id"])).scalar_one()
    assert (record.kind, record.target_minutes, record.status) == ("resolution", 240, "running")
    assert record.due_at > record.started_at and record.warn_at < record.due_at
    detail = client.get(f"{BASE}/tasks/{task['id']}", headers=headers).json
    assert detail["sla"]["status"] == "running" and detail["sla"]["target_minutes"] == 240

    def move(to, reason="because"):
        response = client.post(f"{BASE}/tasks/{task['id']}/transition", json={"to_state": to, "reason": reason},
                               headers=headers)
        assert response.status_code == 200, response.json
        db.session.expire_all()
        return db.session.get(SlaRecord, record.id)

    paused = move("blocked", "Scales broken")
    assert paused.status == "paused" and paused.due_at is None and 0 < paused.remaining_minutes <= 240
    resumed = move("in_progress")
    assert resumed.status == "running" and resumed.due_at is not None and resumed.paused_at is None
    done = move("completed")
    assert done.status == "met" and done.stopped_at is not None


def test_a_failed_transition_leaves_the_clock_alone(client, db, make_user, api_token):
    from app.services.orchestration.sla import seed_sla_defaults

    seed_sla_defaults()
    headers = api_token(make_user("coordinator"))
    task = client.post(f"{BASE}/tasks", json={"title": "Review stock", "task_type": "review"},
                       headers=headers).json["task"]
    before = db.session.execute(select(SlaRecord.status, SlaRecord.due_at)
                                .where(SlaRecord.task_id == task["id"])).one()
    refused = client.post(f"{BASE}/tasks/{task['id']}/transition", json={"to_state": "completed"}, headers=headers)
    assert refused.status_code == 400
    db.session.expire_all()
    assert db.session.execute(select(SlaRecord.status, SlaRecord.due_at)
                              .where(SlaRecord.task_id == task["id"])).one() == before


def test_board_shows_orchestration_tasks_with_their_sla(client, db, make_user, api_token, login, csrf):
    from app.services.orchestration.sla import seed_sla_defaults

    seed_sla_defaults()
    coord = make_user("coordinator")
    task = client.post(f"{BASE}/tasks", json={"title": "Trace contacts", "task_type": "intake",
                                              "service_area": "surveillance"}, headers=api_token(coord)).json["task"]
    login(coord)
    html = client.get("/tasks/").get_data(as_text=True)
    card = html.split(f'data-task-id="{task["id"]}"')[1].split("</article>")[0]
    assert "Trace contacts" in card and "intake · surveillance" in card
    assert 'data-deadline="ok"' in card and " left</span>" in card and "SLA resolution: 0% of the time used" in card
    blocked = client.post(f"/tasks/{task['id']}/actions/block",
                          headers={"HX-Request": "true", "X-CSRFToken": csrf(), "HX-Prompt": "No transport"})
    card = blocked.get_data(as_text=True).split(f'data-task-id="{task["id"]}"')[1].split("</article>")[0]
    assert 'data-status="blocked"' in card and 'data-deadline="paused"' in card and ">paused, " in card
