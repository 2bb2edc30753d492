"""Planning and assignment APIs: both bulk contracts, one-transaction bulk calls, audit, scoping."""
import pytest
from sqlalchemy import select

from app.models import Assignment, AuditLog, Planning, Team
from tests.planning_fixtures import country, planning, units_of  # noqa: F401


def _live(db, planning_id):
    db.session.expire_all()
    return db.session.execute(select(Assignment).where(Assignment.planning_id == planning_id,
                                                       Assignment.deleted_at.is_(None))).scalars().all()


def _district_team(db, country):
    return db.session.execute(select(Team).where(Team.type == "TEAM_OF_USERS").order_by(Team.id)).scalars().first()


def test_planning_crud(client, api_token, country, db):
    headers = api_token(country.coordinator)
    body = {"name": "Polio round", "team": country.root_team.id, "org_unit": country.country.id,
            "started_at": "2027-01-10", "ended_at": "2027-01-20", "pipeline_uuids": ["lqas-sampling"],
            "publishing_status": "published"}
    created = client.post("/api/microplanning/plannings/", headers=headers, json=body)
    assert created.status_code == 201, created.get_json()
    planning = created.get_json()
    assert planning["published_at"] and planning["org_unit_details"]["name"] == country.country.name
    pid = planning["id"]
    assert client.patch(f"/api/microplanning/plannings/{pid}/", headers=headers,
                        json={"description": "house to house"}).get_json()["description"] == "house to house"
    listing = client.get("/api/microplanning/plannings/?publishing_status=published&search=polio", headers=headers).get_json()
    assert [p["id"] for p in listing["items"]] == [pid]
    assert client.delete(f"/api/microplanning/plannings/{pid}/", headers=headers).status_code == 204
    assert client.get(f"/api/microplanning/plannings/{pid}/", headers=headers).status_code == 404
    db.session.expire_all()
    assert db.session.get(Planning, pid).deleted_at is not None


@pytest.mark.parametrize("change, fields", [
    ({"name": ""}, {"name"}),
    ({"team": 999999}, {"team"}),
    ({"org_unit": "x"}, {"org_unit"}),
    ({"started_at": "2027-02-01", "ended_at": "2027-01-01"}, {"ended_at"}),
    ({"started_at": "soon"}, {"started_at"}),
    ({"pipeline_uuids": ["not-a-pipeline"]}, {"pipeline_uuids"}),
    ({"forms": [999999]}, {"forms"}),
    ({"publishing_status": "maybe"}, {"publishing_status"}),
])
def test_bad_planning_input_writes_nothing(client, api_token, country, db, change, fields):
    body = {"name": "P", "team": country.root_team.id, "org_unit": country.country.id, **change}
    before = db.session.query(Planning).count()
    response = client.post("/api/microplanning/plannings/", headers=api_token(country.coordinator), json=body)
    assert response.status_code == 400
    assert {name.split(".")[0] for name in response.get_json()["details"] if name != "code"} == fields  # `pipeline_uuids.0`: its first
    assert db.session.query(Planning).count() == before


def test_iaso_bulk_create_and_delete(client, api_token, country, planning, db):
    headers = api_token(country.coordinator)
    team = _district_team(db, country)
    districts = units_of("DISTRICT", country)[:3]
    response = client.post("/api/microplanning/assignments/bulk_create_assignments/", headers=headers,
                           json={"planning": planning.id, "team": team.id, "org_units": [d.id for d in districts]})
    assert response.status_code == 200, response.get_json()
    assert {a["org_unit"] for a in response.get_json()} == {d.id for d in districts}
    listing = client.get(f"/api/microplanning/assignments/?planning={planning.id}&team={team.id}", headers=headers).get_json()
    assert listing["_meta"]["total"] == 3
    # assigning again to another team moves them, never duplicates
    other = db.session.execute(select(Team).where(Team.type == "TEAM_OF_USERS", Team.id != team.id)).scalars().first()
    client.post("/api/microplanning/assignments/bulk_create_assignments/", headers=headers,
                json={"planning": planning.id, "team": other.id, "org_units": [districts[0].id]})
    live = _live(db, planning.id)
    assert len(live) == 3 and {a.team_id for a in live if a.org_unit_id == districts[0].id} == {other.id}
    deleted = client.post("/api/microplanning/assignments/bulk_delete_assignments/", headers=headers, json={"planning": planning.id})
    assert deleted.get_json()["deleted"] == 3 and _live(db, planning.id) == []
    actions = [row.action for row in db.session.query(AuditLog).filter_by(object_type="planning").order_by(AuditLog.id)]
    assert actions[-3:] == ["bulk_create_assignments", "bulk_create_assignments", "bulk_delete_assignments"]
    assert db.session.query(AuditLog).filter_by(action="bulk_delete_assignments").one().actor_id == country.coordinator.id


