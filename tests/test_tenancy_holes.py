"""Regression tests for the authorization holes a hostile client found (issue 13, item 4): process
inputs naming another project's rows, global schedules, jobs seen across projects, dismissal without
the right to run, the OpenHEXA pipeline list for anyone, a bad Bearer token skipping CSRF, and global webhook
deliveries showing every project's events."""
import pytest
from sqlalchemy import func, select

from app.extensions import get_queue
from app.models import Assignment, Job, Schedule
from app.schemas.processing import Dhis2ConnectionIn, ScheduleIn
from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn
from app.services.planning.orgunits import create_org_unit, create_org_unit_type
from app.schemas.planning import PlanningIn
from app.services.planning.plannings import create_planning
from app.services.planning.sampling import CRITERIA, QUANTITIES, TYPES
from app.schemas.teams import TeamIn
from app.services.planning.teams import create_team
from app.services.processing import dhis2
from app.services.processing import job_status as st
from app.services.processing import schedules
from app.services.processing.jobs import enqueue_job
from tests.conftest import csrf_token_from
from tests.openhexa_double import PIPELINE_ID, configured, double  # noqa: F401
from tests.planning_fixtures import country, planning  # noqa: F401


def _sampling_inputs(country, planning_id) -> dict:
    return {"planning_id": planning_id, TYPES: [country.types["REGION"].id, country.types["DISTRICT"].id],
            QUANTITIES: [1, 1], "seed": 1}


def _assignments(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Assignment))


def _jobs(db) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(Job))


@pytest.fixture
def outsider(make_user):
    """A coordinator of Project B: every right to run processes, none over the demo project."""
    return make_user("coordinator", projects=["Project B"], username="outsider")


def _planning_of(user):
    """A planning in `user`'s (only) project."""
    kind = create_org_unit_type(user, OrgUnitTypeIn(name="Country"))
    root = create_org_unit(user, OrgUnitIn(name="Betaland", org_unit_type_id=kind.id))
    team = create_team(user, TeamIn(name="Beta team", type="TEAM_OF_USERS"))
    return create_planning(user, PlanningIn(name="Beta round", team=team.id, org_unit=root.id))


# --- 1. process inputs are checked like the same action through its own endpoint ------------------

def test_process_inputs_naming_another_projects_planning_queue_nothing(db, client, web_app, login, api_token,
                                                                      country, planning, outsider):
    ogc = client.post("/processes/lqas-sampling/execution", headers=api_token(outsider),
                      json={"inputs": _sampling_inputs(country, planning.id)})
    assert ogc.status_code == 400, ogc.get_json()
    assert ogc.get_json()["details"]["planning_id"] == [f"planning {planning.id} does not exist"]  # as a missing one
    browser = login(outsider, test_client=web_app.test_client())
    token = csrf_token_from(browser.get("/processes/lqas-sampling").get_data(as_text=True))
    form = browser.post("/processes/lqas-sampling/run", data={
        "csrf_token": token, "planning_id": planning.id, TYPES: str(_sampling_inputs(country, 0)[TYPES]),
        QUANTITIES: "[1, 1]", CRITERIA: "-"})
    assert form.status_code == 400 and "does not exist" in form.get_data(as_text=True)
    assert _jobs(db) == 0 and get_queue().count == 0 and _assignments(db) == 0
    # the planning's own coordinator may (the same request)
    mine = client.post("/processes/lqas-sampling/execution", headers=api_token(country.coordinator),
                       json={"inputs": _sampling_inputs(country, planning.id)})
    assert mine.status_code == 201 and db.session.get(Job, mine.get_json()["jobID"]).project_id == planning.project_id


def test_a_dhis2_connection_of_another_project_cannot_be_used(db, client, api_token, country, outsider):
    connection = dhis2.save_connection(country.coordinator, Dhis2ConnectionIn(
        name="HMIS", url="https://dhis2.example.org", username="u", password="secret-1"))
    inputs = {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-01-31", "orgUnitLevel": 2,
              "dataElement": "eoChirpsPr1", "connection": connection.id, "dryRun": False}
    response = client.post("/processes/eo-aggregate-import/execution", headers=api_token(outsider),
                           json={"inputs": inputs})
    assert response.status_code == 400
    assert response.get_json()["details"] == {"connection": ["must be the id of a stored DHIS2 connection"]}
    assert _jobs(db) == 0
    ok = client.post("/processes/eo-aggregate-import/execution", headers=api_token(country.coordinator),
                     json={"inputs": inputs})
    assert ok.status_code == 201 and db.session.get(Job, ok.get_json()["jobID"]).project_id == connection.project_id


