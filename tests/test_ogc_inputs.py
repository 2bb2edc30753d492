"""Process inputs and the OGC endpoints on declared schemas: each process's input model generates its
description, its execute form and the document; the inputs clients send today keep working; what
used to be a 5xx, a redirect or silently dropped is a 400 naming the field."""
import pytest

from app.extensions import get_queue
from app.models import Dhis2Connection, Job, Schedule
from app.services.planning.sampling import CRITERIA, EXCEPTIONS, QUANTITIES, TYPES
from tests.planning_fixtures import country, planning  # noqa: F401

EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
JSON = {"Accept": "application/json"}
EO = {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-01-31", "orgUnitLevel": 2,
      "dataElement": "eoChirpsPr1"}


def _problem(response, status: int = 400, kind: str = "invalid-parameter-value") -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == EXC + kind
    return body


def _sampling(country, planning_id, **extra) -> dict:
    return {"planning_id": planning_id, TYPES: [country.types["REGION"].id, country.types["DISTRICT"].id],
            QUANTITIES: [1, 1], **extra}


# --- descriptions, forms and the document come from the input models -----------------------------

def test_process_descriptions_are_generated_from_the_input_models(client, make_user, api_token):
    headers = {**api_token(make_user()), **JSON}
    eo = client.get("/processes/eo-aggregate-import", headers=headers).get_json()["inputs"]
    assert eo["datasetId"] == {"title": "Dataset", "description": "", "minOccurs": 1, "maxOccurs": 1, "schema": {
        "type": "string", "enum": ["chirps-daily", "chirps-monthly", "era5-land-temperature", "era5-land-precipitation",
                                    "worldpop-population"]}}
    assert eo["start"]["schema"] == {"type": "string", "format": "date"}
    assert eo["dryRun"]["schema"] == {"type": "boolean", "default": True} and eo["dryRun"]["minOccurs"] == 0
    assert eo["dataElement"]["schema"]["pattern"] == "^[A-Za-z][A-Za-z0-9]{10}$"
    assert eo["connection"]["schema"]["nullable"] is True
    lqas = client.get("/processes/lqas-sampling", headers=headers).get_json()["inputs"]
    assert set(lqas) == {"planning_id", TYPES, QUANTITIES, EXCEPTIONS, CRITERIA, "seed"}
    # a per-level list, or one string (JSON or comma-separated), as the OpenHEXA SDK sends it
    assert [option["type"] for option in lqas[TYPES]["schema"]["anyOf"]] == ["array", "string"]
    assert lqas[EXCEPTIONS]["minOccurs"] == 0 and lqas["planning_id"]["minOccurs"] == 1


