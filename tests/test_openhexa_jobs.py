"""OpenHEXA runs are jobs of the one engine: listed on /jobs, the OGC /jobs and the planning's sampling
runs; launched through OGC too; polled through the engine's one RQ entry point with the job id as the
only argument; resumed (one chain of polls) when their worker died. And OpenHEXA, not the pipeline's
callbacks, says when a run ends."""
from datetime import timedelta

import pytest
from rq.job import Job as RQJob

from app.extensions import get_queue, get_redis
from app.models import Job, utcnow
from app.services.planning import openhexa as svc
from app.services.processing import job_status as st
from app.services.processing.jobs import execute_job, reap_stale_jobs, update_job
from tests.openhexa_double import PIPELINE_ID, VERSION_ID, configured, double  # noqa: F401
from tests.planning_fixtures import country, planning  # noqa: F401

RUNNER = "app.rq_jobs.runner.run_job"


def _job(db, job_id) -> Job:
    db.session.expire_all()
    return db.session.get(Job, job_id)


@pytest.fixture
def slow_polls(db, configured):
    """Polls 5 s apart: a burst worker launches the run and leaves its next poll scheduled (longer than
    the tests' JOB_STALE_SECONDS, 3 s)."""
    svc.get_config().poll_delay_seconds = 5
    db.session.commit()


def _launch(client, headers, config) -> str:
    response = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=headers,
                           json={"version": VERSION_ID, "config": config})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["task"]["job_id"]


def _scheduled_polls() -> list[RQJob]:
    ids = get_queue().scheduled_job_registry.get_job_ids()
    return [RQJob.fetch(rq_id, connection=get_redis()) for rq_id in ids]


def _pipeline_headers(double, db, job_id) -> dict:
    token = double.runs[_job(db, job_id).external_ref]["config"]["connection_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_run_is_a_job_on_every_list_and_rq_gets_its_id_only(client, db, api_token, login, configured, double,
                                                               slow_polls, run_worker, planning):
    headers = api_token(configured)
    job_id = _launch(client, headers, {"planning_id": planning.id, "seed": 5})
    launched = RQJob.fetch(job_id, connection=get_redis())
    assert (launched.func_name, launched.args, launched.kwargs) == (RUNNER, (job_id,), {})
    run_worker()
    job = _job(db, job_id)
    assert job.status == st.RUNNING and job.external_ref in double.runs and job.message == "Launched on OpenHEXA"
    polls = _scheduled_polls()
    assert [(p.func_name, p.args, p.kwargs) for p in polls] == [(RUNNER, (job_id,), {})]
    # waiting for its next poll is not a dead worker
    assert reap_stale_jobs() == 0 and _job(db, job_id).status == st.RUNNING

    listed = client.get("/jobs?processID=openhexa-pipeline", headers=headers).get_json()
    assert [j["jobID"] for j in listed["jobs"]] == [job_id]
    info = client.get(f"/jobs/{job_id}", headers=headers).get_json()
    assert (info["processID"], info["status"]) == ("openhexa-pipeline", "running")
    login(configured)
    assert f"/jobs/{job_id}" in client.get("/jobs").get_data(as_text=True)
    runs = client.get(f"/plannings/{planning.id}/runs").get_data(as_text=True)
    assert f"/jobs/{job_id}" in runs and "on OpenHEXA" in runs and ">5<" in runs


def test_ogc_execute_launches_a_run(client, db, web_app, api_token, configured, double, run_worker, planning,
                                    monkeypatch):
    headers = api_token(configured)
    described = client.get("/processes/openhexa-pipeline", headers=headers).get_json()
    assert {"pipeline_id", "version_id", "config", "planning_id", "callback_host"} == set(described["inputs"])
    url = "/processes/openhexa-pipeline/execution"
    inputs = {"pipeline_id": PIPELINE_ID, "config": {"planning_id": planning.id, "seed": 3}}
    refused = client.post(url, headers=headers, json={"inputs": inputs})
    assert refused.status_code == 400 and "callback_host" in refused.get_json()["details"]
    differ = client.post(url, headers=headers, json={"inputs": {**inputs, "planning_id": planning.id + 1,
                                                                 "callback_host": "https://x.example"}})
    assert differ.status_code == 400 and "differ" in differ.get_json()["detail"]
    assert db.session.query(Job).count() == 0
    monkeypatch.setitem(web_app.config, "PIPELINE_CALLBACK_HOST", "https://fieldflow.example/")
    created = client.post(url, headers=headers, json={"inputs": {**inputs, "callback_host": "https://evil.example"}})
    assert created.status_code == 201 and created.headers["Location"].endswith(created.get_json()["jobID"])
    run_worker()
    sent = double.last_run()["config"]
    assert sent["connection_host"] == "https://fieldflow.example"  # the server's setting wins
    job = _job(db, created.get_json()["jobID"])
    assert sent["task_id"] == job.number and sent["planning_id"] == planning.id  # Iaso's integer task id
    assert job.status == st.SUCCESSFUL


