"""The real SDK pipeline (pipelines/lqas/pipeline.py), run in-process through openhexa-sdk against a
live Fieldflow: it ends with the same assignments as the built-in pipeline, and the job succeeds when
OpenHEXA ends the run."""
import pytest
from sqlalchemy import select

from app.models import Assignment, Job
from app.schemas.openhexa import OpenHexaSettingsIn
from app.schemas.planning import LqasInputs
from app.services.processing import job_status as st
from app.services.processing.jobs import execute_job
from app.services.planning import openhexa as svc
from app.services.planning.sampling import _plan, sample
from tests.openhexa_double import PIPELINE_ID, TOKEN, VERSION_ID, Double, serve
from tests.planning_fixtures import country, planning  # noqa: F401


@pytest.fixture
def double():
    state = Double(statuses=["running"])
    server = serve(state)
    yield state
    server.shutdown()


def test_sdk_pipeline_samples_like_the_builtin_one(app, web_app, db, client, live_server, api_token, make_user, double,
                                                   run_worker, country, planning, monkeypatch):
    from pipelines.lqas.pipeline import fieldflow_lqas

    admin = make_user(role="admin", projects=["Demo project"], platform_operator=True)
    svc.save_config(admin, OpenHexaSettingsIn(openhexa_url=double.url, openhexa_token=TOKEN, workspace_slug="demo",
                                              poll_delay_seconds=30))
    params = {"planning_id": planning.id,
              "org_unit_type_sequence_identifiers": [country.types["REGION"].id, country.types["DISTRICT"].id],
              "org_unit_type_quantities": [3, 2], "org_unit_type_exceptions": ["-", "-"], "seed": 77}
    monkeypatch.setitem(web_app.config, "PIPELINE_CALLBACK_HOST", live_server.url)
    response = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=api_token(country.coordinator),
                           json={"version": VERSION_ID, "config": params})
    assert response.status_code == 201, response.get_json()
    run_worker()  # sends runPipeline; the first poll is scheduled for later
    config = dict(double.last_run()["config"])
    assert config["connection_host"].startswith("http://127.0.0.1:")

    fieldflow_lqas.run(config)  # what OpenHEXA would do with the config it received

    db.session.expire_all()
    job = db.session.get(Job, response.get_json()["task"]["job_id"])
    # the pipeline reported SUCCESS: recorded, but OpenHEXA, still running it, ends the job
    assert job.status == st.RUNNING and job.message.startswith("Pipeline reports done"), job.message
    double.last_run()["statuses"] = ["success"]
    assert execute_job(job.id) == st.SUCCESSFUL
    db.session.expire_all()
    assert job.results["assignments_created"] == 6 and job.results["seed"] == 77
    written = sorted((a.org_unit_id, a.team_id, a.user_id) for a in db.session.execute(
        select(Assignment).where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))).scalars())
    rows, _ = sample(_plan(LqasInputs(**{**params, "org_unit_type_exceptions": None})))
    assert written == sorted((r.org_unit_id, r.team_id, r.user_id) for r in rows)
