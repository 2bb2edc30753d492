"""Ticket queue, ticket detail, task board and workflow admin pages: full pages and HTMX partials."""
import re

from sqlalchemy import select

from app.models import Ticket, Workflow
from app.services.helpdesk.intake import receive_ticket, receive_tickets
from tests.ticket_fixtures import desk, payload  # noqa: F401

HX = {"HX-Request": "true"}


def test_queue_page_partial_filters_and_search(client, login, desk):
    receive_tickets(desk.project_id, [payload("Q-1", subject="Screen flickers"), payload("Q-2", category="Chairs")])
    login(desk.boss)
    page = client.get("/tickets/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Ticket queue</h1>" in html and 'hx-trigger="every 3s"' in html
    assert "Screen flickers" in html and "New ticket" in html
    partial = client.get("/tickets/?status=no_workflow", headers=HX)
    body = partial.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"] and "<h1>" not in body
    assert 'data-external-id="Q-2"' in body and 'data-external-id="Q-1"' not in body
    assert "No published, deployed workflow" in body
    found = client.get("/tickets/?q=flick", headers=HX).get_data(as_text=True)
    assert 'data-external-id="Q-1"' in found and 'data-external-id="Q-2"' not in found


def test_new_ticket_form_creates_and_allocates_or_names_bad_fields(client, login, csrf, db, desk):
    login(desk.agents[0])
    token = csrf()
    bad = client.post("/tickets/", data={"csrf_token": token, "subject": "", "department": "IT", "priority": "asap"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    for field in ("subject", "category", "priority"):
        assert f'id="{field}-error"' in html
    for field in ("category", "priority"):  # each error sits under its own field
        box = html.split(f'name="{field}"')[1].split('<div class="field">')[0]
        assert f'id="{field}-error"' in box, field
    assert '<select name="department" required>' in html and '<option value="IT" selected>' in html
    forged = client.post("/tickets/", data={"csrf_token": token, "subject": "Leak", "department": "Plumbing",
                                            "category": "Hardware", "sub_category": "Printer2", "priority": "low"})
    html = forged.get_data(as_text=True)
    assert forged.status_code == 400
    assert "choose one of the departments in the list" in html.split('name="department"')[1].split('<div class="field">')[0]
    assert "is not a sub-category of Hardware" in html
    done = client.post("/tickets/", data={"csrf_token": token, "subject": "Keyboard dead", "department": "IT",
                                          "category": "Hardware", "sub_category": "Laptop", "priority": "low"},
                       follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Keyboard dead" in html and re.search(r"Ticket WEB-\w+ received: task \d+ assigned to a1, a2, a3", html)
    ticket = db.session.execute(select(Ticket).where(Ticket.subject == "Keyboard dead")).scalar_one()
    assert ticket.requester == "a1" and ticket.task is not None


def test_ticket_detail_shows_workflow_task_reasons_errors_and_events(client, login, desk, csrf):
    ok = receive_ticket(desk.project_id, payload("D-1"))
    failed = receive_ticket(desk.project_id, payload("D-2", category="Chairs"))
    login(desk.boss)
    html = client.get(f"/tickets/{ok.ticket_id}").get_data(as_text=True)
    assert "Laptop repair" in html and f"Task {ok.task_id}" in html and "TaskCreated" in html
    assert "round-robin for role Intake officer: first in the rotation" in html
    html = client.get(f"/tickets/{failed.ticket_id}").get_data(as_text=True)
    assert "No published, deployed workflow for department &#39;IT&#39;, category &#39;Chairs&#39;" in html
    assert "Retry allocation" in html
    retried = client.post(f"/tickets/{failed.ticket_id}/allocate", data={"csrf_token": csrf()}, follow_redirects=True)
    assert "No published, deployed workflow" in retried.get_data(as_text=True)
    assert client.get("/tickets/999999").status_code == 404


def test_task_board_columns_actions_and_my_status(client, login, csrf, desk, web_app):
    outcome = receive_ticket(desk.project_id, payload("B-1"))
    receive_ticket(desk.project_id, payload("B-2"))
    login(desk.agents[0])
    html = client.get("/tasks/").get_data(as_text=True)
    assert "<h1>Task board</h1>" in html and 'data-column="blocked"' in html
    card = f'data-task-id="{outcome.task_id}"'
    assert card in html and 'data-action="start"' in html and 'data-action="cancel"' not in html
    headers = {**HX, "X-CSRFToken": csrf()}
    moved = client.post(f"/tasks/{outcome.task_id}/actions/start", headers=headers)
    body = moved.get_data(as_text=True)
    assert moved.status_code == 200 and "<h1>" not in body
    column = body.split('data-column="in_progress"')[1].split('data-column="blocked"')[0]
    assert card in column
    assert "Task %d is now in progress." % outcome.task_id in body  # the toast (out of band)
    assert 'hx-swap-oob="beforeend:#toasts"' in body and 'data-moved="in_progress"' in body
    own = body.split(card)[1].split("</article>")[0].split(f'data-user-id="{desk.agents[0].id}"')[1].split("</li>")[0]
    assert "in progress" in own and "<select" not in own  # one status control: my status follows the task
    refused = client.post(f"/tasks/{outcome.task_id}/actions/resume", headers=headers)
    assert refused.status_code == 400 and refused.headers["HX-Retarget"] == "#toasts"
    mine = client.get("/tasks/?mine=1", headers=HX).get_data(as_text=True)
    assert card in mine
    tech = login(desk.tech, test_client=web_app.test_client())
    assert card not in tech.get("/tasks/?mine=1", headers=HX).get_data(as_text=True)


def test_workflow_admin_builds_deploys_and_publishes_a_workflow(client, login, csrf, db, desk):
    login(desk.boss)
    token = csrf()
    assert client.get("/workflows/").status_code == 200
    bad = client.post("/workflows/", data={"csrf_token": token, "name": "", "department_id": "",
                                           "category_id": desk.laptop.id, "description": "kept"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="name-error"' in html and 'id="department_id-error"' in html
    assert ">kept</textarea>" in html  # what was typed is kept
    sub = client.post("/workflows/", data={"csrf_token": token, "name": "Laptops", "department_id": desk.it.id,
                                           "category_id": desk.laptop.id})
    assert sub.status_code == 400 and "is a sub-category" in sub.get_data(as_text=True)
    created = client.post("/workflows/", data={"csrf_token": token, "name": "Printer fix", "department_id": desk.it.id,
                                               "category_id": desk.hardware.id, "sub_category_id": desk.printer.id})
    workflow_id = int(created.headers["Location"].rsplit("/", 1)[1])
    refused = client.post(f"/workflows/{workflow_id}/deploy", data={"csrf_token": token, "deployed": "1"})
    assert refused.status_code == 400 and "add at least one step" in refused.get_data(as_text=True)
    client.post(f"/workflows/{workflow_id}/steps", data={"csrf_token": token, "name": "Fix",
                                                         "role_id": desk.technician.id})
    client.post(f"/workflows/{workflow_id}/deploy", data={"csrf_token": token, "deployed": "1"})
    client.post(f"/workflows/{workflow_id}/publish", data={"csrf_token": token, "published": "1"})
    workflow = db.session.get(Workflow, workflow_id)
    db.session.refresh(workflow)
    assert (workflow.status, workflow.is_published, [s.name for s in workflow.steps]) == ("deployed", True, ["Fix"])
    assert receive_ticket(desk.project_id, payload("W-1", sub_category="Printer")).users[0]["username"] == "t1"
    locked = client.post(f"/workflows/{workflow_id}/steps", data={"csrf_token": token, "name": "More",
                                                                  "role_id": desk.technician.id})
    assert locked.status_code == 409


def test_a_second_live_workflow_for_the_same_tickets_is_refused(client, login, csrf, desk):
    from tests.ticket_fixtures import make_workflow

    twin = make_workflow(desk.boss, "Laptop twin", desk.it, desk.hardware, desk.laptop,
                         steps=[("Look", desk.technician)], publish=False)
    login(desk.boss)
    refused = client.post(f"/workflows/{twin.id}/publish", data={"csrf_token": csrf(), "published": "1"})
    assert refused.status_code == 409 and "Laptop repair" in refused.get_data(as_text=True)


def test_roles_page_creates_roles_and_edits_members(client, login, csrf, db, desk):
    login(desk.boss)
    token = csrf()
    html = client.get("/workflows/roles").get_data(as_text=True)
    assert "Intake officer" in html and "Technician" in html
    zero = client.post("/workflows/roles", data={"csrf_token": token, "name": "Zero", "max_assignments": "0",
                                                 "user_ids": [desk.tech.id]})
    assert zero.status_code == 400 and "greater than or equal to 1" in zero.get_data(as_text=True)
    assert 'value="Zero"' in zero.get_data(as_text=True) and f'value="{desk.tech.id}" checked' in zero.get_data(as_text=True)
    dup = client.post("/workflows/roles", data={"csrf_token": token, "name": "technician", "max_assignments": "2"})
    assert dup.status_code == 400 and "already exists" in dup.get_data(as_text=True)
    client.post("/workflows/roles", data={"csrf_token": token, "name": "Reviewer", "max_assignments": "2",
                                          "user_ids": [desk.agents[0].id, desk.tech.id]})
    assert "Reviewer" in client.get("/workflows/roles").get_data(as_text=True)
    client.post(f"/workflows/roles/{desk.technician.id}", data={"csrf_token": token, "max_assignments": "2",
                                                                "user_ids": [desk.tech.id, desk.agents[2].id]})
    db.session.refresh(desk.technician)
    assert (desk.technician.max_assignments, [u.username for u in desk.technician.users]) == (2, ["a3", "t1"])


def test_workflow_admin_needs_the_permission(client, login, desk):
    login(desk.agents[0])
    assert client.get("/workflows/").status_code == 403
    assert client.get("/workflows/roles").status_code == 403
    assert "Workflows</a>" not in client.get("/tickets/").get_data(as_text=True)


def test_demo_help_desk(app, db, make_user, client, login):
    from app.demo.helpdesk import load_ticket_demo
    from app.services.platform.users import get_or_create_project

    agent = make_user("agent", projects=["Demo project"], username="agent")
    project = get_or_create_project("Demo project")
    summary = load_ticket_demo(project)
    assert summary["tickets"] == 20 and 14 <= summary["tasks"] < 20  # a few tickets have no live workflow
    assert load_ticket_demo(project) == {"skipped": True}
    login(agent)
    board = client.get("/tasks/?mine=1").get_data(as_text=True)
    for column in ("new", "in_progress", "blocked", "completed"):
        assert f'data-column="{column}"' in board
    assert "data-task-id" in board


def test_the_idle_queue_is_the_same_from_one_poll_to_the_next(client, login, desk, monkeypatch):
    """A ticket received seconds ago: its age is written in the browser (app.js, from `<time datetime>`),
    so 45 seconds later the polled partial is unchanged and costs a 304 (it used to say "12 s ago")."""
    from datetime import datetime, timedelta, timezone

    from app import template_helpers

    receive_ticket(desk.project_id, payload("AGE-1", subject="Keyboard sticky"))
    login(desk.boss)
    headers = {"HX-Request": "true"}
    first = client.get("/tickets/", headers=headers)
    body = first.get_data(as_text=True)
    assert first.status_code == 200 and re.search(r'<time datetime="[0-9T:-]+Z" data-ago>[^<]+</time>', body)

    later = datetime.now(timezone.utc) + timedelta(seconds=45)

    class Later(datetime):
        @classmethod
        def now(cls, tz=None):
            return later if tz else later.replace(tzinfo=None)

    monkeypatch.setattr(template_helpers, "datetime", Later)
    again = client.get("/tickets/", headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