def test_shorthand_bulk_create_and_delete(client, api_token, country, planning, db):
    headers = api_token(country.coordinator)
    team = _district_team(db, country)
    user = team.users[0]
    d1, d2 = units_of("DISTRICT", country)[:2]
    response = client.post("/api/assignments/bulk_create_assignments/", headers=headers, json={
        "planning": planning.id, "assignments": [{"org_unit": d1.id, "team": team.id}, {"org_unit": d2.id, "user": user.id}]})
    assert response.status_code == 200 and response.get_json()["created"] == 2
    assert client.delete(f"/api/assignments/?planning={planning.id}", headers=headers).get_json()["deleted"] == 2
    assert _live(db, planning.id) == []


@pytest.mark.parametrize("bad_row, text", [
    ({"org_unit": "OUTSIDE", "team": "TEAM"}, "outside the planning's root"),
    ({"org_unit": "D2"}, "give a team, a user, or both"),
    ({"org_unit": "D2", "team": "FOREIGN_TEAM"}, "not in the planning's team tree"),
    ({"org_unit": "D2", "user": "OUTSIDER"}, "not a member"),
    ({"org_unit": "D1", "team": "TEAM"}, "appears twice"),
])
def test_one_bad_row_writes_nothing_and_is_named(client, api_token, country, planning, db, make_user, bad_row, text):
    from app.services.planning.orgunits import create_org_unit
    from app.schemas.teams import TeamIn
    from app.services.planning.teams import create_team

    headers = api_token(country.coordinator)
    team = _district_team(db, country)
    d1, d2 = units_of("DISTRICT", country)[:2]
    # a district planning: units outside it are refused
    narrow = client.post("/api/microplanning/plannings/", headers=headers, json={
        "name": "Narrow", "team": country.root_team.id, "org_unit": d1.parent_id}).get_json()
    outside = [d for d in units_of("DISTRICT", country) if d.parent_id != d1.parent_id][0]
    foreign = create_team(country.coordinator, TeamIn(name="Other tree", type="TEAM_OF_USERS"))
    outsider = make_user(role="agent", projects=["Demo project"])
    swap = {"OUTSIDE": outside.id, "TEAM": team.id, "USER": team.users[0].id, "D1": d1.id, "D2": d2.id,
            "FOREIGN_TEAM": foreign.id, "OUTSIDER": outsider.id}
    row = {k: swap.get(v, v) for k, v in bad_row.items()}
    target = planning.id if bad_row.get("org_unit") != "OUTSIDE" else narrow["id"]
    response = client.post("/api/assignments/bulk_create_assignments/", headers=headers, json={
        "planning": target, "assignments": [{"org_unit": d1.id, "team": team.id}, row]})
    assert response.status_code == 400, response.get_json()
    body = response.get_json()
    assert "assignments[1]" in body["details"] and text in body["details"]["assignments[1]"][0]
    assert _live(db, planning.id) == [] and _live(db, narrow["id"]) == []


def test_other_projects_coordinator_gets_404(client, api_token, country, planning, make_user):
    stranger = make_user(role="coordinator", projects=["Elsewhere"])
    headers = api_token(stranger)
    assert client.get(f"/api/microplanning/plannings/{planning.id}/", headers=headers).status_code == 404
    assert client.post("/api/microplanning/assignments/bulk_delete_assignments/", headers=headers,
                       json={"planning": planning.id}).status_code == 404
    assert client.get(f"/api/microplanning/assignments/?planning={planning.id}", headers=headers).status_code == 404
    assert client.get("/api/microplanning/plannings/", headers=headers).get_json()["items"] == []


