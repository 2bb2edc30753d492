"""Availability and assignment modes: away and on-leave agents are skipped (and named in the pick's
reason), least-open-tasks balancing and caps, the unassigned queue filled when someone comes back,
handing tasks back, and declining or reassigning a task's step with a reason."""
from datetime import timedelta

from sqlalchemy import select

from app.models import OutboxEvent, Task, Ticket, utcnow
from app.schemas.helpdesk import AvailabilityIn, LeaveIn, StaffRoleChanges
from app.services.helpdesk import availability
from app.services.helpdesk.intake import receive_ticket, retry_due_allocations
from app.services.helpdesk.round_robin import Member, next_assignees
from app.services.helpdesk.staff_roles import update_staff_role
from tests.conftest import csrf_token_from
from tests.ticket_fixtures import desk, payload  # noqa: F401

API = "/api/helpdesk"


def _ids(picks):
    return [p.user_id for p in picks]


def test_away_and_on_leave_members_are_skipped_and_named():
    users = [Member(3), Member(4, absence=("away", "")), Member(5, absence=("on leave", " until 2026-12-03")),
             Member(6, active=False), Member(7)]
    picks, last = next_assignees(users, 3, 1, "Intake officer")
    assert (_ids(picks), last) == ([7], 7)
    assert picks[0].reason == ("round-robin for role Intake officer: next after user 3 (skipped away user 4; "
                               "on leave user 5 until 2026-12-03; inactive user 6)")


def test_least_open_picks_the_least_busy_and_caps_hold():
    users = [Member(i) for i in (1, 2, 3)]
    load = {1: 4, 2: 1, 3: 1}
    picks, last = next_assignees(users, None, 1, "r", mode="least_open", load=load)
    assert (_ids(picks), picks[0].reason, load[2]) == ([2], "least open tasks for role r: 1 open", 2)
    picks, _ = next_assignees(users, last, 1, "r", mode="least_open", load=load)
    assert _ids(picks) == [3]  # 2 and 3 were equal before: ties go on in the rotation
    capped = {1: 2, 2: 2, 3: 1}
    picks, _ = next_assignees(users, None, 3, "r", cap=2, load=capped)
    assert _ids(picks) == [3] and picks[0].reason.endswith("(skipped at the cap of 2 open tasks users 1, 2)")
    assert next_assignees(users, 5, 3, "r", cap=2, load=capped) == ([], 5)  # all at the cap: nobody, state kept


def _ticket(db, external_id):
    db.session.expire_all()
    return db.session.execute(select(Ticket).where(Ticket.external_id == external_id)).scalar_one()


def test_intake_skips_away_agents_and_waits_when_nobody_is_free(app, db, desk):
    a1, a2, a3 = desk.agents
    availability.set_availability(a1, a1.id, AvailabilityIn(away=True, note="training"))
    outcome = receive_ticket(desk.project_id, payload("AV-1"))
    assert [u["username"] for u in outcome.users] == ["a2", "a3"]
    assert "(skipped away user %d)" % a1.id in outcome.users[0]["reason"]

    today = utcnow().date()
    availability.add_leave(desk.boss, a2.id, LeaveIn(starts_on=today - timedelta(days=1), ends_on=today + timedelta(days=2)))
    availability.set_availability(desk.boss, a3.id, AvailabilityIn(away=True))  # a lead sets an agent away
    waiting = receive_ticket(desk.project_id, payload("AV-2"))
    assert (waiting.allocation_status, waiting.task_id) == ("unassigned", None)
    assert f"on leave user {a2.id} until {(today + timedelta(days=2)).isoformat()}" in waiting.message
    assert _ticket(db, "AV-2").task is None

    back = availability.set_availability(a3, a3.id, AvailabilityIn(away=False))
    assert back.allocated == 1
    ticket = _ticket(db, "AV-2")
    assert ticket.allocation_status == "allocated" and [a.username for a in ticket.task.assignments] == ["a3"]


def test_a_leave_ending_lets_the_cron_retry_fill_the_queue(app, db, desk):
    a1, a2, a3 = desk.agents
    today = utcnow().date()
    leaves = [availability.add_leave(desk.boss, a.id, LeaveIn(starts_on=today, ends_on=today)) for a in desk.agents]
    assert receive_ticket(desk.project_id, payload("AV-3")).allocation_status == "unassigned"
    assert retry_due_allocations() == 0  # still on leave: it keeps waiting
    assert _ticket(db, "AV-3").allocation_status == "unassigned"
    view = availability.remove_leave(a2, leaves[1].id)  # a2's leave is cancelled: the queue is tried at once
    assert view.absent_today == "" and _ticket(db, "AV-3").allocation_status == "allocated"


