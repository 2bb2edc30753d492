"""EO aggregate import: offline end to end on the sample data, against a DHIS2 double on loopback
that checks the payload and query parameters as DHIS2 documents them."""
import json
import logging

import pytest

from app.models import Dhis2Import, Job, JobLog, OrgUnit, OrgUnitType
from app.schemas.processing import Dhis2ConnectionIn
from app.services.processing import dhis2
from app.services.processing import job_status as st
from app.services.platform.errors import ValidationFailed
from app.services.processing.jobs import enqueue_job
from tests.dhis2_double import PASSWORD, Dhis2Double

ELEMENT = "eoChirpsPr1"
DISTRICTS = [f"DiStRiCt00{i}" for i in range(4)]


@pytest.fixture
def double(dhis2_double):
    """The DHIS2 double knowing the data element (monthly) and the four districts."""
    dhis2_double.add_data_element(ELEMENT, "NUMBER", "Monthly")
    dhis2_double.add_data_element("eoOther0001", "NUMBER", "Monthly")
    for uid in DISTRICTS:
        dhis2_double.add_org_unit(uid, uid, 3)
    return dhis2_double


def _square(x, y, size=1.0):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


@pytest.fixture
def districts(app, db, make_user):
    """A country, one region and four districts (level 3) with polygons inside the sample grid."""
    user = make_user()
    project_id = user.project_ids[0]
    types = [OrgUnitType(project_id=project_id, name=n, depth=d) for d, n in enumerate(("Country", "Region", "District"))]
    db.session.add_all(types)
    db.session.flush()
    country = OrgUnit(project_id=project_id, name="Demo", org_unit_type_id=types[0].id, path="", depth=0, geometry=_square(18, 3, 4))
    db.session.add(country)
    db.session.flush()
    region = OrgUnit(project_id=project_id, name="North", org_unit_type_id=types[1].id, parent_id=country.id, path="", depth=1,
                     geometry=_square(18, 3, 4))
    db.session.add(region)
    db.session.flush()
    for i, (x, y) in enumerate(((18, 3), (20, 3), (18, 5), (20, 5))):
        db.session.add(OrgUnit(project_id=project_id, name=f"District {i}", org_unit_type_id=types[2].id, parent_id=region.id,
                               path="", depth=2, geometry=_square(x, y, 2), source_ref=f"dhis2:DiStRiCt00{i}"))
    db.session.commit()
    return user


def _connection(user, double: Dhis2Double, password: str = PASSWORD):
    return dhis2.save_connection(user, Dhis2ConnectionIn(name="Double", url=double.url, username="admin",
                                                         password=password))


def _inputs(**extra):
    return {"datasetId": "chirps-daily", "start": "2024-01-01", "end": "2024-02-29", "periodType": "MONTHLY",
            "orgUnitLevel": 3, "aggregation": "mean", "dataElement": ELEMENT, **extra}


def _run(db, run_worker, user, **extra) -> Job:
    job = enqueue_job("eo-aggregate-import", _inputs(**extra), launcher=user, project_id=user.project_ids[0])
    run_worker()
    db.session.expire_all()
    return db.session.get(Job, job.id)


def test_offline_dry_run_by_default_builds_payload_and_artifacts(app, db, client, make_user, api_token, districts, run_worker):
    job = _run(db, run_worker, districts)
    assert job.status == st.SUCCESSFUL, job.message
    assert job.inputs["dryRun"] is True  # the default
    assert job.results["orgUnitCount"] == 4 and job.results["rowCount"] == 8  # 4 districts × 2 months
    assert job.results["importSummary"]["status"] == "SKIPPED"
    assert [s["status"] for s in job.steps] == ["successful"] * 7
    headers = api_token(districts)
    preview = client.get(job.results["payloadPreviewPath"], headers=headers).get_json()
    assert preview["rowCount"] == 8
    assert {v["period"] for v in preview["dataValues"]} == {"202401", "202402"}
    assert {v["orgUnit"] for v in preview["dataValues"]} == {f"DiStRiCt00{i}" for i in range(4)}
    assert all(float(v["value"]) > 0 for v in preview["dataValues"])
    features = client.get(job.results["resultFeaturesPath"], headers=headers)
    assert features.mimetype == "application/geo+json" and len(features.get_json()["features"]) == 4
    assert client.get(job.results["payloadPreviewPath"]).status_code == 401
    stranger = make_user(projects=["Project B"])
    assert client.get(job.results["payloadPreviewPath"], headers=api_token(stranger)).status_code == 404
    assert client.get(f"/jobs/{job.id}/artifacts/..%2Fsecret_key", headers=headers).status_code == 404
    # The same inputs give the same numbers (deterministic sample data).
    again = _run(db, run_worker, districts)
    assert client.get(again.results["payloadPreviewPath"], headers=headers).get_json()["dataValues"] == preview["dataValues"]


