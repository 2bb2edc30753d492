"""Queued ticket batches are jobs of the `ticket-batch` process: a row in `jobs` with progress and a log,
seen on /jobs and the OGC /jobs by their project only; their tickets are staged in the database, never
in RQ's arguments or the job's inputs; the batch URL reads the job, so it outlives RQ."""
from datetime import timedelta

from rq.job import Job as RQJob
from sqlalchemy import func, select

from app.extensions import get_queue, get_redis
from app.models import Job, Task, Ticket, TicketBatchItem, utcnow
from app.services.helpdesk import ticket_batches
from app.services.helpdesk.intake import receive_tickets
from app.services.processing import job_status as st
from tests.ticket_fixtures import desk, payload, viewer_role  # noqa: F401


def _queue(client, headers, tickets) -> tuple[str, dict]:
    response = client.post("/api/tickets/bulk/", json={"tickets": tickets}, headers=headers)
    assert response.status_code == 202, response.json
    return response.headers["Location"], response.json


def _staged(db, batch_id) -> int:
    return db.session.scalar(select(func.count()).select_from(TicketBatchItem).where(
        TicketBatchItem.batch_id == batch_id, TicketBatchItem.payload.is_not(None)))


def test_a_queued_batch_is_a_job_whose_rq_job_carries_its_id_only_and_whose_url_outlives_rq(
        client, db, desk, api_token, run_worker, login):
    headers = api_token(desk.boss)
    tickets = [payload(f"B-{i}") for i in range(5)] + [payload("B-x", sub_category="Printer")]
    location, queued = _queue(client, headers, tickets)
    batch_id = queued["id"]
    assert queued["_links"] == {"self": location, "job": f"/jobs/{batch_id}"}
    rq_job = get_queue().jobs[0]
    assert (rq_job.func_name, rq_job.args, rq_job.kwargs) == ("app.rq_jobs.runner.run_job", (batch_id,), {})
    assert "Ama" not in repr(rq_job.meta) + repr(rq_job.description)
    waiting = client.get(location, headers=headers).json
    assert (waiting["status"], waiting["count"], waiting["progress"]) == ("queued", 6, 0)
    assert waiting["_links"]["job"] == f"/jobs/{batch_id}" and "result" not in waiting

    run_worker()
    finished = client.get(location, headers=headers).json
    assert finished["status"] == "finished" and finished["progress"] == 100
    result = finished["result"]
    assert (result["received"], result["actions"], result["allocation"]) == (
        6, {"created": 6}, {"allocated": 5, "no_workflow": 1})
    assert [o["external_id"] for o in result["outcomes"]] == [f"B-{i}" for i in range(5)] + ["B-x"]
    assert [o["index"] for o in result["outcomes"]] == list(range(6))
    assert all(o["task_id"] and len(o["users"]) == 3 for o in result["outcomes"][:5])
    assert db.session.scalar(select(func.count()).select_from(Task)) == 5
    assert _staged(db, batch_id) == 0  # the tickets as sent are gone once received

    # The job: on the OGC /jobs, successful, with the counts as results, inputs naming the batch only.
    info = client.get(f"/jobs/{batch_id}", headers=headers).json
    assert (info["processID"], info["status"], info["progress"]) == ("ticket-batch", "successful", 100)
    listed = client.get("/jobs?processID=ticket-batch", headers=headers).json["jobs"]
    assert [j["jobID"] for j in listed] == [batch_id]
    assert client.get(f"/jobs/{batch_id}/results", headers=headers).json == {
        "received": 6, "actions": {"created": 6}, "allocation": {"allocated": 5, "no_workflow": 1}}
    job = db.session.get(Job, batch_id)
    assert job.inputs == {"batch": batch_id} and job.launcher_id == desk.boss.id
    assert "Received 6 of 6 tickets" in [line.message for line in job.logs]
    login(desk.boss)
    page = client.get(f"/jobs/{batch_id}/extra").get_data(as_text=True)
    assert "Received 6 of 6 tickets" in page and "Ama" not in page and "Laptop does not boot" not in page

    # RQ forgets the job (its result TTL): the batch URL answers the same from the job row.
    RQJob.fetch(batch_id, connection=get_redis()).delete()
    assert client.get(location, headers=headers).json == finished


def test_another_projects_user_sees_neither_the_batch_nor_its_job(client, db, desk, api_token, make_user, login):
    location, queued = _queue(client, api_token(desk.boss), [payload("S-1")])
    stranger = make_user("coordinator", projects=["Project B"], username="stranger")
    headers = api_token(stranger)
    assert client.get(location, headers=headers).status_code == 404
    assert client.get(f"/jobs/{queued['id']}", headers=headers).status_code == 404
    assert client.get("/jobs?processID=ticket-batch", headers=headers).json["jobs"] == []
    login(stranger)
    assert queued["id"] not in client.get("/jobs").get_data(as_text=True)
    # An id that is a job but not a batch is no batch either.
    echo = client.post("/processes/echo/execution", json={"inputs": {"message": "hi"}}, headers=api_token(desk.boss))
    assert client.get(f"/api/tickets/batches/{echo.json['jobID']}/", headers=api_token(desk.boss)).status_code == 404


