"""OGC API – Processes 1.0: landing, conformance, processes, execution, jobs, errors, OpenAPI."""
import pytest

from app.extensions import get_queue
from app.models import Job

EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
JSON = {"Accept": "application/json"}


def test_landing_conformance_and_openapi_are_public(client):
    landing = client.get("/ogc").get_json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "http://www.opengis.net/def/rel/ogc/1.0/processes",
            "http://www.opengis.net/def/rel/ogc/1.0/job-list"} <= rels
    assert client.get("/?f=json").get_json()["links"] == landing["links"]
    assert client.get("/", headers=JSON).get_json()["title"] == landing["title"]
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 302  # the dashboard (login)
    conf = client.get("/conformance").get_json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list" in conf


def test_openapi_document_is_valid_openapi_3(client):
    from openapi_spec_validator import validate

    doc = client.get("/openapi.json").get_json()
    validate(doc)
    assert {"/processes", "/processes/{processId}/execution", "/jobs", "/jobs/{jobId}", "/jobs/{jobId}/results"} <= set(doc["paths"])
    assert "delete" in doc["paths"]["/jobs/{jobId}"]
    assert any(path.startswith("/api/orgunits") for path in doc["paths"])  # the rest of the JSON API


def test_process_list_and_description(client, make_user, api_token):
    headers = {**api_token(make_user()), **JSON}
    listing = client.get("/processes", headers=headers).get_json()
    ids = {p["id"] for p in listing["processes"]}
    assert {"echo", "lqas-sampling", "eo-aggregate-import", "demo-steps"} <= ids
    echo = client.get("/processes/echo", headers=headers).get_json()
    assert echo["jobControlOptions"] == ["async-execute", "sync-execute"]
    assert echo["outputTransmission"] == ["value"]
    assert echo["inputs"]["message"]["schema"]["type"] == "string" and echo["inputs"]["message"]["minOccurs"] == 1
    assert echo["outputs"]["echo"]["schema"] == {"type": "string"}
    eo = client.get("/processes/eo-aggregate-import", headers=headers).get_json()
    assert eo["jobControlOptions"] == ["async-execute"]
    assert eo["steps"][0] == "validate_inputs" and eo["steps"][-1] == "publish_results"
    missing = client.get("/processes/nope", headers=headers)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    assert missing.get_json()["type"] == EXC + "no-such-process"
    assert client.get("/processes", headers=JSON).status_code == 401


def test_async_execution_returns_201_location_and_status(app, db, client, make_user, api_token, run_worker):
    user = make_user()
    headers = {**api_token(user), "Prefer": "respond-async"}
    response = client.post("/processes/echo/execution", json={"inputs": {"message": {"value": "hi"}}}, headers=headers)
    assert response.status_code == 201
    info = response.get_json()
    assert response.headers["Location"].endswith(f"/jobs/{info['jobID']}")
    assert info["status"] == "accepted" and info["processID"] == "echo" and info["id"] == info["jobID"]
    not_ready = client.get(f"/jobs/{info['jobID']}/results", headers=headers)
    assert not_ready.status_code == 404 and not_ready.get_json()["type"] == EXC + "result-not-ready"
    run_worker()
    status = client.get(f"/jobs/{info['jobID']}", headers={**headers, **JSON}).get_json()
    assert status["status"] == "successful"
    assert all(status[k] for k in ("created", "started", "finished", "updated"))
    assert {"self", "monitor", "http://www.opengis.net/def/rel/ogc/1.0/results"} <= {l["rel"] for l in status["links"]}
    assert client.get(f"/jobs/{info['jobID']}/results", headers=headers).get_json() == {"echo": "hi"}


def test_sync_execution_returns_results(app, db, client, make_user, api_token):
    headers = {**api_token(make_user()), "Prefer": "respond-sync"}
    response = client.post("/processes/echo/execution", json={"inputs": {"message": "now"}}, headers=headers)
    assert response.status_code == 200 and response.get_json() == {"echo": "now"}
    job_id = response.headers["Link"].split("/jobs/")[1].split(">")[0]
    assert db.session.get(Job, job_id).status == "successful"
    assert get_queue().count == 0  # ran in the request, nothing queued
    steps = client.post("/processes/demo-steps/execution", json={"inputs": {}}, headers=headers)
    assert steps.get_json() == {"steps": 7}
    failed = client.post("/processes/echo/execution", json={"inputs": {"message": "x", "fail": True}}, headers=headers)
    assert failed.status_code == 500 and failed.mimetype == "application/problem+json"