def test_import_into_dhis2_double_is_idempotent(app, db, districts, run_worker, double):
    connection = _connection(districts, double)
    dry = _run(db, run_worker, districts, connection=connection.id)
    assert dry.status == st.SUCCESSFUL, dry.message
    assert double.requests[-1]["dryRun"] == "true" and double.requests[-1]["importStrategy"] == "CREATE_AND_UPDATE"
    assert dry.results["importSummary"]["importCount"]["imported"] == 8
    assert db.session.query(Dhis2Import).count() == 0  # a dry run is not recorded
    real = _run(db, run_worker, districts, connection=connection.id, dryRun=False)
    assert real.status == st.SUCCESSFUL, real.message
    sent = double.requests[-1]
    assert sent["dryRun"] == "false" and len(sent["body"]["dataValues"]) == 8
    assert {v["dataElement"] for v in sent["body"]["dataValues"]} == {ELEMENT}
    assert db.session.query(Dhis2Import).count() == 1
    posts = lambda: len([r for r in double.requests if r["method"] == "POST"])  # noqa: E731
    count = posts()
    skipped = _run(db, run_worker, districts, connection=connection.id, dryRun=False)
    assert skipped.status == st.SUCCESSFUL and skipped.results["skipped"] is True
    assert "already imported" in skipped.results["skipReason"] and posts() == count
    assert [s["status"] for s in skipped.steps][2:] == ["skipped"] * 5
    dry_again = _run(db, run_worker, districts, connection=connection.id)  # a dry-run rerun is free
    assert dry_again.status == st.SUCCESSFUL and posts() == count + 1
    forced = _run(db, run_worker, districts, connection=connection.id, dryRun=False, force=True)
    assert forced.status == st.SUCCESSFUL and posts() == count + 2
    assert db.session.query(Dhis2Import).one().job_id == forced.id
    other_element = _run(db, run_worker, districts, connection=connection.id, dryRun=False, dataElement="eoOther0001")
    assert other_element.status == st.SUCCESSFUL and not other_element.results.get("skipped")


def test_a_period_without_data_fails_in_plain_words(app, db, client, login, districts, run_worker):
    """Outside the sample data the job fails with what to do — no exception name, traceback or
    server path on the page a coordinator reads."""
    job = _run(db, run_worker, districts, start="2019-03-01", end="2019-03-31")
    assert job.status == st.FAILED
    assert job.message.startswith("No CHIRPS v2.0 daily precipitation data for 2019-03-01, 2019-03-02, 2019-03-03 "
                                  "and 28 more in the EO cache. Put the files as published in the drop folder")
    step = next(s for s in job.steps if s["name"] == "extract_source_data")
    assert step["status"] == "failed" and step["attempts"] == 1  # missing data is not retried
    login(districts)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "No CHIRPS v2.0 daily precipitation data for 2019-03-01" in html
    for leak in ("Traceback", "Error:", "eo_cache/", app.instance_path):
        assert leak not in html, leak


def test_dhis2_refusal_fails_the_import_step(app, db, districts, run_worker, double):
    connection = _connection(districts, double, password="wrong")
    job = _run(db, run_worker, districts, connection=connection.id)
    assert job.status == st.FAILED and "DHIS2 answered 401" in job.message
    step = next(s for s in job.steps if s["name"] == "build_dhis2_payload")  # the data element check
    assert step["status"] == "failed" and step["attempts"] == 1  # a refusal is not retried


