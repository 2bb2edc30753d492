"""The seed's task API (/tasks/api/tasks/): each operation, its bad inputs and who may call it."""
import pytest
from sqlalchemy import select

from app.models import OutboxEvent
from app.services.helpdesk.intake import receive_ticket
from app.schemas.helpdesk import StaffRoleChanges
from app.services.helpdesk.staff_roles import update_staff_role
from tests.ticket_fixtures import desk, payload, viewer_role  # noqa: F401

BASE = "/tasks/api/tasks"


@pytest.fixture
def task_id(desk):
    return receive_ticket(desk.project_id, payload("T-1")).task_id


def _events(db, event_type):
    db.session.expire_all()
    return db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == event_type)
                              .order_by(OutboxEvent.created_at)).scalars().all()


def test_list_with_filters(client, desk, api_token, task_id):
    receive_ticket(desk.project_id, payload("T-2"))
    headers = api_token(desk.boss)
    listing = client.get(f"{BASE}/", headers=headers).json
    assert listing["_meta"]["total"] == 2
    item = listing["items"][-1]
    assert item["task_id"] == task_id and item["ticket_subject"] == "Laptop does not boot"
    assert (item["workflow_name"], item["current_step_name"], item["current_step_role"]) == (
        "Laptop repair", "Triage", "Intake officer")
    assert item["assigned_users_count"] == 3 and item["allowed_actions"] == [
        "start", "block", "next_step", "complete", "cancel"]
    ticket_id = item["ticket_id"]
    assert [t["id"] for t in client.get(f"{BASE}/?ticket_id={ticket_id}", headers=headers).json["items"]] == [task_id]
    assert client.get(f"{BASE}/?status=pending", headers=headers).json["_meta"]["total"] == 2  # seed alias of new
    assert client.get(f"{BASE}/?status=completed", headers=headers).json["_meta"]["total"] == 0
    assert client.get(f"{BASE}/?user_id={desk.tech.id}", headers=headers).json["_meta"]["total"] == 0
    assert client.get(f"{BASE}/?workflow_id={desk.workflow.id}&user_id={desk.agents[0].id}",
                      headers=headers).json["_meta"]["total"] == 2
    bad = client.get(f"{BASE}/?status=sleeping&workflow_id=x", headers=headers)
    assert bad.status_code == 400 and bad.json["success"] is False and bad.json["error_code"] == "VALIDATION_FAILED"


def test_agents_see_their_actions_and_strangers_see_nothing(client, desk, api_token, make_user, task_id):
    mine = client.get(f"{BASE}/{task_id}/", headers=api_token(desk.agents[0])).json
    assert mine["allowed_actions"] == ["start", "block", "next_step", "complete"]  # cancel is for supervisors
    assert client.get(f"{BASE}/{task_id}/", headers=api_token(desk.tech)).json["allowed_actions"] == []
    stranger = make_user("coordinator", projects=["Project B"])
    missing = client.get(f"{BASE}/{task_id}/", headers=api_token(stranger))
    assert missing.status_code == 404 and missing.json == {
        "success": False, "message": f"No task {task_id}", "error_code": "NOT_FOUND", "details": {}}
    assert client.get(f"{BASE}/").status_code == 401


def test_create_task_for_ticket(client, db, desk, api_token):
    headers = api_token(desk.boss)
    outcome = receive_ticket(desk.project_id, payload("T-3", category="Network"))
    failed = client.post(f"{BASE}/create_task_for_ticket/", json={"ticket_id": outcome.ticket_id}, headers=headers)
    assert failed.status_code == 409 and failed.json["details"] == {"allocation_status": ["no_workflow"]}
    assert "No published, deployed workflow" in failed.json["message"]
    assert client.post(f"{BASE}/create_task_for_ticket/", json={}, headers=headers).json["details"] == {
        "ticket_id": ["is required"]}
    assert client.post(f"{BASE}/create_task_for_ticket/", json={"ticket_id": 999}, headers=headers).status_code == 404

    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[]))
    outcome = receive_ticket(desk.project_id, payload("T-4"))
    assert outcome.allocation_status == "no_users_for_role"
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[desk.agents[1].id]))
    created = client.post(f"{BASE}/create_task_for_ticket/", json={"ticket_id": outcome.ticket_id}, headers=headers)
    assert created.status_code == 201 and created.json["success"] is True
    assert [u["username"] for u in created.json["task"]["users"]] == ["a2"]
    again = client.post(f"{BASE}/create_task_for_ticket/", json={"ticket_id": outcome.ticket_id}, headers=headers)
    assert again.status_code == 409 and "already has task" in again.json["message"]