def test_a_pipeline_reporting_success_early_leaves_the_job_to_openhexa(client, db, api_token, configured, double,
                                                                       slow_polls, run_worker, planning):
    double.statuses = ["running"]
    job_id = _launch(client, api_token(configured), {"planning_id": planning.id})
    run_worker()
    pipeline = _pipeline_headers(double, db, job_id)
    done = client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=pipeline, json={
        "task_id": job_id, "status": "SUCCESS", "progress_value": 100, "end_value": 100,
        "progress_message": "6 assignments written", "result_data": {"assignments_created": 6}})
    assert done.status_code == 200 and done.get_json()["task"]["status"] == "RUNNING"
    job = _job(db, job_id)
    assert job.status == st.RUNNING and job.message == "Pipeline reports done: 6 assignments written"
    assert "Pipeline reports done (SUCCESS); waiting for OpenHEXA to end the run" in [line.message for line in job.logs]
    assert execute_job(job_id) == st.RUNNING  # the next poll: OpenHEXA still runs it
    double.runs[job.external_ref]["statuses"] = ["success"]
    assert execute_job(job_id) == st.SUCCESSFUL
    job = _job(db, job_id)
    assert job.message == "Completed on OpenHEXA" and job.results == {"assignments_created": 6}


def test_a_pipeline_reporting_queued_keeps_polling_until_the_timeout_stops_the_run(client, db, api_token, configured,
                                                                                  double, slow_polls, run_worker):
    double.statuses = ["running"]
    job_id = _launch(client, api_token(configured), {"seed": 1})
    run_worker()
    queued = client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=_pipeline_headers(double, db, job_id),
                          json={"task_id": job_id, "status": "queued", "progress_value": 1})
    assert queued.get_json()["task"]["status"] == "RUNNING" and _job(db, job_id).status == st.RUNNING
    run = double.runs[_job(db, job_id).external_ref]
    assert execute_job(job_id) == st.RUNNING and run["polls"] == 1  # still polled
    update_job(job_id, started_at=utcnow() - timedelta(minutes=11))
    assert execute_job(job_id) == st.FAILED
    assert _job(db, job_id).message == f"Polling timeout reached after 10 minutes for pipeline {PIPELINE_ID}"
    assert double.stopped == [run["id"]]


def test_the_reaper_resumes_a_dead_chain_of_polls_and_the_old_chain_stops(client, db, api_token, configured, double,
                                                                          slow_polls, run_worker):
    double.statuses = ["running"]
    job_id = _launch(client, api_token(configured), {"seed": 1})
    run_worker()
    [dead] = _scheduled_polls()  # as if its worker died holding it: no poll comes
    update_job(job_id, heartbeat_at=utcnow() - timedelta(minutes=1))
    assert reap_stale_jobs() == 0  # resumed, not failed
    job = _job(db, job_id)
    assert job.status == st.RUNNING and "Polling resumed after a worker restart" in [line.message for line in job.logs]
    run = double.runs[job.external_ref]
    run_worker()  # the resumed poll
    assert run["polls"] == 1
    get_queue().enqueue_job(dead)  # the dead chain's poll turns up after all: it does nothing
    run_worker()
    assert run["polls"] == 1 and _job(db, job_id).status == st.RUNNING


def test_a_launch_cut_short_is_failed_by_the_reaper(client, db, api_token, configured, slow_polls):
    job_id = _launch(client, api_token(configured), {"seed": 1})
    update_job(job_id, status=st.RUNNING, started_at=utcnow() - timedelta(minutes=1),
               heartbeat_at=utcnow() - timedelta(minutes=1))  # its worker died before OpenHEXA named the run
    assert reap_stale_jobs() == 1 and _job(db, job_id).status == st.FAILED


def test_a_schedule_cannot_start_openhexa_runs(app, db, configured, double):
    """The dispatcher starts runs as the server; a pipeline's token acts for a person: refused when saved."""
    from app.models import Schedule
    from app.schemas.parsing import validate_data
    from app.schemas.processing import ScheduleIn
    from app.services.platform.errors import ValidationFailed
    from app.services.processing.schedules import save_schedule

    data = {"name": "Nightly", "process_id": "openhexa-pipeline", "frequency": "daily", "timezone": "UTC",
            "inputs": {"pipeline_id": PIPELINE_ID, "callback_host": "https://fieldflow.example"}}
    with pytest.raises(ValidationFailed) as caught:
        save_schedule(configured, validate_data(ScheduleIn, data))
    assert "process_id" in caught.value.details and db.session.query(Schedule).count() == 0
