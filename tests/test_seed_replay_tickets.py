"""Seed S2 (`001_…`, tickets → tasks) replayed: every concrete request of the document, sent as written (ids
adapted), gets the documented outcome."""
from app.services.helpdesk.intake import receive_ticket
from tests.test_round_robin import fake_source  # noqa: F401
from tests.ticket_fixtures import desk, payload  # noqa: F401

BASE = "/tasks/api/tasks"


def test_the_task_api_as_written(client, db, desk, api_token, make_user):
    headers = api_token(desk.boss)
    task_id = receive_ticket(desk.project_id, payload("T-1")).task_id
    listing = client.get(f"{BASE}/", headers=headers).json
    item = listing["items"][0]
    assert (item["status"], item["state"], item["fetched_at"]) == ("pending", "new", None)  # the seed's vocabulary
    ticket_id, workflow_id = item["ticket_id"], item["workflow_id"]
    for query in ("status=pending", f"ticket_id={ticket_id}", f"workflow_id={workflow_id}"):
        assert [t["id"] for t in client.get(f"{BASE}/?{query}", headers=headers).json["items"]] == [task_id], query

    # an assignee fetching it stamps fetched_at
    agent = desk.agents[0]
    fetched = client.get(f"{BASE}/{task_id}/", headers=api_token(agent)).json
    assert fetched["fetched_at"] is not None

    # assign_user as written: userID with username, email and role; then by username, by email
    extra = make_user("agent", username="john_doe", email="john@example.com")
    assigned = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={
        "userID": extra.id, "username": "john_doe", "email": "john@example.com", "role": "IT Support Technician"})
    assert assigned.status_code == 200, assigned.json
    assert {"userID": extra.id, "role": "IT Support Technician"}.items() <= assigned.json["task"]["users"][-1].items()
    other = make_user("agent", username="ama", email="ama@example.com")
    by_name = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={"username": "ama"})
    assert by_name.status_code == 200 and by_name.json["task"]["users"][-1]["userID"] == other.id
    third = make_user("agent", username="kofi", email="Kofi@Example.com")
    by_email = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={"email": "kofi@example.com"})
    assert by_email.status_code == 200 and by_email.json["task"]["users"][-1]["userID"] == third.id
    nobody = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={"role": "x"})
    assert nobody.status_code == 400

    # update_user_status as written, then the assignees by status
    moved = client.post(f"{BASE}/{task_id}/update_user_status/", headers=headers,
                        json={"user_id": extra.id, "status": "in_progress"})
    assert moved.status_code == 200, moved.json
    working = client.get(f"{BASE}/{task_id}/users/?status=in_progress", headers=headers).json
    assert [u["userID"] for u in working["users"]] == [extra.id]
    waiting = client.get(f"{BASE}/{task_id}/users/?status=assigned", headers=headers).json
    assert extra.id not in [u["userID"] for u in waiting["users"]] and len(waiting["users"]) >= 3

    blocked = client.post(f"{BASE}/{task_id}/block/", headers=headers, json={"reason": "waiting for parts"})
    assert blocked.json["task"]["status"] == "on_hold" and blocked.json["task"]["state"] == "blocked"
    assert client.get(f"{BASE}/?status=on_hold", headers=headers).json["_meta"]["total"] == 1
    client.post(f"{BASE}/{task_id}/resume/", headers=headers)
    for _ in range(3):  # move_to_next_step as written, to the end of the workflow
        step = client.post(f"{BASE}/{task_id}/move_to_next_step/", headers=headers)
        assert step.status_code == 200, step.json
    assert step.json["task"]["status"] == "completed"
    assert client.get(f"{BASE}/workflow_statistics/", headers=headers).status_code == 200


def test_create_task_for_ticket_and_complete_task_as_written(client, db, desk, api_token):
    headers = api_token(desk.boss)
    outcome = receive_ticket(desk.project_id, payload("T-9", sub_category=None, category="Network"))
    assert outcome.task_id is None
    from app.models import Ticket

    ticket = db.session.query(Ticket).filter_by(external_id="T-9").one()
    missing = client.post(f"{BASE}/create_task_for_ticket/", headers=headers, json={"ticket_id": ticket.id})
    assert missing.status_code == 409  # no matching workflow: as the seed's table says, an error
    task_id = receive_ticket(desk.project_id, payload("T-10")).task_id
    done = client.post(f"{BASE}/{task_id}/complete_task/", headers=headers, json={"skip_remaining_steps": True})
    assert done.status_code == 200 and done.json["task"]["status"] == "completed"


def test_a_user_of_the_external_tts_can_be_assigned(client, web_app, db, desk, api_token, fake_source):
    task_id = receive_ticket(desk.project_id, payload("T-20")).task_id
    web_app.config["TTS_SERVICE_URL"] = fake_source.url
    fake_source.answers["Intake officer"] = (200, [901, 902])
    headers = api_token(desk.boss)
    assigned = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={
        "userID": 901, "username": "tts_user", "email": "tts@example.com"})
    assert assigned.status_code == 200, assigned.json
    assert {"userID": 901, "username": "tts_user"}.items() <= assigned.json["task"]["users"][-1].items()
    unknown = client.post(f"{BASE}/{task_id}/assign_user/", headers=headers, json={"userID": 903})
    assert unknown.status_code == 400 and "userID" in unknown.json["details"]
