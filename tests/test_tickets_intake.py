"""Ticket intake: matching, every outcome of the seed's error table, updates, bulk and RQ intake."""
import pytest
from sqlalchemy import func, select

from app.extensions import get_queue
from app.models import OutboxEvent, Task, Ticket, WorkflowStep
from app.schemas.tickets import TicketBatchIn
from app.services.helpdesk import ticket_batches
from app.services.helpdesk.intake import receive_ticket, receive_tickets
from app.services.helpdesk.matching import find_matching_workflow
from tests.ticket_fixtures import desk, make_workflow, payload, viewer_role  # noqa: F401

pytestmark = pytest.mark.usefixtures("desk")


def _ticket(db, external_id) -> Ticket:
    db.session.expire_all()
    return db.session.execute(select(Ticket).where(Ticket.external_id == external_id)).scalar_one()


def test_a_new_ticket_gets_a_task_on_the_first_step_with_assignments_and_an_event(client, db, desk, api_token):
    response = client.post("/api/tickets/", json=payload("TK-1"), headers=api_token(desk.boss))
    assert response.status_code == 201, response.json
    body = response.json
    assert body["action"] == "created" and body["allocation_status"] == "allocated"
    assert [u["username"] for u in body["users"]] == ["a1", "a2", "a3"]
    assert set(body["users"][0]) >= {"userID", "username", "status", "assigned_on", "role"}
    assert body["users"][0]["role"] == "Intake officer" and body["users"][0]["status"] == "assigned"
    ticket = client.get(body["_links"]["ticket"], headers=api_token(desk.boss)).json
    assert ticket["is_task_allocated"] is True and ticket["workflow_name"] == "Laptop repair"
    assert ticket["requester"] == "Ama Owusu" and ticket["priority"] == "high"
    assert ticket["task"]["current_step_name"] == "Triage" and ticket["task"]["status"] == "pending"  # the seed's word for new
    event = db.session.execute(select(OutboxEvent)).scalar_one()
    assert event.event_type == "TaskCreated" and event.status == "pending"
    assert event.payload["task_id"] == body["task_id"] and event.payload["assignees"] == [a.id for a in desk.agents]


def test_matching_exact_then_department_and_category_and_never_undeployed_or_unpublished(app, db, desk):
    general = make_workflow(desk.boss, "Hardware (general)", desk.it, desk.hardware,
                            steps=[("Look", desk.technician)])
    make_workflow(desk.boss, "Printers draft", desk.it, desk.hardware, desk.printer,
                  steps=[("Look", desk.technician)], deploy=False)
    make_workflow(desk.boss, "Printers unpublished", desk.it, desk.hardware, desk.printer,
                  steps=[("Look", desk.technician)], publish=False)
    pid = desk.project_id
    assert find_matching_workflow(pid, "IT", "Hardware", "Laptop").workflow_id == desk.workflow.id
    assert find_matching_workflow(pid, " it ", "HARDWARE", "laptop").workflow_id == desk.workflow.id
    assert find_matching_workflow(pid, "IT", "Hardware", "Printer").workflow_id == general.id  # fallback
    assert find_matching_workflow(pid, "IT", "Hardware", None).workflow_id == general.id
    assert find_matching_workflow(pid, "IT", "Software", None) is None
    assert find_matching_workflow(pid, "Finance", "Hardware", "Laptop") is None


def test_a_workflow_for_another_sub_category_does_not_take_the_ticket(app, db, desk):
    outcome = receive_ticket(desk.project_id, payload("TK-P", sub_category="Printer"))
    assert outcome.allocation_status == "no_workflow"
    ticket = _ticket(db, "TK-P")
    assert ticket.is_task_allocated is False and ticket.task is None
    assert ticket.allocation_error == ("No published, deployed workflow for department 'IT', category 'Hardware', "
                                       "sub-category 'Printer'.")