def test_assign_user_and_its_bad_inputs(client, db, desk, api_token, make_user, task_id):
    headers = api_token(desk.boss)
    done = client.post(f"{BASE}/{task_id}/assign_user/", json={"userID": desk.tech.id, "username": "t1"},
                       headers=headers)
    assert done.status_code == 200
    added = [u for u in done.json["task"]["users"] if u["userID"] == desk.tech.id][0]
    assert added["reason"] == "assigned manually by boss" and added["role"] == "Intake officer"
    again = client.post(f"{BASE}/{task_id}/assign_user/", json={"userID": desk.tech.id}, headers=headers)
    assert again.status_code == 400 and "already assigned" in again.json["details"]["userID"][0]
    stranger = make_user("agent", projects=["Project B"])
    for body, message in (({}, "is required"), ({"userID": "seven"}, "valid integer"), ({"userID": True}, "valid integer"),
                          ({"userID": 3.5}, "valid integer"), ({"userID": 2**31}, "less than or equal to 2147483647"),
                          ({"userID": stranger.id}, "does not exist in this project")):
        response = client.post(f"{BASE}/{task_id}/assign_user/", json=body, headers=headers)
        assert response.status_code == 400 and message in response.json["details"]["userID"][0]
    refused = client.post(f"{BASE}/{task_id}/assign_user/", json={"userID": desk.tech.id},
                          headers=api_token(desk.agents[0]))
    assert refused.status_code == 403 and "MANAGE_WORKFLOWS" in refused.json["message"]
    assert len(_events(db, "TaskAssigned")) == 1


def test_update_user_status(client, db, desk, api_token, task_id):
    a1, a2, _ = desk.agents
    ok = client.post(f"{BASE}/{task_id}/update_user_status/", json={"user_id": a1.id, "status": "in_progress"},
                     headers=api_token(a1))
    assert ok.status_code == 200 and ok.json["task"]["users"][0]["status"] == "in_progress"
    others = client.post(f"{BASE}/{task_id}/update_user_status/", json={"user_id": a2.id, "status": "completed"},
                         headers=api_token(a1))
    assert others.status_code == 403 and others.json["error_code"] == "PERMISSION_DENIED"
    bad = client.post(f"{BASE}/{task_id}/update_user_status/", json={"user_id": True, "status": "napping"},
                      headers=api_token(desk.boss))
    assert bad.status_code == 400 and set(bad.json["details"]) == {"user_id", "status"}
    absent = client.post(f"{BASE}/{task_id}/update_user_status/", json={"user_id": desk.tech.id, "status": "done"},
                         headers=api_token(desk.boss))
    assert absent.status_code == 400 and "is not assigned to the current step" in absent.json["details"]["user_id"][0]
    by_boss = client.post(f"{BASE}/{task_id}/update_user_status/", json={"userID": a2.id, "status": "declined"},
                          headers=api_token(desk.boss))
    assert by_boss.json["task"]["users"][1]["status"] == "declined"
    assert [e.payload["to"] for e in _events(db, "TaskUserStatusChanged")] == ["in_progress", "declined"]


