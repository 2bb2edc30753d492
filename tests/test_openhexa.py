"""OpenHEXA integration against a double on loopback: config, launch, polling, timeout, kill,
worker death, callbacks and token scoping, and secrets kept out of logs, job rows and pages."""
import json
import logging
from datetime import timedelta

import pytest
from flask_jwt_extended import decode_token
from rq.job import Job as RQJob

from app.blueprints.api.serializers import openhexa_task_json
from app.extensions import get_redis
from app.models import Job, utcnow
from app.schemas.openhexa import OpenHexaSettingsIn
from app.schemas.parsing import validate_data
from app.services.processing import job_status as st
from app.services.planning import openhexa as svc
from app.services.processing.jobs import execute_job, reap_stale_jobs, request_kill
from tests.conftest import kill_tree, wait_for
from tests.openhexa_double import PIPELINE_ID, TOKEN, VERSION_ID, configured, double, short_http_timeout  # noqa: F401
from tests.planning_fixtures import country, planning  # noqa: F401


def _job(db, job_id):
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _launch(client, headers, config=None):
    response = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=headers,
                           json={"version": VERSION_ID, "config": config or {"seed": 1}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()["task"]


def test_config_endpoint(client, app, api_token, make_user, double):
    user = make_user()
    assert client.get("/api/openhexa/pipelines/config/", headers=api_token(user)).get_json() == {"configured": False}
    admin = make_user(role="admin", platform_operator=True)
    svc.save_config(admin, OpenHexaSettingsIn(openhexa_url=double.url, openhexa_token=TOKEN, workspace_slug="w",
                                              lqas_pipeline_code="lqas"))
    assert client.get("/api/openhexa/pipelines/config/", headers=api_token(user)).get_json() == {
        "configured": True, "lqas_pipeline_code": "lqas"}


@pytest.mark.parametrize("data, field", [
    ({"openhexa_url": "https://openhexa.example/"}, "openhexa_url"),
    ({"openhexa_url": "ftp://x/graphql/"}, "openhexa_url"),
    ({"openhexa_token": ""}, "openhexa_token"),
    ({"workspace_slug": ""}, "workspace_slug"),
    ({"poll_delay_seconds": "soon"}, "poll_delay_seconds"),
])
def test_config_validation(app, make_user, data, field):
    from app.services.platform.errors import ValidationFailed

    admin = make_user(role="admin", platform_operator=True)
    good = {"openhexa_url": "https://openhexa.example/graphql/", "openhexa_token": "t", "workspace_slug": "w"}
    with pytest.raises(ValidationFailed) as caught:
        svc.save_config(admin, validate_data(OpenHexaSettingsIn, {**good, **data}))
    assert field in caught.value.details
    assert svc.get_config() is None


def test_list_and_detail_hide_injected_parameters(client, api_token, configured):
    listing = client.get("/api/openhexa/pipelines/", headers=api_token(configured)).get_json()
    assert [p["code"] for p in listing["results"]] == ["fieldflow-lqas"]
    detail = client.get(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=api_token(configured)).get_json()
    assert detail["currentVersion"]["id"] == VERSION_ID
    codes = [p["code"] for p in detail["parameters"]]
    assert "planning_id" in codes and not {"connection_host", "connection_token", "task_id"} & set(codes)


@pytest.mark.parametrize("statuses, canonical, iaso", [
    (["queued", "running", "success"], st.SUCCESSFUL, "SUCCESS"),
    (["running", "failed"], st.FAILED, "ERRORED"),
    (["running", "terminating", "stopped"], st.DISMISSED, "KILLED"),
    (["queued", "skipped"], st.SUCCESSFUL, "SKIPPED"),
])
def test_launch_then_poll_to_each_end(client, db, api_token, configured, double, run_worker, statuses, canonical, iaso):
    double.statuses = statuses
    task = _launch(client, api_token(configured))
    assert task["status"] == "QUEUED"
    run_worker()
    job = _job(db, task["job_id"])
    assert job.status == canonical, job.message
    assert job.external_ref in double.runs
    assert openhexa_task_json(job)["status"] == iaso
    assert any(line.message.startswith("[OpenHEXA INFO] poll") for line in job.logs)
    sent = double.last_run()["config"]
    assert sent["task_id"] == job.number and sent["connection_host"] == "http://localhost"
    claims = decode_token(sent["connection_token"])
    assert claims["scope"] == "pipeline" and claims["job_id"] == job.id
    assert "connection_token" not in json.dumps(job.inputs)
    assert double.last_run()["input"]["versionId"] == VERSION_ID


def test_success_false_fails_the_job_with_the_error_code(client, db, api_token, configured, double, run_worker):
    double.run_errors = ["PIPELINE_RUNS_LIMIT_REACHED"]
    task = _launch(client, api_token(configured))
    run_worker()
    job = _job(db, task["job_id"])
    assert job.status == st.FAILED and "PIPELINE_RUNS_LIMIT_REACHED" in job.message


def test_graphql_errors_fail_the_job(client, db, api_token, configured, double, run_worker):
    double.graphql_error = "Resolver exploded"
    task = _launch(client, api_token(configured))
    run_worker()
    job = _job(db, task["job_id"])
    assert job.status == st.FAILED and "Resolver exploded" in job.message


def test_500s_and_slow_answers_are_retried(client, db, api_token, configured, short_http_timeout, double, run_worker):
    double.fail_polls, double.slow_polls = 2, 1
    task = _launch(client, api_token(configured))
    run_worker()
    job = _job(db, task["job_id"])
    assert job.status == st.SUCCESSFUL
    warnings = [line.message for line in job.logs if line.level == "warning"]
    assert len(warnings) == 3 and "HTTP 500" in warnings[0] and "Timeout" in warnings[2]


def test_timeout_stops_the_run(client, db, api_token, configured, double, run_worker):
    double.statuses = ["running"]
    svc.get_config().poll_delay_seconds = 5  # keep the poll scheduled, not run in this burst
    db.session.commit()
    task = _launch(client, api_token(configured))
    run_worker()
    job = _job(db, task["job_id"])
    assert job.status == st.RUNNING
    job.started_at = utcnow() - timedelta(minutes=11)
    db.session.commit()
    assert execute_job(job.id) == st.FAILED  # the next poll, run now
    job = _job(db, task["job_id"])
    assert job.message == f"Polling timeout reached after 10 minutes for pipeline {PIPELINE_ID}"
    assert double.stopped == [job.external_ref]


def test_kill_stops_the_run_and_dismisses(client, db, api_token, configured, double, run_worker):
    double.statuses = ["running"]
    svc.get_config().poll_delay_seconds = 5
    db.session.commit()
    task = _launch(client, api_token(configured))
    run_worker()
    request_kill(task["job_id"])
    assert execute_job(task["job_id"]) == st.DISMISSED
    assert double.stopped == [_job(db, task["job_id"]).external_ref]


def test_worker_killed_mid_poll_leaves_no_ghost(client, db, api_token, configured, double, worker_process):
    double.statuses = ["running"]
    svc.get_config().poll_delay_seconds = 1
    db.session.commit()
    task = _launch(client, api_token(configured))
    worker = worker_process()
    wait_for(lambda: _job(db, task["job_id"]).status == st.RUNNING and double.runs and
             list(double.runs.values())[-1]["polls"] >= 2, timeout=20, message="polling")
    kill_tree(worker.pid)
    worker.wait(10)
    wait_for(lambda: reap_stale_jobs() >= 0 and any("resumed" in line.message for line in _job(db, task["job_id"]).logs),
             timeout=15, interval=0.5, message="polling resumed by the reaper")
    double.last_run()["statuses"] = ["success"]
    worker_process()
    wait_for(lambda: _job(db, task["job_id"]).status == st.SUCCESSFUL, timeout=20, message="run finished after restart")


def test_pipeline_callbacks_and_token_scope(client, db, api_token, configured, double, run_worker, country, planning):
    svc.get_config().poll_delay_seconds = 30
    db.session.commit()
    task = _launch(client, api_token(configured), {"planning_id": planning.id, "seed": 2})
    other = _launch(client, api_token(configured), {"planning_id": planning.id, "seed": 3})
    run_worker()
    token = double.runs[_job(db, task["job_id"]).external_ref]["config"]["connection_token"]
    pipeline = {"Authorization": f"Bearer {token}"}
    url = f"/api/openhexa/pipelines/{PIPELINE_ID}/"
    ok = client.patch(url, headers=pipeline, json={"task_id": task["id"], "progress_value": 0, "end_value": 10,
                                                   "progress_message": "starting"})
    assert ok.status_code == 200 and ok.get_json()["task"]["progress_value"] == 0
    assert client.patch(url, headers=pipeline, json={"task_id": other["id"], "progress_value": 5}).status_code == 403
    assert _job(db, other["job_id"]).progress == 0
    assert client.get(f"/api/microplanning/plannings/{planning.id}/", headers=pipeline).status_code == 200
    assert client.get("/api/orgunits/", headers=pipeline).status_code == 200
    assert client.get("/api/me/", headers=pipeline).status_code == 403  # a user endpoint
    from app.schemas.planning import PlanningIn
    from app.services.planning.plannings import create_planning

    second = create_planning(country.coordinator, PlanningIn(name="Other", team=country.root_team.id,
                                                             org_unit=country.country.id))
    refused = client.post("/api/microplanning/assignments/bulk_delete_assignments/", headers=pipeline,
                          json={"planning": second.id})
    assert refused.status_code == 403
    assert [line.message for line in _job(db, task["job_id"]).logs if line.message == "starting"] == ["starting"]
    double.runs[_job(db, task["job_id"]).external_ref]["statuses"] = ["success"]
    assert execute_job(task["job_id"]) == st.SUCCESSFUL  # OpenHEXA ends the run
    # once the run has ended, its token opens nothing
    assert client.get(f"/api/microplanning/plannings/{planning.id}/", headers=pipeline).status_code == 403


def test_expired_pipeline_token_is_refused(client, db, api_token, configured, double, run_worker, country, planning):
    from app.services.platform.tokens import issue_pipeline_token

    svc.get_config().poll_delay_seconds = 30
    db.session.commit()
    task = _launch(client, api_token(configured), {"planning_id": planning.id})
    run_worker()
    expired = issue_pipeline_token(task["job_id"], planning.id, configured, timedelta(seconds=-5))
    response = client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers={"Authorization": f"Bearer {expired}"},
                            json={"task_id": task["id"], "progress_value": 50})
    assert response.status_code == 401 and _job(db, task["job_id"]).progress == 0