def test_no_steps_is_recorded_on_the_ticket(app, db, desk):
    from app.models import Workflow

    empty = make_workflow(desk.boss, "Monitors", desk.it, desk.hardware, deploy=False)
    db.session.get(Workflow, empty.id).status = "deployed"  # deploy refuses empty workflows; force it
    db.session.get(Workflow, empty.id).is_published = True
    db.session.commit()
    receive_ticket(desk.project_id, payload("TK-S", sub_category="Monitor"))
    ticket = _ticket(db, "TK-S")
    assert (ticket.allocation_status, ticket.allocation_error) == ("no_steps", "Workflow 'Monitors' has no steps.")
    assert ticket.workflow_id == empty.id and ticket.task is None


def test_no_active_users_for_the_role_is_recorded(app, db, desk):
    from app.schemas.helpdesk import StaffRoleChanges
    from app.services.helpdesk.staff_roles import update_staff_role

    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(user_ids=[desk.agents[0].id]))
    desk.agents[0].active = False
    db.session.commit()
    receive_ticket(desk.project_id, payload("TK-U"))
    ticket = _ticket(db, "TK-U")
    assert ticket.allocation_status == "no_users_for_role"
    assert "No active users for role 'Intake officer'" in ticket.allocation_error
    assert f"inactive: users {desk.agents[0].id}" in ticket.allocation_error


def test_invalid_data_is_stored_visibly_by_async_intake_and_refused_by_the_single_api(client, db, desk, api_token):
    outcomes = receive_tickets(desk.project_id, [payload("TK-BAD", subject="", priority="whenever",
                                                         received_at="yesterday"), {"subject": "no id"}, "nonsense"])
    assert [o.action for o in outcomes] == ["created", "rejected", "rejected"]
    ticket = _ticket(db, "TK-BAD")
    assert ticket.allocation_status == "invalid_data" and ticket.task is None
    for field in ("subject", "priority", "received_at"):
        assert field in ticket.allocation_error
    assert outcomes[1].errors["external_id"] == [
        "is required (one of external_id, ticket_number, ticket_id, id, original_ticket_id)"]
    assert outcomes[2].errors == {"ticket": ["must be a JSON object"]}
    response = client.post("/api/tickets/", json=payload("TK-BAD2", department="", category=5),
                           headers=api_token(desk.boss))
    assert response.status_code == 400
    assert (set(response.json["details"]) - {"code"}) == {"department", "category"}
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.external_id == "TK-BAD2")) == 0


def test_an_update_never_creates_a_second_task(client, db, desk, api_token):
    headers = api_token(desk.boss)
    first = client.post("/api/tickets/", json=payload("TK-2", priority="low"), headers=headers).json
    again = client.post("/api/tickets/", json=payload("TK-2", subject="Still broken", priority="critical"),
                        headers=headers)
    assert again.status_code == 200 and again.json["action"] == "updated"
    assert again.json["task_id"] == first["task_id"]
    ticket = _ticket(db, "TK-2")
    assert ticket.subject == "Still broken" and ticket.task.priority == "critical"
    assert db.session.scalar(select(func.count()).select_from(Task)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxEvent)) == 1


def test_an_update_of_an_unallocated_ticket_is_allocated_once_it_can_be(app, db, desk):
    receive_ticket(desk.project_id, payload("TK-3", category="Hardwar"))  # a typo: no workflow
    assert _ticket(db, "TK-3").allocation_status == "no_workflow"
    outcome = receive_ticket(desk.project_id, payload("TK-3"))
    assert (outcome.action, outcome.allocation_status) == ("updated", "allocated") and outcome.task_id
    assert _ticket(db, "TK-3").allocation_attempts == 2


def test_the_same_ticket_twice_in_a_batch_keeps_the_later_one(app, db, desk):
    outcomes = receive_tickets(desk.project_id, [payload("TK-4", subject="old"), payload("TK-4", subject="new")])
    assert [o.action for o in outcomes] == ["superseded", "created"]
    assert _ticket(db, "TK-4").subject == "new"