def test_the_worker_checks_the_stored_launcher_again(db, country, planning, run_worker):
    job = enqueue_job("lqas-sampling", _sampling_inputs(country, planning.id), launcher=country.coordinator)
    country.coordinator.projects = []  # removed from the project while the job waited
    db.session.commit()
    run_worker()
    job = db.session.get(Job, job.id)
    assert job.status == st.FAILED and job.message.startswith("Not started: coordinator may no longer run it")
    assert not any(line.message.startswith("Started") for line in job.logs)  # its log does not say otherwise
    assert _assignments(db) == 0


# --- 2. schedules belong to a project; their runs are the project's, started by the schedule ------

def test_schedules_are_their_projects_and_run_there(db, client, web_app, login, country, planning, outsider,
                                                    run_worker):
    schedule = schedules.save_schedule(country.coordinator, ScheduleIn(
        name="Monthly sample", process_id="lqas-sampling", frequency="monthly", enabled=True,
        inputs=_sampling_inputs(country, planning.id)))
    assert schedule.project_id == planning.project_id
    b = login(outsider, test_client=web_app.test_client())
    assert "Monthly sample" not in b.get("/schedules").get_data(as_text=True)
    token = csrf_token_from(b.get("/schedules/new").get_data(as_text=True))
    stolen = b.post("/schedules/new", data={"csrf_token": token, "name": "Mine now", "process_id": "lqas-sampling",
                                            "frequency": "daily", "timezone": "UTC",
                                            "inputs": '{"planning_id": %d, "%s": [1], "%s": [1]}'
                                                      % (planning.id, TYPES, QUANTITIES)})
    assert stolen.status_code == 400 and "does not exist" in stolen.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Schedule)) == 1
    # The dispatcher starts the run as the schedule, in its project; the worker runs it there.
    job_id = schedules.dispatch_schedule(schedule, schedule.next_run_at, schedule.next_run_at)
    run_worker()
    job = db.session.get(Job, job_id)
    assert (job.status, job.launcher_id, job.project_id) == (st.SUCCESSFUL, None, planning.project_id), job.message
    assert job.launched_by == f"schedule {schedule.id}" and _assignments(db) > 0
    a = login(country.coordinator, test_client=web_app.test_client())
    assert job_id[:8] in a.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    # A schedule can reach nothing outside its project, whatever its stored inputs say.
    other = _planning_of(outsider)
    db.session.execute(Schedule.__table__.update().where(Schedule.id == schedule.id).values(
        inputs=_sampling_inputs(country, other.id)))
    db.session.commit()
    db.session.expire_all()
    schedule = db.session.get(Schedule, schedule.id)
    assert schedules.dispatch_schedule(schedule, schedule.next_run_at, schedule.next_run_at) is None
    assert _jobs(db) == 1


# --- 3. jobs are per project for every role -----------------------------------------------------

def test_an_admin_of_another_project_sees_none_of_its_jobs(db, client, web_app, login, api_token, make_user,
                                                          country, planning):
    job = enqueue_job("echo", {"message": "demo project's"}, launcher=country.coordinator)
    admin = make_user("admin", projects=["Project B"], username="b-admin")
    assert job.id not in str(client.get("/jobs?f=json", headers=api_token(admin)).get_json())
    assert client.get(f"/jobs/{job.id}?f=json", headers=api_token(admin)).status_code == 404
    page = login(admin, test_client=web_app.test_client())
    assert job.id[:8] not in page.get("/jobs").get_data(as_text=True)
    assert job.id[:8] not in page.get("/").get_data(as_text=True)
    assert job.id in str(client.get("/jobs?f=json", headers=api_token(country.coordinator)).get_json())


def test_project_admins_are_not_platform_operators(db, client, web_app, login, make_user):
    admin = make_user("admin", projects=["Project B"])
    browser = login(admin, test_client=web_app.test_client())
    for path in ("/admin/outbox", "/admin/openhexa/", "/admin/rq/"):
        assert browser.get(path).status_code == 403, path
    operator = login(make_user("agent", projects=[], platform_operator=True), test_client=web_app.test_client())
    assert operator.get("/admin/outbox").status_code == 200


# --- 4. dismissing needs the right to run the process, or being its launcher ----------------------