def test_agents_cannot_change_assignments(client, api_token, country, planning, make_user, db):
    from app.services.planning.plannings import publish_planning

    agent = make_user(role="agent", projects=["Demo project"])
    team = _district_team(db, country)
    draft = client.get(f"/api/microplanning/plannings/{planning.id}/", headers=api_token(agent))
    assert draft.status_code == 404  # a draft is the planners' until published
    publish_planning(country.coordinator, planning.id, True)
    response = client.post("/api/microplanning/assignments/bulk_create_assignments/", headers=api_token(agent),
                           json={"planning": planning.id, "team": team.id, "org_units": [units_of("DISTRICT", country)[0].id]})
    assert response.status_code == 403 and _live(db, planning.id) == []


def test_sampling_through_the_api(client, api_token, country, planning, run_worker, db):
    headers = api_token(country.coordinator)
    response = client.post(f"/api/microplanning/plannings/{planning.id}/sample/", headers=headers, json={
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id], "org_unit_type_quantities": [2], "seed": 3})
    assert response.status_code == 201 and response.headers["Location"].startswith("/jobs/")
    run_worker()
    status = client.get(response.headers["Location"] + "?f=json", headers=headers).get_json()
    assert status["status"] == "successful"
    assert client.get(f"/jobs/{status['jobID']}/results", headers=headers).get_json()["assignments_created"] == 2
    bad = client.post(f"/api/microplanning/plannings/{planning.id}/sample/", headers=headers, json={
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id], "org_unit_type_quantities": [0]})
    assert bad.status_code == 400 and [k for k in bad.get_json()["details"] if k != "code"] == ["org_unit_type_quantities.0"]


# --- strict bodies: no bool → int, no float truncation, ids within range (issue 13) ----------------

def _assigned_everywhere(db, country, planning):
    """Planning 1 (the demo's) and the fixture's planning 2 each with a live assignment."""
    from app.schemas.planning import AssignmentRow
    from app.services.planning.assignments import bulk_create

    demo = db.session.get(Planning, 1)
    assert demo is not None and planning.id == 2
    team = _district_team(db, country)
    unit = units_of("DISTRICT", country)[0]
    for target in (demo, planning):
        bulk_create(country.coordinator, target, [AssignmentRow(org_unit=unit.id, team=team.id)])
    return team, unit


@pytest.mark.parametrize("path, body", [
    ("/api/microplanning/assignments/bulk_create_assignments/", {"planning": True, "team": "TEAM", "org_units": ["UNIT"]}),
    ("/api/microplanning/assignments/bulk_create_assignments/", {"planning": 2.7, "team": "TEAM", "org_units": ["UNIT"]}),
    ("/api/microplanning/assignments/bulk_create_assignments/", {"planning": "1", "team": "TEAM", "org_units": ["UNIT"]}),
    ("/api/microplanning/assignments/bulk_delete_assignments/", {"planning": True}),
    ("/api/microplanning/assignments/bulk_delete_assignments/", {"planning": 2.7}),
    ("/api/microplanning/assignments/bulk_delete_assignments/", {"planning": 1.0}),
    ("/api/assignments/bulk_create_assignments/", {"planning": True, "assignments": [{"org_unit": "UNIT", "team": "TEAM"}]}),
])
def test_a_planning_that_is_not_a_whole_number_is_a_400_and_touches_nothing(client, api_token, country, planning, db,
                                                                             path, body):
    team, unit = _assigned_everywhere(db, country, planning)
    body = {k: ([unit.id] if v == ["UNIT"] else team.id if v == "TEAM" else v) for k, v in body.items()}
    if "assignments" in body:
        body["assignments"] = [{"org_unit": unit.id, "team": team.id}]
    before = db.session.query(AuditLog).count()
    response = client.post(path, headers=api_token(country.coordinator), json=body)
    assert response.status_code == 400, response.get_json()
    assert [k for k in response.get_json()["details"] if k != "code"] == ["planning"]
    assert len(_live(db, 1)) == 1 and len(_live(db, planning.id)) == 1
    assert db.session.query(AuditLog).count() == before