def test_bulk_endpoint_queues_one_job_and_reports_the_batch(client, db, desk, api_token, run_worker):
    headers = api_token(desk.boss)
    tickets = [payload(f"B-{i}") for i in range(5)] + [payload("B-x", sub_category="Printer")]
    response = client.post("/api/tickets/bulk/", json={"tickets": tickets}, headers=headers)
    assert response.status_code == 202 and get_queue().count == 1
    location = response.headers["Location"]
    assert client.get(location, headers=headers).json["status"] == "queued"
    run_worker()
    batch = client.get(location, headers=headers).json
    assert batch["status"] == "finished"
    assert batch["result"]["actions"] == {"created": 6}
    assert batch["result"]["allocation"] == {"allocated": 5, "no_workflow": 1}
    assert db.session.scalar(select(func.count()).select_from(Task)) == 5


def test_bulk_sync_and_its_bad_inputs(client, db, desk, api_token, make_user):
    headers = api_token(desk.boss)
    done = client.post("/api/tickets/bulk/?sync=1", json=[payload("S-1"), payload("S-2")], headers=headers)
    assert done.status_code == 200 and done.json["actions"] == {"created": 2}
    assert client.post("/api/tickets/bulk/", json={"tickets": "x"}, headers=headers).json["details"] == {
        "tickets": ["input should be a valid array"], "code": "VALIDATION_FAILED"}
    assert client.post("/api/tickets/bulk/", json=[], headers=headers).status_code == 400
    for body, field in (([payload("S-9")] * 5001, "tickets"), (["nonsense"], "tickets.0"),
                        ({"tickets": [payload("S-9")], "priority": "high"}, "priority"),
                        ({"tickets": [payload("S-9")], "project_id": True}, "project_id")):
        refused = client.post("/api/tickets/bulk/?sync=1", json=body, headers=headers)
        assert refused.status_code == 400 and field in refused.json["details"], (field, refused.json)
    assert client.post("/api/tickets/bulk/?sync=maybe", json=[payload("S-9")], headers=headers).status_code == 400
    stranger = make_user("coordinator", projects=["Project B"])
    batch = client.post("/api/tickets/bulk/", json=[payload("S-3")], headers=headers).headers["Location"]
    assert client.get(batch, headers=api_token(stranger)).status_code == 404


def test_the_rq_jobs_receive_a_ticket_and_allocate_like_the_seed(app, db, desk, run_worker):
    # The seed's `receive_ticket(ticket_data)` queued: a batch of one (RQ carries the job's id only).
    received = ticket_batches.enqueue_batch(desk.boss, TicketBatchIn(tickets=[payload("Q-1")]))
    missing = get_queue().enqueue("app.rq_jobs.intake.create_task_for_ticket", 424242)
    run_worker()
    assert _ticket(db, "Q-1").is_task_allocated is True
    assert ticket_batches.batch_status(desk.boss, received).result["outcomes"][0]["allocation_status"] == "allocated"
    assert missing.return_value()["allocation_status"] == "not_found"
    assert missing.return_value()["message"] == "Ticket 424242 not found."


def test_permissions_and_project_scoping(client, db, desk, api_token, make_user):
    viewer_role()
    viewer = make_user("viewer")
    denied = client.post("/api/tickets/", json=payload("P-1"), headers=api_token(viewer))
    assert denied.status_code == 403 and "CREATE_TASK" in denied.json["error"]
    assert client.post("/api/tickets/", json=payload("P-1")).status_code == 401
    created = client.post("/api/tickets/", json=payload("P-1"), headers=api_token(desk.boss)).json
    stranger = make_user("coordinator", projects=["Project B"])
    assert client.get(f"/api/tickets/{created['ticket_id']}/", headers=api_token(stranger)).status_code == 404
    assert client.get("/api/tickets/", headers=api_token(stranger)).json["_meta"]["total"] == 0
    # Project B has no workflows: the same external id there is another ticket, unallocated.
    other = client.post("/api/tickets/", json=payload("P-1"), headers=api_token(stranger)).json
    assert other["action"] == "created" and other["allocation_status"] == "no_workflow"
    both = make_user("coordinator", projects=["Project A", "Project B"])
    ambiguous = client.post("/api/tickets/", json=payload("P-2"), headers=api_token(both))
    assert ambiguous.status_code == 400 and "project_id" in ambiguous.json["details"]