@pytest.mark.parametrize("process, body, field", [
    ("echo", {"inputs": {}}, "message"),
    ("echo", {"inputs": {"message": "x", "delay": "soon"}}, "delay"),
    ("echo", {"inputs": {"message": "x", "colour": 1}}, "colour"),
    ("echo", {"inputs": ["message"]}, "inputs"),
    ("echo", "not json", "body"),
    ("eo-aggregate-import", {"inputs": {"datasetId": "modis", "start": "2024-01-01", "end": "2024-01-31",
                                        "orgUnitLevel": 3, "dataElement": "abcdefghijk"}}, "datasetId"),
    ("eo-aggregate-import", {"inputs": {"datasetId": "chirps-daily", "start": "2024-02-01", "end": "2024-01-01",
                                        "orgUnitLevel": 3, "dataElement": "abcdefghijk"}}, "end"),
    ("eo-aggregate-import", {"inputs": {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-01-02",
                                        "orgUnitLevel": 3, "dataElement": "bad"}}, "dataElement"),
    ("eo-aggregate-import", {"inputs": {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-01-02",
                                        "orgUnitLevel": 3, "dataElement": "abcdefghijk", "dryRun": False}}, "connection"),
    ("eo-aggregate-import", {"inputs": {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-01-02",
                                        "orgUnitLevel": 3, "dataElement": "abcdefghijk", "connection": 999}}, "connection"),
])
def test_bad_inputs_are_400_problems_and_start_nothing(app, db, client, make_user, api_token, process, body, field):
    headers = api_token(make_user())
    kwargs = {"json": body} if isinstance(body, dict) else {"data": body, "content_type": "text/plain"}
    response = client.post(f"/processes/{process}/execution", headers=headers, **kwargs)
    assert response.status_code == 400 and response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == EXC + "invalid-parameter-value" and field in problem["details"]
    assert db.session.query(Job).count() == 0 and get_queue().count == 0


def test_execution_needs_csrf_for_sessions_and_a_permission(app, db, client, make_user, login, csrf):
    login(make_user())
    assert client.post("/processes/echo/execution", json={"inputs": {"message": "x"}}).status_code == 400
    ok = client.post("/processes/echo/execution", json={"inputs": {"message": "x"}}, headers={"X-CSRFToken": csrf()})
    assert ok.status_code == 201
    agent = make_user("agent")
    client.post("/logout", data={"csrf_token": csrf()})
    login(agent)
    denied = client.post("/processes/echo/execution", json={"inputs": {"message": "x"}}, headers={"X-CSRFToken": csrf()})
    assert denied.status_code == 403


def test_job_list_filters_and_paging(app, db, client, make_user, api_token, run_worker):
    from app.services.processing.jobs import enqueue_job

    user = make_user()
    headers = {**api_token(user), **JSON}
    for n in range(3):
        enqueue_job("echo", {"message": str(n)}, launcher=user)
    run_worker()
    enqueue_job("demo-steps", {}, launcher=user)
    page1 = client.get("/jobs?limit=2", headers=headers).get_json()
    assert len(page1["jobs"]) == 2
    nxt = next(link for link in page1["links"] if link["rel"] == "next")
    page2 = client.get(nxt["href"], headers=headers).get_json()
    assert len(page2["jobs"]) == 2 and any(link["rel"] == "prev" for link in page2["links"])
    assert {j["jobID"] for j in page1["jobs"]}.isdisjoint({j["jobID"] for j in page2["jobs"]})
    only = client.get("/jobs?processID=demo-steps", headers=headers).get_json()["jobs"]
    assert [j["processID"] for j in only] == ["demo-steps"]
    both = client.get("/jobs?status=accepted,successful", headers=headers).get_json()["jobs"]
    assert len(both) == 4
    assert len(client.get("/jobs?status=successful&processID=echo", headers=headers).get_json()["jobs"]) == 3
    assert client.get("/jobs?type=process", headers=headers).get_json()["jobs"]
    assert client.get("/jobs?type=other", headers=headers).get_json()["jobs"] == []
    bad = client.get("/jobs?status=finished", headers=headers)
    assert bad.status_code == 400 and bad.get_json()["type"] == EXC + "invalid-parameter-value"


def test_dismiss_with_bearer_and_unknown_job(app, db, client, make_user, api_token):
    user = make_user()
    headers = api_token(user)
    job_id = client.post("/processes/echo/execution", json={"inputs": {"message": "x"}}, headers=headers).get_json()["jobID"]
    dismissed = client.delete(f"/jobs/{job_id}", headers=headers)
    assert dismissed.status_code == 200 and dismissed.get_json()["status"] == "dismissed"
    gone = client.get("/jobs/does-not-exist", headers={**headers, **JSON})
    assert gone.status_code == 404 and gone.get_json()["type"] == EXC + "no-such-job"
    assert client.delete("/jobs/does-not-exist", headers=headers).get_json()["type"] == EXC + "no-such-job"


def test_process_pages_and_the_generated_execute_form(app, db, client, make_user, login, csrf):
    login(make_user())
    listing = client.get("/processes").get_data(as_text=True)
    assert "eo-aggregate-import" in listing and "<html" in listing
    page = client.get("/processes/eo-aggregate-import").get_data(as_text=True)
    assert 'name="datasetId"' in page and 'type="date"' in page and 'name="dryRun" checked' in page
    bad = client.post("/processes/echo/run", data={"csrf_token": csrf(), "message": "x", "delay": "soon"})
    assert bad.status_code == 400 and "delay" in bad.get_data(as_text=True)
    assert db.session.query(Job).count() == 0
    ok = client.post("/processes/echo/run", data={"csrf_token": csrf(), "message": "from the form", "steps": "2"})
    assert ok.status_code == 302
    job = db.session.query(Job).one()
    assert job.inputs["message"] == "from the form" and job.inputs["steps"] == 2
