"""The job engine: enqueue, run, progress, failure, kill, dead workers, status views."""
import pytest
from rq.job import Job as RQJob

from app.extensions import get_queue, get_redis
from app.models import Job
from app.services.processing import job_status as st
from app.services.platform.errors import ValidationFailed
from app.services.processing.jobs import enqueue_job, reap_stale_jobs, request_kill
from tests.conftest import kill_tree, wait_for


def _job(db, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_echo_job_runs_to_success_with_progress_and_log(app, db, make_user, run_worker):
    user = make_user()
    job = enqueue_job("echo", {"message": "hello", "steps": 3}, launcher=user)
    assert job.status == st.ACCEPTED
    assert RQJob.fetch(job.id, connection=get_redis()).get_status() == "queued"
    run_worker()
    done = _job(db, job.id)
    assert done.status == st.SUCCESSFUL
    assert done.progress == 100
    assert done.results == {"echo": "hello"}
    assert done.started_at and done.finished_at and done.finished_at >= done.started_at
    messages = [line.message for line in done.logs]
    assert messages[0] == "Started: Echo" and "Step 1 of 3" in messages and "Step 3 of 3" in messages


def test_progress_is_mirrored_into_rq_meta(app, db, make_user, run_worker):
    job = enqueue_job("echo", {"message": "m", "steps": 2}, launcher=make_user())
    run_worker()
    meta = RQJob.fetch(job.id, connection=get_redis()).meta
    assert meta["status"] == st.SUCCESSFUL and meta["progress"] == 100


@pytest.mark.parametrize("inputs, field", [
    ({}, "message"),
    ({"message": 5}, "message"),
    ({"message": "x", "delay": -1}, "delay"),
    ({"message": "x", "steps": 0}, "steps"),
    ({"message": "x", "colour": "red"}, "colour"),
])
def test_bad_inputs_queue_nothing(app, db, make_user, inputs, field):
    with pytest.raises(ValidationFailed) as caught:
        enqueue_job("echo", inputs, launcher=make_user())
    assert field in caught.value.details
    assert db.session.query(Job).count() == 0
    assert get_queue().count == 0


def test_a_failing_process_ends_failed_with_its_reason(app, db, make_user, run_worker):
    job = enqueue_job("echo", {"message": "x", "fail": True}, launcher=make_user())
    run_worker()
    failed = _job(db, job.id)
    assert failed.status == st.FAILED
    assert failed.message == "echo was asked to fail"  # its own words: no exception name, no traceback
    assert not any("Traceback" in line.message for line in failed.logs)


def test_dismissing_a_queued_job_stops_it_before_it_runs(app, db, make_user, run_worker):
    job = enqueue_job("echo", {"message": "x"}, launcher=make_user())
    assert request_kill(job.id).status == st.DISMISSED
    run_worker()
    dismissed = _job(db, job.id)
    assert dismissed.status == st.DISMISSED
    assert dismissed.results is None and dismissed.started_at is None


def test_dismissing_a_running_job_in_a_real_worker(app, db, make_user, worker_process):
    job = enqueue_job("echo", {"message": "x", "delay": 30, "steps": 30}, launcher=make_user())
    worker_process()
    wait_for(lambda: _job(db, job.id).status == st.RUNNING, message="job running")
    request_kill(job.id)
    wait_for(lambda: _job(db, job.id).status == st.DISMISSED, timeout=10, message="job dismissed")
    assert _job(db, job.id).message == "Dismissed on request"


def test_a_job_whose_worker_is_killed_ends_failed(app, db, client, make_user, login, worker_process):
    user = make_user()
    job = enqueue_job("echo", {"message": "x", "delay": 60, "steps": 60}, launcher=user)
    worker = worker_process()
    wait_for(lambda: _job(db, job.id).status == st.RUNNING, message="job running")
    kill_tree(worker.pid)  # worker and work horse die without a word
    worker.wait(10)
    assert _job(db, job.id).status == st.RUNNING  # nobody has noticed yet
    # Reading the job notices the missing heartbeat (JOB_STALE_SECONDS=3 in tests).
    login(user)
    wait_for(lambda: client.get(f"/jobs/{job.id}", headers={"Accept": "application/json"}).get_json()["status"] == st.FAILED,
             timeout=10, interval=0.5, message="job failed on read")
    failed = _job(db, job.id)
    assert "stopped responding" in failed.message
    # The same inputs can run again on a new worker.
    again = enqueue_job("echo", {"message": "again"}, launcher=user)
    worker_process(burst=True).wait(30)
    assert _job(db, again.id).status == st.SUCCESSFUL


def test_reaper_fails_running_jobs_without_heartbeat(app, db, make_user):
    from datetime import timedelta

    from app.models import utcnow

    job = enqueue_job("echo", {"message": "x"}, launcher=make_user())
    row = _job(db, job.id)
    row.status, row.started_at, row.heartbeat_at = st.RUNNING, utcnow() - timedelta(minutes=5), utcnow() - timedelta(minutes=5)
    db.session.commit()
    fresh = enqueue_job("echo", {"message": "y"}, launcher=row.launcher)
    fresh_row = _job(db, fresh.id)
    fresh_row.status, fresh_row.started_at, fresh_row.heartbeat_at = st.RUNNING, utcnow(), utcnow()
    db.session.commit()
    assert reap_stale_jobs() == 1
    assert _job(db, job.id).status == st.FAILED
    assert _job(db, fresh.id).status == st.RUNNING
    assert reap_stale_jobs() == 0  # idempotent


def test_status_partial_polls_then_stops_with_286(app, db, client, make_user, login, run_worker):
    user = make_user()
    login(user)
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    page = client.get(f"/jobs/{job.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<html" in html and 'hx-trigger="every 2s"' in html
    partial = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and "<html" not in body and 'hx-trigger="every 2s"' in body
    assert "HX-Request" in partial.headers["Vary"]
    run_worker()
    final = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"})
    body = final.get_data(as_text=True)
    assert final.status_code == 286
    assert "hx-trigger" not in body and "successful" in body
    assert "job-finished" in final.headers["HX-Trigger"]
    # The full page of a finished job carries no polling trigger either.
    assert 'hx-trigger="every 2s"' not in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_status_info_json_and_vocabularies(app, db, client, make_user, api_token, run_worker):
    user = make_user()
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    info = client.get(f"/jobs/{job.id}", headers={**api_token(user), "Accept": "application/json"}).get_json()
    assert info["jobID"] == info["id"] == job.id
    assert info["status"] == "accepted" and info["processID"] == "echo"
    run_worker()
    info = client.get(f"/jobs/{job.id}?f=json", headers=api_token(user)).get_json()
    assert info["status"] == "successful" and info["progress"] == 100
    assert any(link["rel"].endswith("/results") for link in info["links"])
    eo = client.get(f"/jobs/{job.id}?f=eo", headers=api_token(user)).get_json()
    assert eo["status"] == "succeeded" and eo["resultRef"].endswith(f"/jobs/{job.id}/results")
    assert client.get(f"/jobs/{job.id}/results", headers=api_token(user)).get_json() == {"echo": "x"}


def test_other_users_jobs_are_not_found(app, client, make_user, api_token):
    owner = make_user(projects=["Project A"])
    stranger = make_user(projects=["Project B"])
    job = enqueue_job("echo", {"message": "x"}, launcher=owner)
    response = client.get(f"/jobs/{job.id}?f=json", headers=api_token(stranger))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert client.get(f"/jobs/{job.id}?f=json").status_code == 401


def test_jobs_page_lists_jobs_and_filters(app, client, make_user, login, run_worker):
    user = make_user()
    login(user)
    ok = enqueue_job("echo", {"message": "x"}, launcher=user)
    run_worker()
    queued = enqueue_job("echo", {"message": "y"}, launcher=user)
    html = client.get("/jobs").get_data(as_text=True)
    assert ok.id in html and queued.id in html
    only_ok = client.get("/jobs?status=successful").get_data(as_text=True)
    assert ok.id in only_ok and queued.id not in only_ok


def test_dismiss_from_the_page_needs_csrf(app, db, client, make_user, login, csrf):
    user = make_user()
    login(user)
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    assert client.post(f"/jobs/{job.id}/dismiss").status_code == 400
    assert _job(db, job.id).status == st.ACCEPTED
    response = client.post(f"/jobs/{job.id}/dismiss", headers={"HX-Request": "true", "X-CSRFToken": csrf()})
    assert response.status_code == 286
    assert _job(db, job.id).status == st.DISMISSED


@pytest.mark.parametrize("external, canonical, skipped", [
    ("queued", "running", False), ("running", "running", False), ("terminating", "running", False),
    ("success", "successful", False), ("failed", "failed", False), ("stopped", "dismissed", False),
    ("skipped", "successful", True), ("COMPLETED", "successful", False), ("done", "successful", False),
    ("errored", "failed", False), ("Cancelled", "failed", False), ("error", "failed", False),
    ("pending", "running", False), ("started", "running", False),
])
def test_external_statuses_map_to_canonical(external, canonical, skipped):
    assert st.from_external(external) == (canonical, skipped)


def test_canonical_statuses_map_to_each_view():
    assert [st.to_iaso(s) for s in st.CANONICAL] == ["QUEUED", "RUNNING", "SUCCESS", "ERRORED", "KILLED"]
    assert st.to_iaso(st.SUCCESSFUL, skipped=True) == "SKIPPED"
    assert [st.to_eo(s) for s in st.CANONICAL] == ["queued", "running", "succeeded", "failed", "failed"]
    with pytest.raises(ValueError):
        st.from_external("exploded")


def test_the_worker_beats_in_one_round_trip_and_rq_sees_the_beat(app):
    import redis as redis_lib

    from app.rq_jobs.workers import FieldflowSimpleWorker

    class Counting(redis_lib.Redis):
        commands = 0

        def execute_command(self, *args, **options):  # every command sent on its own comes through here
            Counting.commands += 1
            return super().execute_command(*args, **options)

    connection = Counting(connection_pool=get_redis().connection_pool)
    worker = FieldflowSimpleWorker([get_queue()], connection=connection)
    worker.register_birth()
    try:
        Counting.commands = 0
        worker.heartbeat()
        assert Counting.commands == 0  # one pipeline, not three commands
        beat = connection.hget(worker.key, "last_heartbeat")
        assert beat is not None and connection.ttl(worker.key) > 0  # what RQ and its dashboard read
        assert worker.last_heartbeat is not None
    finally:
        worker.register_death()