def test_ticket_list_filters(client, db, desk, api_token):
    headers = api_token(desk.boss)
    receive_tickets(desk.project_id, [payload("F-1", subject="Screen flickers"), payload("F-2", priority="low"),
                                      payload("F-3", category="Furniture")])
    listing = client.get("/api/tickets/?allocation_status=no_workflow", headers=headers).json
    assert [t["external_id"] for t in listing["items"]] == ["F-3"]
    assert client.get("/api/tickets/?search=flicker", headers=headers).json["_meta"]["total"] == 1
    assert client.get("/api/tickets/?priority=low", headers=headers).json["items"][0]["external_id"] == "F-2"
    assert client.get("/api/tickets/?status=no_workflow", headers=headers).json["_meta"]["total"] == 1  # an alias
    for query, field in (("page=9223372036854775807", "page"), ("search=a%00b", "search"), ("priority=asap", "priority"),
                         ("project_id=2147483648", "project_id"), ("colour=red", "colour")):
        refused = client.get(f"/api/tickets/?{query}", headers=headers)
        assert refused.status_code == 400 and (field in refused.json["details"] or field in refused.json["error"]), query


def test_a_ticket_is_read_strictly_and_in_the_seed_spellings(client, db, desk, api_token):
    headers = api_token(desk.boss)
    seed = client.post("/api/tickets/", headers=headers, json={
        "ticket_id": 4711, "id": "", "title": "Printer jam", "body": "Paper stuck", "department": "IT",
        "category": "Hardware", "subcategory": "Printer", "priority": "Urgent", "submit_date": "2025-11-10",
        "employee": {"first_name": "Ama", "last_name": "Owusu"}, "attachments": [{"name": "jam.jpg"}]})
    assert seed.status_code == 201, seed.json
    ticket = _ticket(db, "4711")
    assert (ticket.subject, ticket.sub_category, ticket.priority, ticket.requester) == (
        "Printer jam", "Printer", "critical", "Ama Owusu")
    assert ticket.received_at.isoformat().startswith("2025-11-10T00:00") and ticket.data["attachments"]
    for body, field in (({"ticket_number": True}, "external_id"), ({"ticket_number": 2.7}, "external_id"),
                        ({"subject": 5}, "subject"), ({"priority": "whenever"}, "priority"),
                        ({"submit_date": "99999-01-01"}, "received_at"), ({"due_date": "0001-01-01"}, "due_date"),
                        ({"subject": "a\u0000b"}, "subject"), ({"note": "a\u0000b"}, "body"),
                        ({"project_id": True}, "project_id")):
        refused = client.post("/api/tickets/", json=payload("TK-STRICT", **body), headers=headers)
        assert refused.status_code == 400 and field in refused.json["details"], (body, refused.json)
    assert db.session.scalar(select(func.count()).select_from(Ticket).where(Ticket.external_id == "TK-STRICT")) == 0


def test_steps_are_taken_in_order(app, db, desk):
    step = db.session.execute(select(WorkflowStep).where(WorkflowStep.name == "Triage")).scalar_one()
    assert receive_ticket(desk.project_id, payload("O-1")).users[0]["role"] == step.role.name


def test_the_api_takes_free_text_matched_case_insensitively(client, desk, api_token):
    sent = client.post("/api/tickets/", json=payload("CI-1", department="it", category="HARDWARE", sub_category="laptop"),
                       headers=api_token(desk.boss))
    assert sent.status_code == 201 and sent.json["allocation_status"] == "allocated"


def test_a_batch_whose_tickets_all_lack_an_id_is_rejected_and_stores_nothing(app, db, desk):
    outcomes = receive_tickets(desk.project_id, [{}, {"subject": "No number"}])
    assert [(o.action, o.allocation_status) for o in outcomes] == [("rejected", "invalid_data")] * 2
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