def test_the_shorthand_delete_wants_a_planning_id(client, api_token, country, planning, db):
    _assigned_everywhere(db, country, planning)
    headers = api_token(country.coordinator)
    for query in ("planning=true", "planning=2.7", "planning=", "", "planning=99999999999999999999"):
        response = client.delete(f"/api/assignments/?{query}", headers=headers)
        assert response.status_code == 400 and "planning" in response.get_json()["details"], query
    assert len(_live(db, 1)) == 1 and len(_live(db, planning.id)) == 1


@pytest.mark.parametrize("body, field", [
    ({"org_units": [99999999999999999999]}, "org_units.0"),
    ({"org_units": [2**31]}, "org_units.0"),
    ({"org_units": [0]}, "org_units.0"),
    ({"org_units": [True]}, "org_units.0"),
    ({"org_units": []}, "org_units"),
    ({"org_units": "1,2"}, "org_units"),
    ({"org_units": ["UNIT"], "team": 2**40}, "team"),
    ({"org_units": ["UNIT"], "planning": 99999999999999999999}, "planning"),
    ({"org_units": ["UNIT"], "teams": "TEAM"}, "teams"),  # a typo is an error, never dropped
])
def test_bad_ids_in_a_bulk_body_are_a_400_naming_them(client, api_token, country, planning, db, body, field):
    team, unit = _district_team(db, country), units_of("DISTRICT", country)[0]
    body = {"planning": planning.id, "team": team.id, **body}
    body = {k: ([unit.id] if v == ["UNIT"] else team.id if v == "TEAM" else v) for k, v in body.items()}
    if "teams" in body:
        del body["team"]
    response = client.post("/api/microplanning/assignments/bulk_create_assignments/",
                           headers=api_token(country.coordinator), json=body)
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["details"]
    assert _live(db, planning.id) == []


def test_ids_beyond_range_in_paths_are_404_for_every_method(client, api_token, country):
    headers = api_token(country.coordinator)
    for huge in (2**31, 99999999999999999999):
        url = f"/api/microplanning/plannings/{huge}/"
        assert client.get(url, headers=headers).status_code == 404
        assert client.patch(url, headers=headers, json={"name": "x"}).status_code == 404
        assert client.put(url, headers=headers, json={"name": "x"}).status_code == 404
        assert client.delete(url, headers=headers).status_code == 404
        assert client.post(url + "sample/", headers=headers, json={}).status_code == 404
        assert client.patch(f"/api/teams/{huge}/", headers=headers, json={"name": "x"}).status_code == 404
        assert client.delete(f"/api/teams/{huge}/", headers=headers).status_code == 404


def test_the_caller_is_authenticated_before_the_body_is_read(client, country, planning):
    response = client.post("/api/microplanning/assignments/bulk_create_assignments/", json={"planning": True})
    assert response.status_code == 401


def test_planning_aliases_and_what_a_put_may_not_change(client, api_token, country, planning, make_user, db):
    headers = api_token(country.coordinator)
    url = f"/api/microplanning/plannings/{planning.id}/"
    same = client.put(url, headers=headers, json={"team_id": country.root_team.id, "org_unit_id": country.country.id,
                                                  "project": planning.project_id, "started_at": "2027-01-10T00:00:00Z",
                                                  "description": None})
    assert same.status_code == 200, same.get_json()
    assert same.get_json()["started_at"] == "2027-01-10" and same.get_json()["description"] == ""
    both = client.put(url, headers=headers, json={"team": country.root_team.id, "team_id": country.root_team.id})
    assert both.status_code == 400 and [k for k in both.get_json()["details"] if k != "code"] == ["team_id"]
    other = make_user(role="coordinator", projects=["Demo project", "Other"])
    elsewhere = next(p.id for p in other.projects if p.name == "Other")
    moved = client.patch(url, headers=api_token(other), json={"project_id": elsewhere})
    assert moved.status_code == 400 and [k for k in moved.get_json()["details"] if k != "code"] == ["project_id"]
    cleared = client.patch(url, headers=headers, json={"name": None, "team": None})
    assert cleared.status_code == 400 and cleared.get_json()["details"] == {"name": ["is required"], "team": ["is required"],
                                                                     "code": "VALIDATION_FAILED"}
    assert client.get("/api/microplanning/plannings/?publishing_status=maybe", headers=headers).status_code == 400
    assert client.get(f"/api/microplanning/assignments/?planning={planning.id}&order=sideways",
                      headers=headers).status_code == 400