def test_board_actions_follow_the_allowed_transitions(client, db, desk, api_token, task_id):
    a1 = api_token(desk.agents[0])
    not_now = client.post(f"{BASE}/{task_id}/resume/", headers=a1)
    assert not_now.status_code == 400 and not_now.json["error_code"] == "INVALID_TRANSITION"
    assert client.post(f"{BASE}/{task_id}/start/", headers=a1).json["task"]["status"] == "in_progress"
    no_reason = client.post(f"{BASE}/{task_id}/block/", headers=a1)
    assert no_reason.status_code == 400 and "reason" in no_reason.json["details"]
    blocked = client.post(f"{BASE}/{task_id}/block/", json={"reason": "waiting for parts"}, headers=a1)
    assert blocked.json["task"]["allowed_actions"] == ["resume"]
    assert client.post(f"{BASE}/{task_id}/resume/", headers=a1).json["task"]["status"] == "in_progress"
    refused = client.post(f"{BASE}/{task_id}/cancel/", json={"reason": "dup"}, headers=a1)  # supervisors only
    assert refused.status_code == 403 and refused.json["error_code"] == "PERMISSION_DENIED"
    assert client.post(f"{BASE}/{task_id}/fly/", headers=a1).status_code == 404
    changes = [(e.payload["from"], e.payload["to"]) for e in _events(db, "TaskStatusChanged")]
    assert changes == [("new", "in_progress"), ("in_progress", "blocked"), ("blocked", "in_progress")]
    cancelled = client.post(f"{BASE}/{task_id}/cancel/", json={"reason": "duplicate"},
                            headers=api_token(desk.boss)).json["task"]
    assert cancelled["status"] == "cancelled" and {u["status"] for u in cancelled["users"]} == {"declined"}
    assert client.post(f"{BASE}/{task_id}/start/", headers=api_token(desk.boss)).status_code == 400


def test_move_to_next_step_staffs_the_next_role_and_completes_at_the_last(client, db, desk, api_token, task_id):
    a1 = api_token(desk.agents[0])
    moved = client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=a1)
    assert moved.status_code == 200 and moved.json["message"] == "Task moved to step 'Repair'"
    task = moved.json["task"]
    assert (task["current_step_name"], task["current_step_order"], task["steps_count"]) == ("Repair", 2, 3)
    assert [(u["username"], u["role"]) for u in task["users"]] == [("t1", "Technician")]
    assert task["users"][0]["reason"] == "round-robin for role Technician: first in the rotation"
    assert client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=a1).status_code == 403  # a1 is not on Repair
    tech = api_token(desk.tech)
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[]))
    stuck = client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=tech)
    assert stuck.status_code == 409 and "No active users for role 'Intake officer'" in stuck.json["message"]
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[a.id for a in desk.agents]))
    assert client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=tech).json["task"]["current_step_name"] == "Check"
    done = client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=a1)
    assert done.json["message"] == "Task completed at its last step" and done.json["task"]["status"] == "completed"
    assert [e.payload["to_step_id"] for e in _events(db, "TaskStepChanged")] == [
        s.id for s in desk.workflow.steps[1:]]
    assert [e.payload["to"] for e in _events(db, "TaskStatusChanged")] == ["in_progress", "completed"]
    assert len(_events(db, "NotificationRequested")) == 1


def test_complete_task_runs_the_end_logic(client, db, desk, api_token, task_id):
    a2 = api_token(desk.agents[1])
    done = client.post(f"{BASE}/{task_id}/complete_task/", json={"skip_remaining_steps": True}, headers=a2)
    assert done.status_code == 200 and done.json["task"]["completed_at"]
    assert {u["status"] for u in done.json["task"]["users"]} == {"completed"}
    started, completed = _events(db, "TaskStatusChanged")  # new → in_progress → completed, one commit
    assert (started.payload["to"], completed.payload["to"]) == ("in_progress", "completed")
    notification = _events(db, "NotificationRequested")[0]
    assert notification.causation_id == completed.id and notification.correlation_id == completed.correlation_id
    assert notification.payload["user_ids"] == [a.id for a in desk.agents]
    assert notification.payload["requester"] == "Ama Owusu"
    assert client.post(f"{BASE}/{task_id}/complete_task/", headers=a2).status_code == 400


def test_completion_without_end_logic_sends_no_notification(client, db, desk, api_token, task_id):
    desk.workflow.end_logic = "none"
    db.session.commit()
    done = client.post(f"{BASE}/{task_id}/complete_task/", json={"skip_remaining_steps": True},
                       headers=api_token(desk.boss))
    assert done.json["task"]["status"] == "completed" and _events(db, "NotificationRequested") == []