def test_dhis2_5xx_is_retried_with_backoff(app, db, districts, run_worker, double):
    connection = _connection(districts, double)
    double.unavailable = 2
    job = _run(db, run_worker, districts, connection=connection.id)
    assert job.status == st.SUCCESSFUL, job.message
    step = next(s for s in job.steps if s["name"] == "import_to_dhis2")
    assert step["status"] == "successful" and step["attempts"] == 3
    assert job.results["importSummary"]["importCount"]["imported"] == 8


def test_secrets_never_reach_logs_job_rows_rq_or_pages(app, db, client, make_user, login, districts, run_worker,
                                                     double, caplog):
    from rq.job import Job as RQJob

    from app.extensions import get_redis

    caplog.set_level(logging.DEBUG)
    connection = _connection(districts, double)
    job = enqueue_job("eo-aggregate-import", _inputs(connection=connection.id, dryRun=False), launcher=districts,
                      project_id=districts.project_ids[0])
    rq_job = RQJob.fetch(job.id, connection=get_redis())
    run_worker()
    db.session.expire_all()
    row = db.session.get(Job, job.id)
    assert row.status == st.SUCCESSFUL
    stored = json.dumps([row.inputs, row.results, row.steps, row.message]) + " ".join(
        line.message for line in db.session.query(JobLog).all())
    assert PASSWORD not in stored
    assert PASSWORD not in repr(rq_job.args) + repr(rq_job.meta) + repr(rq_job.kwargs)
    assert PASSWORD not in caplog.text
    assert PASSWORD not in db.session.get(type(connection), connection.id).password_encrypted
    admin = make_user("admin")
    login(admin)
    page = client.get(f"/admin/dhis2-connections?edit={connection.id}").get_data(as_text=True)
    assert "Double" in page and PASSWORD not in page
    assert PASSWORD not in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_connection_admin_keeps_the_password_write_only(app, db, client, web_app, make_user, login, csrf):
    admin = make_user("admin")
    login(admin)
    token = csrf()
    bad = client.post("/admin/dhis2-connections", data={"csrf_token": token, "name": "X", "url": "ftp://x",
                                                         "username": "u", "password": ""})
    assert bad.status_code == 400 and "must be an http" in bad.get_data(as_text=True)
    ok = client.post("/admin/dhis2-connections", data={"csrf_token": token, "name": "Play", "url": "https://play.example/40/",
                                                        "username": "admin", "password": "first"})
    assert ok.status_code == 302
    conn = dhis2.list_connections(admin)[0]
    sealed = conn.password_encrypted
    client.post("/admin/dhis2-connections", data={"csrf_token": token, "id": conn.id, "name": "Play",
                                                   "url": "https://play.example/40", "username": "admin2", "password": ""})
    db.session.expire_all()
    conn = dhis2.list_connections(admin)[0]
    assert conn.username == "admin2" and conn.password_encrypted == sealed  # empty password: unchanged
    other = login(make_user("coordinator"), test_client=web_app.test_client())
    assert other.get("/admin/dhis2-connections").status_code == 403


def test_the_form_with_an_empty_period_date_names_it_and_keeps_what_was_typed(app, db, client, login, csrf, districts):
    login(districts)
    response = client.post("/processes/eo-aggregate-import/run", data={
        "csrf_token": csrf(), "datasetId": "chirps-daily", "start": "", "end": "2024-01-31", "periodType": "MONTHLY",
        "orgUnitLevel": "3", "aggregation": "mean", "dataElement": ELEMENT, "dryRun": "on"})
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert '<p class="field-error" id="start-error">is required</p>' in html
    assert 'name="end" value="2024-01-31"' in html and f'value="{ELEMENT}"' in html
    assert db.session.query(Job).count() == 0