def test_least_open_mode_with_a_cap(app, db, desk):
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1, assignment_mode="least_open",
                                                                  max_open_tasks=1))
    owners = [receive_ticket(desk.project_id, payload(f"LO-{n}")).users for n in range(4)]
    assert sorted(u[0]["username"] for u in owners[:3]) == ["a1", "a2", "a3"] and owners[3] == []
    assert _ticket(db, "LO-3").allocation_status == "unassigned"
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_open_tasks=None))  # the queue is tried again
    assert _ticket(db, "LO-3").allocation_status == "allocated"


def test_going_away_hands_open_tasks_back(app, db, desk):
    a1, a2, a3 = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    task_ids = [receive_ticket(desk.project_id, payload(f"HB-{n}")).task_id for n in range(3)]  # a1, a2, a3
    change = availability.set_availability(a1, a1.id, AvailabilityIn(away=True, note="sick", hand_back=True))
    assert [t for t, _ in change.handed_back] == [task_ids[0]]
    db.session.expire_all()
    task = db.session.get(Task, task_ids[0])
    assert [(a.username, a.status) for a in task.assignments] == [("a1", "declined"), ("a2", "assigned")]
    assert task.assignments[1].reason.startswith(f"replaces user {a1.id} (handed_back): round-robin")
    event = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskReassigned")).scalar_one()
    assert (event.payload["how"], event.payload["reason"], event.payload["to_user_id"]) == (
        "handed_back", "a1 is away: sick", a2.id)


def test_decline_and_reassign_through_the_api(client, db, desk, api_token):
    a1, a2, a3 = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    task_id = receive_ticket(desk.project_id, payload("RA-1")).task_id  # a1
    url = f"/tasks/api/tasks/{task_id}/reassign/"
    missing = client.post(url, json={}, headers=api_token(a1))
    assert missing.status_code == 400 and "reason" in missing.json["details"]
    assert client.post(url, json={"user_id": a1.id, "reason": "x"}, headers=api_token(a2)).status_code == 403
    declined = client.post(url, json={"reason": "Not my area"}, headers=api_token(a1))
    assert declined.status_code == 200
    assert [(u["username"], u["status"]) for u in declined.json["task"]["users"]] == [
        ("a1", "declined"), ("a2", "assigned")]
    moved = client.post(url, json={"user_id": a2.id, "to_user_id": desk.tech.id, "reason": "Needs a technician"},
                        headers=api_token(desk.boss))
    assert moved.status_code == 200 and moved.json["task"]["users"][-1]["username"] == "t1"
    assert moved.json["task"]["users"][-1]["reason"] == "reassigned to them by boss: Needs a technician"
    again = client.post(url, json={"user_id": a2.id, "reason": "twice"}, headers=api_token(desk.boss))
    assert again.status_code == 400 and "user_id" in again.json["details"]


def test_availability_api(client, db, desk, api_token):
    a1, a2, _ = desk.agents
    url = f"{API}/agents/{a1.id}/availability/"
    assert client.get(url, headers=api_token(a1)).json["available"] is True
    assert client.put(url, json={"away": True}, headers=api_token(a2)).status_code == 403  # not a lead
    away = client.put(url, json={"away": True, "note": "off"}, headers=api_token(a1)).json
    assert (away["available"], away["absent_today"], away["note"]) == (False, "away", "off")
    bad = client.post(f"{API}/agents/{a1.id}/leaves/", json={"starts_on": "2026-12-05", "ends_on": "2026-12-01"},
                      headers=api_token(desk.boss))
    assert bad.status_code == 400 and set(bad.json["details"]) == {"code", "ends_on"}
    added = client.post(f"{API}/agents/{a1.id}/leaves/", json={"starts_on": "2030-01-01", "ends_on": "2030-01-10"},
                        headers=api_token(desk.boss))
    assert added.status_code == 201 and added.json["leaves"][0]["ends_on"] == "2030-01-10"
    leave_id = added.json["leaves"][0]["id"]
    assert client.delete(f"{API}/leaves/{leave_id}/", headers=api_token(a2)).status_code == 403
    assert client.delete(f"{API}/leaves/{leave_id}/", headers=api_token(a1)).json["leaves"] == []


HX = {"HX-Request": "true"}