def test_the_seed_assign_user_body_and_bad_queries(client, desk, api_token, task_id):
    headers = api_token(desk.boss)
    seed = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={
        "userID": desk.tech.id, "username": "john_doe", "email": "john@example.com", "role": "IT Support Technician"})
    assert seed.status_code == 200, seed.json
    added = [u for u in seed.json["task"]["users"] if u["userID"] == desk.tech.id][0]
    assert (added["username"], added["role"]) == ("t1", "IT Support Technician")  # our user's name
    unknown = client.post(f"{BASE}/{task_id}/assign_user/", json={"userID": desk.tech.id, "shoe_size": 42},
                          headers=headers)
    assert unknown.status_code == 400 and unknown.json["details"] == {"shoe_size": ["is not a field of this request"]}
    for query in ("page=9223372036854775807", "ticket_id=true", "user_id=2.7", "status=sleeping", "colour=red"):
        response = client.get(f"{BASE}/?{query}", headers=headers)
        assert response.status_code == 400 and response.json["error_code"] == "VALIDATION_FAILED", query
    assert client.get(f"{BASE}/?assigned_to={desk.tech.id}", headers=headers).json["_meta"]["total"] == 1
    for body in ({"ticket_id": True}, {"ticket_id": 1.5}, {"ticket_id": 2**31}, {"ticket_id": "1"}):
        refused = client.post(f"{BASE}/create_task_for_ticket/", json=body, headers=headers)
        assert refused.status_code == 400 and "ticket_id" in refused.json["details"], body
    assert client.post(f"{BASE}/{task_id}/block/", json={"reason": 5}, headers=headers).status_code == 400


def test_tasks_made_on_the_workflow_api_are_served_too(client, desk, api_token):
    """A work item (made on /api/workflow/) has no workflow or step: it is listed as a work item and can
    be worked, and it has no step to staff."""
    headers = api_token(desk.boss)
    made = client.post("/api/workflow/tasks", json={"title": "Count the chairs"}, headers=headers).json["task"]
    listed = client.get(f"{BASE}/", headers=headers).json["items"]
    assert [(t["id"], t["kind"], t["title"]) for t in listed] == [(made["id"], "work_item", "Count the chairs")]
    assert "workflow_id" not in listed[0] and "users" not in listed[0]
    assert client.get(f"{BASE}/{made['id']}/", headers=headers).json["allowed_actions"] == [
        "start", "block", "complete", "cancel"]
    assert client.post(f"{BASE}/{made['id']}/move_to_next_step/", headers=headers).status_code == 400
    assert client.post(f"{BASE}/{made['id']}/assign_user/", json={"userID": desk.tech.id},
                       headers=headers).status_code == 409
    assert client.post(f"{BASE}/{made['id']}/start/", headers=headers).json["task"]["status"] == "in_progress"


def test_workflow_statistics(client, desk, api_token, task_id):
    receive_ticket(desk.project_id, payload("T-9", category="Network"))
    client.post(f"{BASE}/{task_id}/start/", headers=api_token(desk.boss))
    stats = client.get(f"{BASE}/workflow_statistics/", headers=api_token(desk.boss)).json
    assert stats["workflows"][0]["name"] == "Laptop repair" and stats["workflows"][0]["total_tasks"] == 1
    assert stats["totals"]["by_status"]["in_progress"] == 1
    assert stats["tickets"]["by_allocation_status"] == {"allocated": 1, "no_workflow": 1}
    refused = client.get(f"{BASE}/workflow_statistics/", headers=api_token(desk.agents[0]))
    assert refused.status_code == 403 and "VIEW_STATS" in refused.json["message"]


def test_users_without_task_permissions_get_no_actions(client, desk, api_token, make_user, task_id):
    viewer_role()
    viewer = make_user("viewer")
    assert client.get(f"{BASE}/{task_id}/", headers=api_token(viewer)).json["allowed_actions"] == []
    assert client.post(f"{BASE}/{task_id}/start/", headers=api_token(viewer)).status_code == 403