def test_a_409_with_conflicts_is_a_partial_success_in_chunks_with_combos(app, db, client, login, districts, run_worker,
                                                                        double):
    """DHIS2 ignores the values of an org unit it does not know (409, status WARNING): the job
    succeeds, partial, with the counts and conflicts; values go in chunks, with the combos asked for."""
    del double.org_units[DISTRICTS[3]]
    double.combos.add("AttrCombo01")
    app.config["EO_DHIS2_CHUNK_SIZE"] = 3
    connection = _connection(districts, double)
    job = _run(db, run_worker, districts, connection=connection.id, dryRun=False, attributeOptionCombo="AttrCombo01")
    assert job.status == st.SUCCESSFUL, job.message
    summary = job.results["importSummary"]
    assert job.results["partial"] is True and summary["status"] == "WARNING" and summary["chunks"] == 3  # 8 values by 3
    assert summary["importCount"] == {"imported": 6, "updated": 0, "ignored": 2, "deleted": 0}
    assert summary["conflictCount"] == 2 and "Organisation unit not found" in summary["conflicts"][0]["value"]
    posts = [r for r in double.requests if r["method"] == "POST"]
    assert [len(p["body"]["dataValues"]) for p in posts] == [3, 3, 2]
    assert all(v["attributeOptionCombo"] == "AttrCombo01" and "categoryOptionCombo" not in v
               for p in posts for v in p["body"]["dataValues"])
    assert len(double.stored) == 6  # what DHIS2 holds: the known districts' values, as sent
    step = next(s for s in job.steps if s["name"] == "import_to_dhis2")
    assert step["status"] == "successful" and step["attempts"] == 1
    login(districts)
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert 'data-import-status="WARNING"' in page and "partial: some values were ignored" in page
    assert f"Organisation unit not found or not accessible: {DISTRICTS[3]}" in page


@pytest.mark.parametrize("setup, words", [
    (lambda d: d.data_elements.pop(ELEMENT), "DHIS2 has no data element eoChirpsPr1"),
    (lambda d: d.add_data_element(ELEMENT, "TEXT"), "takes TEXT values, not numbers"),
    (lambda d: d.add_data_element(ELEMENT, "NUMBER", "Daily"), "period type Daily, not MONTHLY"),
    (lambda d: d.add_data_element(ELEMENT, "NUMBER", "Monthly", "TRACKER"), "not an aggregate data element"),
])
def test_the_data_element_is_checked_before_anything_is_posted(app, db, districts, run_worker, double, setup, words):
    setup(double)
    job = _run(db, run_worker, districts, connection=_connection(districts, double).id)
    assert job.status == st.FAILED and words in job.message
    assert not [r for r in double.requests if r["method"] == "POST"]


def test_integer_data_elements_get_integer_values(app, db, districts, run_worker, double):
    double.add_data_element(ELEMENT, "INTEGER_ZERO_OR_POSITIVE", "Monthly")
    job = _run(db, run_worker, districts, connection=_connection(districts, double).id)
    assert job.status == st.SUCCESSFUL, job.message
    sent = [v["value"] for r in double.requests if r["method"] == "POST" for v in r["body"]["dataValues"]]
    assert len(sent) == 8 and all(v.isdigit() for v in sent)


def test_units_without_a_dhis2_uid_are_reported_never_sent_with_a_local_id(app, db, districts, run_worker, double):
    unit = db.session.query(OrgUnit).filter(OrgUnit.source_ref == f"dhis2:{DISTRICTS[0]}").one()
    unit.source_ref = None
    db.session.commit()
    job = _run(db, run_worker, districts, connection=_connection(districts, double).id)
    assert job.status == st.SUCCESSFUL, job.message
    assert job.results["orgUnitsWithoutUid"] == [{"id": unit.id, "name": "District 0"}]
    sent = {v["orgUnit"] for r in double.requests if r["method"] == "POST" for v in r["body"]["dataValues"]}
    assert sent == set(DISTRICTS[1:]) and str(unit.id) not in sent


