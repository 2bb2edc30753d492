"""Round-robin staffing: the seed's worked example, inactive users, restarts, and the role source
(our own users, or an external service that is up, empty or down)."""
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from app.models import Ticket
from app.services.helpdesk.intake import receive_ticket, retry_due_allocations
from app.services.helpdesk.round_robin import Member, next_assignees
from app.services.helpdesk.staff_roles import update_staff_role
from app.schemas.helpdesk import StaffRoleChanges
from tests.ticket_fixtures import desk, payload  # noqa: F401


def _ids(picks):
    return [p.user_id for p in picks]


def test_the_seeds_worked_example():
    users = [Member(3), Member(6), Member(7)]
    first, last = next_assignees(users, None, 3, "IT Support Technician")
    second, last = next_assignees(users, last, 3, "IT Support Technician")
    assert (_ids(first), _ids(second), last) == ([3, 6, 7], [3, 6, 7], 7)
    sequence, last = [], None
    for _ in range(4):  # max_assignments=1: 3, 6, 7, 3
        picks, last = next_assignees(users, last, 1, "IT Support Technician")
        sequence += _ids(picks)
    assert sequence == [3, 6, 7, 3]
    assert first[0].reason == "round-robin for role IT Support Technician: first in the rotation"
    assert second[1].reason == "round-robin for role IT Support Technician: next after user 3"


def test_each_task_starts_after_the_last_user_served_and_wraps_round():
    users = [Member(i) for i in (3, 4, 6, 7)]
    assert _ids(next_assignees(users, 6, 3, "r")[0]) == [7, 3, 4]
    assert _ids(next_assignees(users, 5, 2, "r")[0]) == [6, 7]  # user 5 left the role: carry on after 5
    assert _ids(next_assignees(users[:2], None, 3, "r")[0]) == [3, 4]  # fewer users than max: all of them


def test_inactive_users_are_skipped_with_the_reason_recorded():
    users = [Member(3), Member(4, active=False), Member(5, active=False), Member(6), Member(7)]
    picks, last = next_assignees(users, 3, 1, "Intake officer")
    assert (_ids(picks), last) == ([6], 6)
    assert picks[0].reason == "round-robin for role Intake officer: next after user 3 (skipped inactive users 4, 5)"
    assert next_assignees([Member(4, active=False)], 9, 3, "r") == ([], 9)  # nobody active: state unchanged


def _assignees(db, external_id):
    db.session.expire_all()
    ticket = db.session.execute(select(Ticket).where(Ticket.external_id == external_id)).scalar_one()
    return [(a.username, a.reason) for a in ticket.task.assignments]


def test_rotation_is_stored_in_the_database_and_survives_a_restart(app, db, desk, app_config):
    from app import create_app

    a1, a2, a3 = desk.agents
    update_staff_role(desk.boss, desk.intake.id, StaffRoleChanges(max_assignments=1))
    a2.active = False
    db.session.commit()
    for n in range(3):
        receive_ticket(desk.project_id, payload(f"R-{n}"))
    assert [_assignees(db, f"R-{n}")[0][0] for n in range(3)] == ["a1", "a3", "a1"]
    assert _assignees(db, "R-1")[0][1] == (f"round-robin for role Intake officer: next after user {a1.id} "
                                           f"(skipped inactive user {a2.id})")
    restarted = create_app(app_config)  # a new process would read the same state row
    with restarted.app_context():
        receive_ticket(desk.project_id, payload("R-3"))
    assert _assignees(db, "R-3")[0][0] == "a3"


# --- the round-robin source we serve, and external sources ---------------------------------------

def test_we_serve_the_seed_role_source(client, db, desk, api_token):
    desk.agents[1].active = False
    db.session.commit()
    headers = api_token(desk.boss)
    response = client.get("/api/v1/tts/round-robin/?role_name=Intake officer", headers=headers)
    assert response.json == [desk.agents[0].id, desk.agents[2].id]
    assert client.get("/api/v1/tts/round-robin/?role_name=Nobody", headers=headers).json == []
    assert client.get("/api/v1/tts/round-robin/", headers=headers).json["details"] == {"role_name": ["is required"],
                                                                                   "code": "VALIDATION_FAILED"}
    assert client.get("/api/v1/tts/round-robin/?role_name=Technician").status_code == 401