def test_users_without_pipeline_permission_cannot_launch(client, db, api_token, configured, make_user):
    agent = make_user(role="agent", projects=["Demo project"])
    response = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=api_token(agent),
                           json={"version": VERSION_ID, "config": {}})
    assert response.status_code == 403 and db.session.query(Job).count() == 0


def test_secrets_stay_out_of_logs_jobs_rq_and_pages(client, web_app, db, api_token, configured, double, run_worker,
                                                    login, caplog):
    caplog.set_level(logging.DEBUG)
    task = _launch(client, api_token(configured))
    run_worker()
    job = _job(db, task["job_id"])
    pipeline_token = double.last_run()["config"]["connection_token"]
    assert TOKEN not in caplog.text and pipeline_token not in caplog.text
    assert TOKEN not in json.dumps(job.inputs) and pipeline_token not in json.dumps(job.inputs)
    assert all(TOKEN not in line.message and pipeline_token not in line.message for line in job.logs)
    rq_job = RQJob.fetch(job.id, connection=get_redis())
    assert pipeline_token not in repr(rq_job.args) and TOKEN not in repr(rq_job.args)
    assert svc.get_config().token_encrypted != TOKEN
    login(configured)
    for page in ("/admin/openhexa/", f"/jobs/{job.id}"):
        html = client.get(page).get_data(as_text=True)
        assert TOKEN not in html and pipeline_token not in html