def test_the_document_gives_each_process_its_execute_schema(client):
    doc = client.get("/openapi.json").get_json()
    execute = doc["paths"]["/processes/{processId}/execution"]["post"]
    variants = execute["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    names = [variant["$ref"].rsplit("/", 1)[1] for variant in variants]
    assert {"DemoStepsExecute", "EchoExecute", "EoAggregateImportExecute", "LqasSamplingExecute"} <= set(names)
    echo = doc["components"]["schemas"]["EchoExecute"]
    assert echo["properties"]["inputs"] == {"$ref": "#/components/schemas/EchoInputs"}
    assert doc["components"]["schemas"]["EchoInputs"]["additionalProperties"] is False
    process_id = next(p for p in execute["parameters"] if p["name"] == "processId")
    assert "lqas-sampling" in process_id["schema"]["enum"]
    problem = execute["responses"]["400"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    jobs = {p["name"]: p for p in doc["paths"]["/jobs"]["get"]["parameters"]}
    assert jobs["page"]["schema"]["maximum"] == 1_000_000 and jobs["status"]["explode"] is False
    status = doc["components"]["schemas"][jobs["status"]["schema"]["items"]["$ref"].rsplit("/", 1)[1]]
    assert status["enum"] == ["accepted", "running", "successful", "failed", "dismissed"]
    formats = {p["name"]: p for p in doc["paths"]["/jobs/{jobId}"]["get"]["parameters"]}["f"]["schema"]
    assert formats["enum"] == ["json", "eo"]


def test_the_execute_form_is_generated_and_read_with_the_model(db, client, make_user, login, csrf):
    login(make_user())
    page = client.get("/processes/demo-steps").get_data(as_text=True)
    assert '<select name="failAt">' in page and 'step="any"' in page
    bad = client.post("/processes/demo-steps/run", data={"csrf_token": csrf(), "delay": "61", "failAt": "nowhere"})
    text = bad.get_data(as_text=True)
    assert bad.status_code == 400 and 'id="delay-error"' in text and 'id="failAt-error"' in text
    ok = client.post("/processes/demo-steps/run", data={"csrf_token": csrf(), "delay": "0.5"})
    assert ok.status_code == 302
    assert db.session.query(Job).one().inputs == {"delay": 0.5, "failAt": None}


# --- the inputs clients send today keep working; unknown ones are named -----------------------------

def test_every_input_name_clients_send_is_still_accepted(db, client, make_user, api_token, country, planning):
    headers = api_token(country.coordinator)
    eo = {**EO, "periodType": "MONTHLY", "aggregation": "mean", "dryRun": True, "force": False,
          "importStrategy": "CREATE", "connection": None}
    response = client.post("/processes/eo-aggregate-import/execution", headers=headers, json={"inputs": eo})
    assert response.status_code == 201, response.get_json()
    stored = db.session.get(Job, response.get_json()["jobID"]).inputs
    assert stored == {**eo, "orgUnitLevel": 2, "parameters": None, "categoryOptionCombo": None, "attributeOptionCombo": None}
    # the OpenHEXA SDK's forms: "-" placeholders, one JSON string, comma-separated lists; OGC qualified values
    inputs = {"planning_id": {"value": planning.id}, TYPES: f"{country.types['REGION'].id},{country.types['DISTRICT'].id}",
              QUANTITIES: "[1, 1]", EXCEPTIONS: ["-", "-"], CRITERIA: "-", "seed": 3}
    sampled = client.post("/processes/lqas-sampling/execution", headers=headers, json={"inputs": inputs})
    assert sampled.status_code == 201, sampled.get_json()
    job = db.session.get(Job, sampled.get_json()["jobID"])
    assert job.inputs[EXCEPTIONS] == [[], []] and job.inputs[CRITERIA] == [None, None] and job.inputs["seed"] == 3


@pytest.mark.parametrize("process", ["echo", "demo-steps", "eo-aggregate-import", "lqas-sampling"])
def test_unknown_inputs_are_a_400_naming_them(db, client, api_token, country, planning, process):
    inputs = {"echo": {"message": "x"}, "demo-steps": {}, "eo-aggregate-import": EO,
              "lqas-sampling": _sampling(country, planning.id)}[process]
    response = client.post(f"/processes/{process}/execution", headers=api_token(country.coordinator),
                           json={"inputs": {**inputs, "colour": "blue"}})
    assert _problem(response)["details"] == {"colour": ["is not a field of this request"]}  # lqas dropped it
    assert db.session.query(Job).count() == 0 and get_queue().count == 0


def test_the_execute_request_is_a_model(db, client, make_user, api_token):
    headers = api_token(make_user())
    owslib = client.post("/processes/echo/execution", headers=headers,
                         json={"inputs": {"message": "x"}, "response": "document", "subscriber": {"successUri": "x"}})
    assert owslib.status_code == 201
    assert _problem(client.post("/processes/echo/execution", headers=headers,
                                json={"inputs": {"message": "x"}, "input": {}}))["details"] == {
        "input": ["is not a field of this request"]}
    assert "mode" in _problem(client.post("/processes/echo/execution", headers=headers,
                                          json={"inputs": {"message": "x"}, "mode": "later"}))["details"]


def test_text_the_database_cannot_store_is_refused_naming_where(db, client, make_user, api_token):
    response = client.post("/processes/echo/execution", headers=api_token(make_user()),
                           json={"inputs": {"message": "a\u0000b"}})
    assert _problem(response)["details"] == {"inputs": ["inputs.message contains a NUL character"]}
    assert db.session.query(Job).count() == 0


def test_a_message_is_echoed_as_sent(db, client, make_user, api_token):
    response = client.post("/processes/echo/execution", headers={**api_token(make_user()), "Prefer": "respond-sync"},
                           json={"inputs": {"message": "  spaced  "}})
    assert response.get_json() == {"echo": "  spaced  "}


# --- the job list and a job's formats ------------------------------------------------------------

@pytest.mark.parametrize("query, field", [
    ("page=110874789066070835200&limit=1", "page"),  # was a 500 (PostgreSQL OFFSET out of range)
    ("limit=99999999999", "limit"),
    ("status=finished", "status.0"),
    ("colour=blue", "colour"),
])
def test_the_job_list_query_is_bounded(client, make_user, api_token, query, field):
    body = _problem(client.get(f"/jobs?{query}", headers={**api_token(make_user()), **JSON}))
    assert field in body["details"]


def test_job_list_values_repeated_or_comma_separated(db, client, make_user, api_token):
    from app.services.processing.jobs import enqueue_job

    user = make_user()
    enqueue_job("echo", {"message": "x"}, launcher=user)
    enqueue_job("demo-steps", {}, launcher=user)
    headers = {**api_token(user), **JSON}
    for query in ("processID=echo&processID=demo-steps", "processID=echo,demo-steps", "process=echo,demo-steps"):
        assert len(client.get(f"/jobs?{query}", headers=headers).get_json()["jobs"]) == 2


def test_an_unknown_job_format_is_a_400_not_a_redirect(db, client, web_app, make_user, api_token, login):
    from app.services.processing.jobs import enqueue_job

    user = make_user()
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    headers = api_token(user)
    _problem(client.get("/jobs/0?f=AAA", headers=headers))  # was a 302 to the login page
    _problem(client.get(f"/jobs/{job.id}?f=xml", headers=headers))
    assert client.get(f"/jobs/{job.id}?f=eo", headers=headers).get_json()["status"] == "queued"
    assert client.get(f"/jobs/{job.id}?f=json", headers=headers).get_json()["jobID"] == job.id
    browser = login(user, test_client=web_app.test_client())
    page = browser.get(f"/jobs/{job.id}?f=html")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)


def test_a_job_id_that_cannot_exist_is_a_404(client, make_user, api_token):
    headers = api_token(make_user())  # a Bearer client gets JSON, whatever its Accept header
    _problem(client.get("/jobs/a%00b", headers=headers), 404, "no-such-job")  # was a 500
    _problem(client.delete("/jobs/a%00b", headers=headers), 404, "no-such-job")


def test_the_jobs_page_refuses_an_absurd_page(client, make_user, login):
    login(make_user())
    assert client.get("/jobs?page=110874789066070835200").status_code == 400  # was a 500
    assert client.get("/jobs?page=2&status=nonsense").status_code == 200  # an unknown status shows every job


# --- schedules and DHIS2 connections: their forms are read with models ---------------------------------

def test_schedule_forms_are_read_with_the_model(db, client, make_user, login, csrf):
    login(make_user())
    form = {"csrf_token": csrf(), "name": "S", "process_id": "echo", "frequency": "daily", "timezone": "UTC"}
    long_name = client.post("/schedules/new", data={**form, "name": "n" * 161, "inputs": '{"message": "x"}'})
    assert long_name.status_code == 400 and 'id="name-error"' in long_name.get_data(as_text=True)  # was a 500
    unknown = client.post("/schedules/new", data={**form, "inputs": '{"message": "x", "colour": 1}'})
    assert unknown.status_code == 400 and "inputs.colour" in unknown.get_data(as_text=True)
    cron = client.post("/schedules/new", data={**form, "frequency": "cron", "cron": "soon", "inputs": "{}"})
    assert cron.status_code == 400 and 'id="cron-error"' in cron.get_data(as_text=True)
    assert db.session.query(Schedule).count() == 0


def test_connection_forms_are_read_with_the_model(db, client, make_user, login, csrf):
    login(make_user("admin"))
    form = {"csrf_token": csrf(), "url": "https://dhis2.example.org", "username": "u", "password": "p"}
    long_name = client.post("/admin/dhis2-connections", data={**form, "name": "n" * 121})
    assert long_name.status_code == 400 and 'id="name-error"' in long_name.get_data(as_text=True)  # was a 500
    assert client.post("/admin/dhis2-connections", data={**form, "name": "HMIS", "password": " keep spaces "}).status_code == 302
    assert db.session.query(Dhis2Connection).count() == 1
    saved = db.session.query(Dhis2Connection).one()
    edit = client.get(f"/admin/dhis2-connections?edit={saved.id}")
    assert edit.status_code == 200 and 'value="HMIS"' in edit.get_data(as_text=True)
    assert client.get("/admin/dhis2-connections?edit=99999999999").status_code == 400  # an id beyond any row
    renamed = client.post("/admin/dhis2-connections", data={**form, "id": str(saved.id), "name": "HMIS 2", "password": ""})
    assert renamed.status_code == 302
    db.session.expire_all()
    assert [c.name for c in db.session.query(Dhis2Connection)] == ["HMIS 2"]  # updated, not a second one