@pytest.fixture
def fake_source():
    """A tiny HTTP role source on loopback: GET returns whatever `answers[role_name]` says."""
    answers: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            from urllib.parse import parse_qs, urlparse

            role = parse_qs(urlparse(self.path).query).get("role_name", [""])[0]
            status, body = answers.get(role, (404, {"detail": "unknown role"}))
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url, server.answers = f"http://127.0.0.1:{server.server_port}", answers
    yield server
    server.shutdown()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _ticket(db, external_id):
    db.session.expire_all()
    return db.session.execute(select(Ticket).where(Ticket.external_id == external_id)).scalar_one()


def test_external_source_up_is_our_own_server(app, db, desk, live_server):
    from app.services.platform.tokens import issue_user_token

    app.config.update(TTS_SERVICE_URL=live_server.url, TTS_SERVICE_TOKEN=issue_user_token(desk.boss)[0])
    outcome = receive_ticket(desk.project_id, payload("X-1"))
    assert outcome.allocation_status == "allocated"
    assert [u["userID"] for u in outcome.users] == [a.id for a in desk.agents]


def test_external_source_empty_and_unknown_role_mean_no_users(app, db, desk, fake_source):
    app.config["TTS_SERVICE_URL"] = fake_source.url
    fake_source.answers["Intake officer"] = (200, [])
    receive_ticket(desk.project_id, payload("X-2"))
    assert _ticket(db, "X-2").allocation_status == "no_users_for_role"
    del fake_source.answers["Intake officer"]  # 404: the source does not know the role
    receive_ticket(desk.project_id, payload("X-3"))
    assert _ticket(db, "X-3").allocation_status == "no_users_for_role"


def test_external_source_down_is_retried_later_until_it_answers(app, db, desk, fake_source, run_worker):
    from app.extensions import get_queue
    from app.models import utcnow

    app.config["TTS_SERVICE_URL"] = _closed_port_url()
    receive_ticket(desk.project_id, payload("X-4"))
    ticket = _ticket(db, "X-4")
    assert ticket.allocation_status == "role_source_unreachable" and ticket.task is None
    assert "unreachable (ConnectionError)" in ticket.allocation_error and "will be retried" in ticket.allocation_error
    assert ticket.allocation_attempts == 1 and ticket.next_allocation_at > utcnow()
    assert retry_due_allocations() == 0  # not due yet

    app.config["TTS_SERVICE_URL"] = fake_source.url
    fake_source.answers["Intake officer"] = (500, "oops")
    ticket.next_allocation_at = utcnow()
    db.session.commit()
    assert retry_due_allocations() == 1
    ticket = _ticket(db, "X-4")
    assert ticket.allocation_status == "role_source_unreachable" and "HTTP 500" in ticket.allocation_error
    assert ticket.allocation_attempts == 2

    fake_source.answers["Intake officer"] = (200, [desk.agents[2].id, 987654])  # 987654: not one of ours
    ticket.next_allocation_at = utcnow()
    db.session.commit()
    get_queue().enqueue("app.rq_jobs.intake.retry_ticket_allocations")  # what RQ cron runs every minute
    run_worker()
    ticket = _ticket(db, "X-4")
    assert ticket.allocation_status == "allocated" and ticket.next_allocation_at is None
    assert sorted((a.user_id, a.username) for a in ticket.task.assignments) == [(desk.agents[2].id, "a3"), (987654, "")]


def test_an_answer_that_is_not_a_list_of_ids_counts_as_unreachable(app, db, desk, fake_source):
    app.config["TTS_SERVICE_URL"] = fake_source.url
    fake_source.answers["Intake officer"] = (200, {"users": [1, 2]})
    receive_ticket(desk.project_id, payload("X-5"))
    assert _ticket(db, "X-5").allocation_status == "role_source_unreachable"