def test_board_declines_with_a_reason_and_agents_set_themselves_away(client, login, csrf, db, desk, web_app):
    a1, a2, _ = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    task_id = receive_ticket(desk.project_id, payload("PB-1")).task_id  # a1
    login(a1)
    html = client.get("/tasks/").get_data(as_text=True)
    card = html.split(f'data-task-id="{task_id}"')[1].split("</article>")[0]
    assert 'data-action="decline"' in card and 'data-availability="available"' in html
    headers = {**HX, "X-CSRFToken": csrf(), "HX-Prompt": "Not my area"}
    body = client.post(f"/tasks/{task_id}/reassign", data={"user_id": a1.id}, headers=headers).get_data(as_text=True)
    card = body.split(f'data-task-id="{task_id}"')[1].split("</article>")[0]
    assert 'data-user-id="%d"' % a2.id in card and 'data-action="decline"' not in card
    blank = client.post(f"/tasks/{task_id}/reassign", data={}, headers={**HX, "X-CSRFToken": csrf()})
    assert blank.status_code == 400  # no reason: refused, nothing changed

    away = client.post(f"/tasks/availability/{a1.id}", data={"away": "true", "csrf_token": csrf()})
    assert away.status_code == 302
    page = client.get("/tasks/").get_data(as_text=True)
    assert "a1 is away." in page and "You are away" in page
    other = client.post(f"/tasks/availability/{a2.id}", data={"away": "true", "csrf_token": csrf()})
    assert other.status_code == 403  # an agent sets only themselves

    boss = login(desk.boss, test_client=web_app.test_client())
    role_page = boss.get(f"/workflows/roles/{desk.intake.id}").get_data(as_text=True)
    assert f'data-user-id="{a1.id}" data-availability="away"' in role_page and "Least open tasks first" in role_page
    token = csrf_token_from(role_page)
    back = boss.post(f"/tasks/availability/{a1.id}?role_id={desk.intake.id}", data={"away": "false",
                                                                                     "csrf_token": token})
    assert back.headers["Location"].endswith(f"/workflows/roles/{desk.intake.id}")
    saved = boss.post(f"/workflows/roles/{desk.intake.id}", data={
        "max_assignments": "1", "description": "", "assignment_mode": "least_open", "max_open_tasks": "0",
        "user_ids": [str(a.id) for a in desk.agents], "csrf_token": token})
    assert saved.status_code == 400 and "max_open_tasks" in saved.get_data(as_text=True)


def test_ticket_page_declines_and_reassigns_with_the_reason_in_the_history(client, login, db, desk, web_app):
    a1, a2, _ = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    outcome = receive_ticket(desk.project_id, payload("TP-1"))  # a1
    login(a1)
    page = client.get(f"/tickets/{outcome.ticket_id}").get_data(as_text=True)
    assert f'data-reassign="{a1.id}"' in page and "to_user_id" not in page  # agents decline; leads choose
    token = csrf_token_from(page)
    refused = client.post(f"/tickets/{outcome.ticket_id}/reassign", data={"user_id": a1.id, "reason": "",
                                                                          "csrf_token": token}, follow_redirects=True)
    assert "reason" in refused.get_data(as_text=True)
    done = client.post(f"/tickets/{outcome.ticket_id}/reassign", data={"user_id": a1.id, "reason": "On leave soon",
                                                                       "csrf_token": token}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "reassigned." in html and "TaskReassigned" in html and f'data-reassign="{a1.id}"' not in html
    boss = login(desk.boss, test_client=web_app.test_client())
    page = boss.get(f"/tickets/{outcome.ticket_id}").get_data(as_text=True)
    assert f'data-reassign="{a2.id}"' in page and 'name="to_user_id"' in page
    boss.post(f"/tickets/{outcome.ticket_id}/reassign", data={"user_id": a2.id, "to_user_id": desk.tech.id,
                                                              "reason": "Hardware", "csrf_token": csrf_token_from(page)})
    db.session.expire_all()
    task = db.session.get(Task, outcome.task_id)
    assert [(a.username, a.status) for a in task.assignments] == [
        ("a1", "declined"), ("a2", "declined"), ("t1", "assigned")]
    assert task.assignments[-1].reason == "reassigned to them by boss: Hardware"


def test_board_leave_form(client, login, csrf, desk):
    a1 = desk.agents[0]
    login(a1)
    token = csrf()
    bad = client.post(f"/tasks/availability/{a1.id}/leaves", data={"starts_on": "2030-01-05", "ends_on": "2030-01-01",
                                                                   "csrf_token": token}, follow_redirects=True)
    assert "ends on: must be on or after the first day" in bad.get_data(as_text=True)
    page = client.post(f"/tasks/availability/{a1.id}/leaves", data={"starts_on": "2030-01-01", "ends_on": "2030-01-05",
                                                                    "note": "holiday", "csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Leave added" in page and "2030-01-01 – 2030-01-05" in page
    leave_id = page.split('data-leave-id="')[1].split('"')[0]
    page = client.post(f"/tasks/leaves/{leave_id}/remove", data={"csrf_token": token},
                       follow_redirects=True).get_data(as_text=True)
    assert "Leave removed." in page and "data-leave-id" not in page
