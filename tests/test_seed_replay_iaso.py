"""Seed S1 (`000_…`, Iaso planning ↔ OpenHEXA) replayed: every concrete request of the document, sent as
written (ids adapted to this database), gets the documented outcome."""
from sqlalchemy import select

from app.models import Assignment, Job, Team
from tests.openhexa_double import PIPELINE_ID, VERSION_ID, configured, double  # noqa: F401
from tests.planning_fixtures import country, planning, units_of  # noqa: F401


def _live(db, planning_id):
    db.session.expire_all()
    return db.session.execute(select(Assignment).where(Assignment.planning_id == planning_id,
                                                       Assignment.deleted_at.is_(None))).scalars().all()


def test_config_endpoint_as_the_seed_shows_it(client, api_token, configured):
    body = client.get("/api/openhexa/pipelines/config/", headers=api_token(configured)).get_json()
    assert body == {"configured": True, "lqas_pipeline_code": "fieldflow-lqas"}


def test_launch_then_the_pipelines_own_calls(client, db, api_token, configured, double, run_worker, country, planning):
    from app.services.planning import openhexa as svc

    svc.get_config().poll_delay_seconds = 30
    db.session.commit()
    headers = api_token(configured)
    region, district = country.types["REGION"].id, country.types["DISTRICT"].id
    excluded = units_of("REGION", country)[:2]
    launch = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=headers, json={
        "version": VERSION_ID,
        "config": {"planning_id": planning.id, "task_id": 456,
                   "org_unit_type_sequence_identifiers": [region, district],
                   "org_unit_type_quantities": [2, 3],
                   "org_unit_type_exceptions": [f"{excluded[0].id},{excluded[1].id}", ""]}})
    assert launch.status_code == 201, launch.get_json()
    task = launch.get_json()["task"]
    assert isinstance(task["id"], int) and task["status"] == "QUEUED"
    run_worker()
    sent = double.last_run()["config"]
    # the seed's pipeline does int(task_id) before any HTTP call
    assert int(sent["task_id"]) == task["id"] and isinstance(sent["task_id"], int)
    assert sent["planning_id"] == planning.id and sent["org_unit_type_quantities"] == [2, 3]
    pipeline = {"Authorization": f"Bearer {sent['connection_token']}"}

    # Update Task Status (Pipeline → Iaso), as written
    patch = client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=pipeline, json={
        "task_id": sent["task_id"], "progress_message": "Pipeline completed successfully", "progress_value": 100,
        "end_value": 100, "result_data": {"assignments_created": 24, "org_units_selected": [], "teams_assigned": []}})
    assert patch.status_code == 200, patch.get_json()
    reported = patch.get_json()["task"]
    assert reported["id"] == task["id"] and reported["progress_value"] == 100
    assert reported["result"]["assignments_created"] == 24
    # the optional status, in the seed's vocabulary (EXPORTED included)
    for status in ("RUNNING", "EXPORTED", "queued"):
        answer = client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=pipeline,
                              json={"task_id": task["id"], "status": status})
        assert answer.status_code == 200, (status, answer.get_json())
        assert answer.get_json()["task"]["status"] == "RUNNING"  # OpenHEXA, not the pipeline, ends the run
    # the job's UUID still works as the task id
    job_uuid = db.session.execute(select(Job.id).where(Job.number == task["id"])).scalar_one()
    assert client.patch(f"/api/openhexa/pipelines/{PIPELINE_ID}/", headers=pipeline,
                        json={"task_id": job_uuid, "progress_value": 5}).status_code == 200


def test_launch_validates_the_sampling_before_anything_is_sent(client, db, api_token, configured, double, planning):
    response = client.post(f"/api/openhexa/pipelines/{PIPELINE_ID}/launch/", headers=api_token(configured), json={
        "version": VERSION_ID,
        "config": {"planning_id": planning.id, "task_id": 456, "org_unit_type_sequence_identifiers": [398, 399, 400],
                   "org_unit_type_quantities": [2, 3, 4], "org_unit_type_exceptions": ["12098,108033", "", ""]}})
    assert response.status_code == 400
    body = response.get_json()
    assert "org_unit_type_sequence_identifiers" in body["details"] and body["details"]["code"] == "VALIDATION_FAILED"
    assert db.session.query(Job).count() == 0 and double.runs == {}


def test_assignment_calls_as_written(client, db, api_token, country, planning):
    headers = api_token(country.coordinator)
    teams = db.session.execute(select(Team).where(Team.type == "TEAM_OF_USERS").order_by(Team.id)).scalars().all()
    first, second = teams[0], teams[1]
    d1, d2 = units_of("DISTRICT", country)[:2]
    created = client.post("/api/assignments/bulk_create_assignments/", headers=headers, json={
        "planning": planning.id,
        "assignments": [{"org_unit": d1.id, "team": first.id, "user": None},
                        {"org_unit": d2.id, "team": second.id, "user": second.users[0].id}]})
    assert created.status_code == 200, created.get_json()
    rows = {a.org_unit_id: (a.team_id, a.user_id) for a in _live(db, planning.id)}
    assert rows == {d1.id: (first.id, None), d2.id: (second.id, second.users[0].id)}
    listed = client.get(f"/api/microplanning/assignments/?planning={planning.id}", headers=headers).get_json()
    one = listed["items"][0] if "items" in listed else listed[0]
    assert one["created_by"] == country.coordinator.id and one["updated_at"]
    iaso = client.post("/api/microplanning/assignments/bulk_create_assignments/", headers=headers,
                       json={"planning": planning.id, "team": first.id, "org_units": [d1.id]})
    assert iaso.status_code == 200
    deleted = client.delete(f"/api/assignments/?planning={planning.id}", headers=headers)
    assert deleted.status_code == 200
    body = deleted.get_json()
    assert body["deleted_count"] == 2 and body["planning_id"] == planning.id and body["message"]
    assert _live(db, planning.id) == []


def test_a_user_outside_the_team_named_with_it_is_refused(client, db, api_token, country, planning):
    teams = db.session.execute(select(Team).where(Team.type == "TEAM_OF_USERS").order_by(Team.id)).scalars().all()
    d1 = units_of("DISTRICT", country)[0]
    outsider = next(u for u in teams[1].users if u not in teams[0].users)
    response = client.post("/api/assignments/bulk_create_assignments/", headers=api_token(country.coordinator), json={
        "planning": planning.id, "assignments": [{"org_unit": d1.id, "team": teams[0].id, "user": outsider.id}]})
    assert response.status_code == 400
    body = response.get_json()
    assert set(body) == {"error", "details"} and "assignments[0]" in body["details"]
    assert body["details"]["code"] == "VALIDATION_FAILED" and _live(db, planning.id) == []


def test_the_pipeline_checks_the_team_hierarchy_before_sampling():
    import pytest

    from pipelines.lqas.lqas_core import HierarchyMismatch, check_hierarchy

    tree = {("team", 1, "Country team"): [("team", 2, "North")], ("team", 2, "North"): [("user", 3, "ama")]}
    check_hierarchy(("team", 1, "Country team"), 2, lambda entity: tree.get(entity, []))
    with pytest.raises(HierarchyMismatch, match="too shallow for 3 levels"):
        check_hierarchy(("team", 1, "Country team"), 3, lambda entity: tree.get(entity, []))