def test_sampling_dialog_launches_on_openhexa(client, db, login, csrf, configured, double, run_worker, country, planning):
    from app.schemas.planning import PlanningChanges
    from app.services.planning.plannings import update_planning

    update_planning(country.coordinator, planning.id, PlanningChanges(pipeline_uuids=["lqas-sampling", PIPELINE_ID]))
    login(country.coordinator)
    hx = {"HX-Request": "true"}
    dialog = client.get(f"/plannings/{planning.id}/sample?pipeline={PIPELINE_ID}", headers=hx).get_data(as_text=True)
    assert double.documents == [] and "Level 1" not in dialog  # the dialog loads OpenHEXA's parts after it opens
    names = client.get(f"/plannings/{planning.id}/sample/pipelines?pipeline={PIPELINE_ID}", headers=hx).get_data(as_text=True)
    assert "Fieldflow LQAS (OpenHEXA)" in names and "hx-trigger=\"load\"" not in names
    section = client.get(f"/plannings/{planning.id}/sample/pipeline?pipeline={PIPELINE_ID}", headers=hx).get_data(as_text=True)
    assert "Level 1" in section and "Fieldflow LQAS on OpenHEXA" in section  # the LQAS code gets the levels form
    asked = len(double.documents)
    again = client.get(f"/plannings/{planning.id}/sample?pipeline={PIPELINE_ID}", headers=hx).get_data(as_text=True)
    assert "Fieldflow LQAS (OpenHEXA)" in again and len(double.documents) == asked  # names from the cache
    response = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": csrf()},
                           data={"pipeline": PIPELINE_ID, "level_index": ["0", "1"],
                                 "type_0": country.types["REGION"].id, "quantity_0": "2",
                                 "type_1": country.types["DISTRICT"].id, "quantity_1": "1", "seed": "4"})
    assert response.status_code == 200, response.get_data(as_text=True)[:400]
    run_worker()
    sent = double.last_run()["config"]
    assert sent["planning_id"] == planning.id and sent["org_unit_type_quantities"] == [2, 1]
    assert sent["org_unit_type_exceptions"] == ["-", "-"] and sent["seed"] == 4
    assert db.session.query(Job).filter_by(process_id="openhexa-pipeline").count() == 1


