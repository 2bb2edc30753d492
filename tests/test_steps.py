"""The step runner: retries with backoff, timeouts, per-step status, dismiss and dead workers."""
import time

import pytest

from app.models import Job
from app.schemas.parsing import Input
from app.processes import Process, register_process
from app.services.processing.steps import Step, steps_process
from app.services.processing import job_status as st
from app.services.processing.jobs import enqueue_job, request_kill
from tests.conftest import kill_tree, wait_for

ATTEMPTS: dict[str, int] = {}


def _flaky(sctx, state):
    ATTEMPTS["flaky"] = ATTEMPTS.get("flaky", 0) + 1
    if ATTEMPTS["flaky"] < 3:
        raise ConnectionError(f"network down (attempt {ATTEMPTS['flaky']})")
    return "ok"


def _spin(sctx, state):
    end = time.monotonic() + 30
    while time.monotonic() < end:  # never calls back into the context: only a signal can stop it
        pass


class NoInputs(Input):
    """A test process's inputs: none."""


def _register(process_id, steps):
    register_process(steps_process(id=process_id, title=process_id, description="test", version="0",
                                   steps=steps, inputs=NoInputs,
                                   finish=lambda state: {name: state.get(name) for name in ("fetch",)}))


_register("test-flaky", [Step("prepare", lambda s, st_: 1), Step("fetch", _flaky, retries=2, backoff_seconds=0.01),
                         Step("publish", lambda s, st_: 2)])
_register("test-broken", [Step("prepare", lambda s, st_: 1), Step("fetch", lambda s, st_: 1 / 0)])
_register("test-slow", [Step("prepare", lambda s, st_: 1), Step("spin", _spin, timeout_seconds=0.5),
                        Step("publish", lambda s, st_: 2)])


def _job(db, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


def test_a_step_failing_twice_then_succeeding(app, db, make_user, run_worker):
    ATTEMPTS.clear()
    job = enqueue_job("test-flaky", {}, launcher=make_user())
    run_worker()
    done = _job(db, job.id)
    assert done.status == st.SUCCESSFUL and done.results == {"fetch": "ok"}
    fetch = next(s for s in done.steps if s["name"] == "fetch")
    assert fetch["status"] == "successful" and fetch["attempts"] == 3
    assert [s["status"] for s in done.steps] == ["successful"] * 3
    warnings = [line.message for line in done.logs if line.level == "warning"]
    assert len(warnings) == 2 and "network down (attempt 1)" in warnings[0] and "retrying in 0.01 s" in warnings[0]
    assert "retrying in 0.02 s" in warnings[1]  # backoff doubles


def test_a_step_that_runs_past_its_timeout_fails_the_job(app, db, make_user, run_worker):
    job = enqueue_job("test-slow", {}, launcher=make_user())
    run_worker()
    failed = _job(db, job.id)
    assert failed.status == st.FAILED and "spin timed out after 0.5 s" in failed.message
    assert [s["status"] for s in failed.steps] == ["successful", "failed", "skipped"]


def test_seven_step_process_reports_steps_in_status_and_on_the_page(app, db, client, make_user, login, api_token, run_worker):
    user = make_user()
    job = enqueue_job("demo-steps", {"failAt": "import_to_dhis2"}, launcher=user)
    run_worker()
    info = client.get(f"/jobs/{job.id}?f=json", headers=api_token(user)).get_json()
    assert info["status"] == "failed"
    assert [s["status"] for s in info["steps"]] == ["successful"] * 5 + ["failed", "skipped"]
    login(user)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'data-step="import_to_dhis2" data-step-status="failed"' in html
    partial = client.get(f"/jobs/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'data-step="publish_results" data-step-status="skipped"' in partial


def test_dismiss_while_a_step_runs(app, db, make_user, worker_process):
    job = enqueue_job("demo-steps", {"delay": 2}, launcher=make_user())
    worker_process()
    wait_for(lambda: (_job(db, job.id).steps or [{}])[0].get("status") == "running", message="first step running")
    request_kill(job.id)
    wait_for(lambda: _job(db, job.id).status == st.DISMISSED, timeout=10, message="job dismissed")
    statuses = [s["status"] for s in _job(db, job.id).steps]
    assert "dismissed" in statuses and statuses[-1] == "skipped"
    assert "successful" not in statuses[statuses.index("dismissed"):]


def test_a_worker_killed_mid_job_fails_the_job_and_a_rerun_works(app, db, client, make_user, api_token, worker_process):
    user = make_user()
    job = enqueue_job("demo-steps", {"delay": 5}, launcher=user)
    worker = worker_process()
    wait_for(lambda: (_job(db, job.id).steps or [{}])[0].get("status") == "running", message="first step running")
    kill_tree(worker.pid)
    worker.wait(10)
    wait_for(lambda: client.get(f"/jobs/{job.id}?f=json", headers=api_token(user)).get_json()["status"] == st.FAILED,
             timeout=15, interval=0.5, message="job failed on read")
    failed = _job(db, job.id)
    assert "stopped responding" in failed.message
    assert failed.steps[0]["status"] == "failed" and failed.steps[-1]["status"] == "skipped"
    again = enqueue_job("demo-steps", {}, launcher=user)
    worker_process(burst=True).wait(30)
    assert _job(db, again.id).status == st.SUCCESSFUL


@pytest.mark.parametrize("inputs", [{"delay": -1}, {"failAt": "nowhere"}, {"other": 1}])
def test_demo_steps_rejects_bad_inputs(app, db, make_user, inputs):
    from app.services.platform.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        enqueue_job("demo-steps", inputs, launcher=make_user())
    assert db.session.query(Job).count() == 0


def test_an_unexpected_error_is_said_plainly_and_the_traceback_kept_for_administrators(
        app, db, client, web_app, make_user, login, run_worker):
    coordinator, admin = make_user("coordinator"), make_user("admin")
    job = enqueue_job("test-broken", {}, launcher=coordinator, project_id=coordinator.project_ids[0])
    run_worker()
    db.session.expire_all()
    failed = db.session.get(Job, job.id)
    assert failed.status == st.FAILED
    assert failed.message == "Step fetch failed: an unexpected error (the details are in the job log for administrators)"
    step = next(s for s in failed.steps if s["name"] == "fetch")
    assert step["message"] == "an unexpected error (the details are in the job log for administrators)"
    assert any(line.level == "trace" and "ZeroDivisionError" in line.message for line in failed.logs)
    login(coordinator)
    for url in (f"/jobs/{job.id}", f"/jobs/{job.id}/extra"):
        html = client.get(url).get_data(as_text=True)
        assert "unexpected error" in html and "Traceback" not in html and "ZeroDivisionError" not in html, url
    administrator = login(admin, test_client=web_app.test_client())
    assert "ZeroDivisionError" in administrator.get(f"/jobs/{job.id}/extra").get_data(as_text=True)