def test_the_seed_request_forms_datetime_parameters_and_nested_dhis2(app, db, client, districts, api_token, run_worker,
                                                                     double):
    """eo-api's execution request as the seed writes it: `datetime`, `parameters`, the DHIS2 options
    nested under `dhis2`; GET /jobs/{id} carries the import summary and the flow name."""
    connection = _connection(districts, double)
    headers = api_token(districts)
    body = {"inputs": {"datasetId": "chirps-daily", "parameters": ["precipitation"], "datetime": "2024-01-01/2024-01-31",
                       "orgUnitLevel": 3, "aggregation": "mean", "periodType": "MONTHLY",
                       "dhis2": {"dataElementId": ELEMENT, "dryRun": True, "connectionId": connection.id,
                                 "importStrategy": "CREATE_AND_UPDATE"}}}
    response = client.post("/processes/eo-aggregate-import/execution", headers=headers, json=body)
    assert response.status_code == 201, response.get_json()
    job_id = response.get_json()["jobID"]
    run_worker()
    status = client.get(f"/jobs/{job_id}", headers=headers).get_json()
    assert status["status"] == "successful" and status["flowName"] == "eo_aggregate_import_v1"
    assert status["importSummary"]["importCount"]["imported"] == 4
    eo_view = client.get(f"/jobs/{job_id}?f=eo", headers=headers).get_json()
    assert eo_view["flowName"] == "eo_aggregate_import_v1" and eo_view["importSummary"]["status"] == "SUCCESS"
    stored = db.session.get(Job, job_id).inputs
    assert (stored["start"], stored["end"], stored["dataElement"], stored["connection"]) == (
        "2024-01-01", "2024-01-31", ELEMENT, connection.id)
    for inputs, field in (({**body["inputs"], "parameters": ["t2m"]}, "parameters"),
                          ({**body["inputs"], "dhis2": {"colour": "red"}}, "dhis2"),
                          ({**body["inputs"], "start": "2024-01-01"}, "datetime")):
        refused = client.post("/processes/eo-aggregate-import/execution", headers=headers, json={"inputs": inputs})
        assert refused.status_code == 400 and field in json.dumps(refused.get_json()), refused.get_json()


def test_org_units_imported_from_dhis2_keep_their_uids_and_feed_the_import(app, db, make_user, run_worker, double):
    """The hierarchy with geometry from DHIS2's organisationUnits; the EO import then sends those UIDs."""
    from app.services.planning.dhis2_orgunits import import_from_dhis2

    user = make_user()
    project_id = user.project_ids[0]
    db.session.add_all([OrgUnitType(project_id=project_id, name=n, depth=d) for d, n in enumerate(("Country", "District"))])
    db.session.commit()
    double.org_units.clear()
    double.add_org_unit("CountryUid1", "Demo", 1, geometry=_square(18, 3, 4))
    double.add_org_unit("DistrictAa1", "Alpha", 2, "CountryUid1", _square(18, 3, 2))
    double.add_org_unit("DistrictBb2", "Beta", 2, "CountryUid1", _square(20, 3, 2))
    double.add_org_unit("FacilityCc3", "Clinic", 3, "DistrictAa1", {"type": "Point", "coordinates": [18.5, 3.5]})
    connection = _connection(user, double)
    result = import_from_dhis2(connection.id, 2)
    assert (result["fetched"], result["created"]) == (3, 3)
    assert [r for r in double.requests if r["path"] == "/api/organisationUnits"][0]["args"] == {
        "level": "1", "fields": "id,name,level,parent[id],geometry", "paging": "false"}
    alpha = db.session.query(OrgUnit).filter(OrgUnit.name == "Alpha").one()
    assert alpha.source_ref == "dhis2:DistrictAa1" and alpha.geometry["type"] == "Polygon"
    assert db.session.get(OrgUnit, alpha.parent_id).source_ref == "dhis2:CountryUid1"
    assert import_from_dhis2(connection.id, 2)["updated"] == 3  # again: updated, not duplicated
    job = enqueue_job("eo-aggregate-import", _inputs(orgUnitLevel=2, connection=connection.id), launcher=user,
                      project_id=project_id)
    run_worker()
    job = db.session.get(Job, job.id)
    assert job.status == st.SUCCESSFUL, job.message
    sent = {v["orgUnit"] for r in double.requests if r["method"] == "POST" for v in r["body"]["dataValues"]}
    assert sent == {"DistrictAa1", "DistrictBb2"}
    with pytest.raises(ValidationFailed) as caught:
        import_from_dhis2(connection.id, 3)  # no org unit type for level 3
    assert "level(s) 3" in caught.value.message