def test_large_batches_are_received_a_chunk_at_a_time_with_progress(client, db, desk, api_token, run_worker,
                                                                   monkeypatch):
    monkeypatch.setattr(ticket_batches, "CHUNK", 2)
    headers = api_token(desk.boss)
    tickets = [payload(f"C-{i}") for i in range(5)] + [payload("C-1", subject="again")]
    location, queued = _queue(client, headers, tickets)
    run_worker()
    job = db.session.get(Job, queued["id"])
    assert [line.message for line in job.logs if line.message.startswith("Received")] == [
        "Received 2 of 6 tickets", "Received 4 of 6 tickets", "Received 6 of 6 tickets"]
    result = client.get(location, headers=headers).json["result"]
    # the same ticket sent twice in different chunks: the later delivery updates it, and it keeps its one task
    assert [o["action"] for o in result["outcomes"]] == ["created"] * 5 + ["updated"]
    assert db.session.scalar(select(func.count()).select_from(Task)) == 5
    assert db.session.execute(select(Ticket.subject).where(Ticket.external_id == "C-1")).scalar_one() == "again"


def test_a_batch_whose_worker_died_is_failed_cleared_and_safely_sent_again(client, db, desk, api_token, run_worker):
    headers = api_token(desk.boss)
    tickets = [payload(f"D-{i}") for i in range(4)]
    location, queued = _queue(client, headers, tickets)
    receive_tickets(desk.project_id, tickets[:2])  # what the worker had received before it died
    job = db.session.get(Job, queued["id"])
    job.status, job.started_at = st.RUNNING, utcnow() - timedelta(minutes=10)
    job.heartbeat_at = job.started_at
    db.session.commit()
    get_queue().empty()

    failed = client.get(location, headers=headers).json  # reading it reaps it
    assert failed["status"] == "failed" and "stopped responding" in failed["error"]
    assert "sending the batch again is safe" in failed["error"]
    assert ticket_batches.clear_ended_batches() == 4 and _staged(db, queued["id"]) == 0

    again, _ = _queue(client, headers, tickets)
    run_worker()
    result = client.get(again, headers=headers).json["result"]
    assert result["actions"] == {"updated": 2, "created": 2}
    assert db.session.scalar(select(func.count()).select_from(Task)) == 4  # never a second task


def test_running_a_batch_needs_what_sending_it_needs_at_launch_and_in_the_worker(client, db, desk, api_token,
                                                                                 run_worker, make_user, login):
    location, queued = _queue(client, api_token(desk.boss), [payload("P-1")])
    colleague = make_user("coordinator", username="colleague")
    assert "ticket-batch" in [p["id"] for p in client.get("/processes", headers=api_token(colleague)).json["processes"]]
    login(colleague)
    assert "POST /api/tickets/bulk/" in client.get("/processes/ticket-batch").get_data(as_text=True)
    # The process is listed, but launching it another way names no batch of its own.
    nothing = client.post("/processes/ticket-batch/execution", json={"inputs": {"batch": "nope"}},
                          headers=api_token(colleague))
    assert nothing.status_code == 400 and "batch" in nothing.json["detail"]
    stranger = make_user("coordinator", projects=["Project B"], username="stranger")
    hidden = client.post("/processes/ticket-batch/execution", json={"inputs": {"batch": queued["id"]}},
                         headers=api_token(stranger))
    assert hidden.status_code == 400 and "batch" in hidden.json["detail"]
    borrowed = client.post("/processes/ticket-batch/execution", json={"inputs": {"batch": queued["id"]}},
                           headers=api_token(colleague))
    assert borrowed.status_code == 201
    viewer = make_user(viewer_role().name, username="viewer")
    denied = client.post("/api/tickets/bulk/", json=[payload("P-2")], headers=api_token(viewer))
    assert denied.status_code == 403 and "CREATE_TASK" in denied.json["error"]
    desk.boss.role = viewer.role  # the sender loses the right before a worker takes the batch
    db.session.commit()
    run_worker()
    refused = client.get(location, headers=api_token(colleague)).json
    assert refused["status"] == "failed" and "CREATE_TASK" in refused["error"], refused
    assert "the job it was queued with" in db.session.get(Job, borrowed.json["jobID"]).message
    assert db.session.scalar(select(func.count()).select_from(Ticket)) == 0
    assert ticket_batches.clear_ended_batches() == 1 and _staged(db, queued["id"]) == 0