def test_dismissing_needs_the_right_to_run_or_being_the_launcher(db, client, web_app, login, api_token, make_user,
                                                                country):
    job = enqueue_job("echo", {"message": "slow", "delay": 60}, launcher=country.coordinator)
    agent = make_user("agent", projects=["Demo project"], username="field")
    assert client.delete(f"/jobs/{job.id}", headers=api_token(agent)).status_code == 403
    browser = login(agent, test_client=web_app.test_client())
    page = browser.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "Stop this job?" not in page
    token = csrf_token_from(page)
    assert browser.post(f"/jobs/{job.id}/dismiss", headers={"X-CSRFToken": token}).status_code == 403
    assert db.session.get(Job, job.id).status == st.ACCEPTED
    # Its launcher may, even without MANAGE_PIPELINES any more.
    country.coordinator.role = agent.role
    db.session.commit()
    response = client.delete(f"/jobs/{job.id}", headers=api_token(country.coordinator))
    assert response.status_code == 200 and response.get_json()["status"] == st.DISMISSED


# --- 5. OpenHEXA's pipelines are read per user --------------------------------------------------

def test_the_pipeline_list_and_details_need_the_right_to_use_them(client, api_token, make_user, configured):
    agent = make_user("agent", projects=["Demo project"])
    assert client.get("/api/openhexa/pipelines/", headers=api_token(agent)).status_code == 403
    assert client.get(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=api_token(agent)).status_code == 403
    coordinator = make_user("coordinator", projects=["Demo project"])
    assert client.get("/api/openhexa/pipelines/", headers=api_token(coordinator)).status_code == 200
    assert client.get(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=api_token(coordinator)).status_code == 200


# --- 7. only a valid Bearer makes a token request; no credentials is a 401 -----------------------

def test_a_bad_bearer_never_disables_csrf_for_a_cookie_session(db, client, login, api_token, make_user):
    user = make_user()
    execute = {"inputs": {"message": "hi"}}
    assert client.post("/processes/echo/execution", json=execute).status_code == 401  # no credentials
    assert client.delete("/jobs/nope").status_code == 401
    login(user)
    forged = client.post("/processes/echo/execution", json=execute, headers={"Authorization": "Bearer garbage"})
    assert forged.status_code == 401
    assert client.get("/jobs?f=json", headers={"Authorization": "Bearer garbage"}).status_code == 401
    assert client.post("/processes/echo/execution", json=execute).status_code == 400  # the session needs its token
    assert _jobs(db) == 0
    token = csrf_token_from(client.get("/").get_data(as_text=True))
    assert client.post("/processes/echo/execution", json=execute, headers={"X-CSRFToken": token}).status_code == 201
    assert client.post("/processes/echo/execution", json=execute, headers=api_token(user)).status_code == 201
    job_id = client.get("/jobs?f=json", headers=api_token(user)).get_json()["jobs"][0]["jobID"]
    assert client.delete(f"/jobs/{job_id}").status_code == 400  # the cookie alone: CSRF refuses
    assert client.delete(f"/jobs/{job_id}", headers={"X-CSRFToken": token}).status_code == 200


def test_global_webhook_deliveries_show_each_project_only_its_events(db, web_app, login, make_user):
    from app.models import WebhookEndpoint, WebhookDelivery

    endpoint = WebhookEndpoint(name="Everywhere", url="https://hooks.example.org/", secret_sealed="x", project_id=None,
                               event_types=["TaskCreated"])
    db.session.add(endpoint)
    db.session.flush()
    mine, theirs = make_user(projects=["Project A"]), make_user(projects=["Project B"])
    deliveries = {p: WebhookDelivery(id=f"00000000-0000-4000-8000-00000000000{n}", endpoint_id=endpoint.id,
                                     event_id=f"00000000-0000-4000-8000-00000000010{n}", event_type="TaskCreated",
                                     payload={"project_id": p, "title": f"task of {p}"})
                  for n, p in enumerate((mine.project_ids[0], theirs.project_ids[0]))}
    db.session.add_all(deliveries.values())
    db.session.commit()
    browser = login(mine, test_client=web_app.test_client())
    assert browser.get(f"/automation/webhooks/deliveries/{deliveries[mine.project_ids[0]].id}").status_code == 200
    assert browser.get(f"/automation/webhooks/deliveries/{deliveries[theirs.project_ids[0]].id}").status_code == 404


def test_a_launcher_deactivated_while_the_job_waited_is_refused_by_name(db, country, planning, run_worker):
    job = enqueue_job("lqas-sampling", _sampling_inputs(country, planning.id), launcher=country.coordinator)
    country.coordinator.active = False
    db.session.commit()
    run_worker()
    job = db.session.get(Job, job.id)
    assert (job.status, job.message) == (st.FAILED, "Not started: its launcher coordinator is no longer active.")
    assert _assignments(db) == 0