def test_generic_pipeline_form_from_version_parameters(client, db, login, csrf, configured, double, run_worker,
                                                       country, planning):
    from app.schemas.planning import PlanningChanges
    from app.services.planning.plannings import update_planning

    svc.get_config().lqas_pipeline_code = "something-else"
    db.session.commit()
    update_planning(country.coordinator, planning.id, PlanningChanges(pipeline_uuids=["lqas-sampling", PIPELINE_ID]))
    login(country.coordinator)
    section = client.get(f"/plannings/{planning.id}/sample/pipeline?pipeline={PIPELINE_ID}",
                         headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'name="param_seed"' in section and "param_connection_token" not in section and "param_task_id" not in section
    bad = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": csrf()},
                      data={"pipeline": PIPELINE_ID, "param_org_unit_type_quantities": "two"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 422 and "must be of type int" in text
    assert 'name="param_org_unit_type_quantities" value="two"' in text  # re-rendered with what was typed
    ok = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": csrf()},
                     data={"pipeline": PIPELINE_ID, "param_planning_id": str(planning.id),
                           "param_org_unit_type_sequence_identifiers": f"{country.types['REGION'].id}",
                           "param_org_unit_type_quantities": "3"})
    assert ok.status_code == 200
    run_worker()
    assert double.last_run()["config"]["org_unit_type_quantities"] == [3]


def test_strict_launch_and_callback_bodies(client, db, api_token, configured, double, planning):
    headers = api_token(configured)
    url = f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/"
    for body, field in (({"config": {"planning_id": True}}, "config"), ({"config": {"planning_id": 2.7}}, "config"),
                        ({"version": "v1"}, "version"), ({"config": [1]}, "config"), ({"confg": {}}, "confg")):
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 400 and field in response.get_json()["details"], body
    assert db.session.query(Job).count() == 0
    task = _launch(client, headers, {"planning_id": str(planning.id)})  # the digits of an id are fine
    callback = f"/api/openhexa/pipelines/{PIPELINE_ID}/"
    for body, field in (({"task_id": task["id"], "progress_value": True}, "progress_value"),
                        ({"task_id": task["id"], "status": "EXPLODED"}, "status"),
                        ({"task_id": task["id"], "result": {}, "result_data": {}}, "result_data"),
                        ({"task_id": True}, "task_id"), ({"progress_value": 3}, "task_id")):
        response = client.patch(callback, headers=headers, json=body)
        assert response.status_code == 400 and field in response.get_json()["details"], body
    assert client.patch(callback, headers=headers, json={"task_id": 456}).status_code == 404  # Iaso's numbers: none here
    huge = client.patch(callback, headers=headers, json={"task_id": task["id"], "progress_value": 1e12, "end_value": 1e-300})
    assert huge.status_code == 200 and huge.get_json()["task"]["progress_value"] == 100
    listed = client.patch(callback, headers=headers, json={"task_id": task["id"], "result": [1, 2]})
    assert listed.get_json()["task"]["result"] == {"result": [1, 2]}


def test_openhexa_unreachable_is_a_502_not_a_500(client, db, api_token, configured):
    svc.get_config().openhexa_url = "http://127.0.0.1:9/graphql/"  # the discard port: nothing listens
    db.session.commit()
    headers = api_token(configured)
    for path in ("/api/openhexa/pipelines/", f"/api/openhexa/pipelines/{PIPELINE_ID}/"):
        response = client.get(path, headers=headers)
        assert response.status_code == 502 and "OpenHEXA unreachable" in response.get_json()["error"], path
