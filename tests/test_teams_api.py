"""Teams API and pages: hierarchy rules, members, colour, bad input writes nothing."""
import pytest

from app.models import Team
from app.schemas.teams import TeamIn
from app.services.planning.teams import create_team


@pytest.fixture
def coordinator(make_user):
    return make_user(role="coordinator", projects=["Project A"])


@pytest.fixture
def tree(coordinator, make_user):
    field1 = make_user(role="agent", projects=["Project A"], username="field1")
    field2 = make_user(role="agent", projects=["Project A"], username="field2")
    root = create_team(coordinator, TeamIn(name="National", type="TEAM_OF_TEAMS", colour="#112233"))
    district = create_team(coordinator, TeamIn(name="District A", type="TEAM_OF_USERS", parent_id=root.id,
                                               user_ids=[field1.id, field2.id], manager_id=field1.id))
    return root, district, field1, field2


def test_team_tree_paths_members_and_listing(client, api_token, coordinator, tree):
    root, district, field1, field2 = tree
    headers = api_token(coordinator)
    body = client.get(f"/api/teams/{district.id}/", headers=headers).get_json()
    assert body["path"] == f"{root.id}.{district.id}"
    assert [u["username"] for u in body["users"]] == ["field1", "field2"]
    assert body["manager"]["username"] == "field1"
    subs = client.get(f"/api/teams/?parent_id={root.id}", headers=headers).get_json()
    assert [t["name"] for t in subs["items"]] == ["District A"]
    roots = client.get("/api/teams/?roots=1", headers=headers).get_json()
    assert [t["name"] for t in roots["items"]] == ["National"]


@pytest.mark.parametrize("payload, fields", [
    ({}, {"name", "type"}),
    ({"name": "T", "type": "TEAM_OF_CATS"}, {"type"}),
    ({"name": "T", "type": "TEAM_OF_USERS", "parent_id": "DISTRICT"}, {"parent_id"}),
    ({"name": "T", "type": "TEAM_OF_TEAMS", "user_ids": ["FIELD1"]}, {"user_ids"}),
    ({"name": "T", "type": "TEAM_OF_USERS", "colour": "blue"}, {"colour"}),
    ({"name": "national", "type": "TEAM_OF_TEAMS"}, {"name"}),
    ({"name": "T", "type": "TEAM_OF_USERS", "manager_id": 999999}, {"manager_id"}),
    ({"name": "T", "type": "TEAM_OF_USERS", "user_ids": "1,2"}, {"user_ids"}),
])
def test_bad_team_input_writes_nothing(client, api_token, coordinator, tree, db, payload, fields):
    root, district, field1, _ = tree
    swap = {"DISTRICT": district.id, "FIELD1": field1.id}
    payload = {k: ([swap.get(x, x) for x in v] if isinstance(v, list) else swap.get(v, v)) for k, v in payload.items()}
    before = db.session.query(Team).count()
    response = client.post("/api/teams/", headers=api_token(coordinator), json=payload)
    assert response.status_code == 400, response.get_json()
    assert (set(response.get_json()["details"]) - {"code"}) == fields
    assert db.session.query(Team).count() == before


def test_members_must_belong_to_the_project(client, api_token, coordinator, make_user, db):
    outsider = make_user(role="agent", projects=["Project B"])
    response = client.post("/api/teams/", headers=api_token(coordinator),
                           json={"name": "T", "type": "TEAM_OF_USERS", "user_ids": [outsider.id]})
    assert response.status_code == 400
    assert "user_ids" in response.get_json()["details"]
    assert db.session.query(Team).count() == 0


def test_update_and_soft_delete(client, api_token, coordinator, tree, db):
    root, district, field1, field2 = tree
    headers = api_token(coordinator)
    updated = client.patch(f"/api/teams/{district.id}/", headers=headers, json={"colour": "#00ff00", "user_ids": [field2.id]})
    assert updated.status_code == 200
    assert updated.get_json()["colour"] == "#00ff00"
    assert [u["username"] for u in updated.get_json()["users"]] == ["field2"]
    assert client.patch(f"/api/teams/{district.id}/", headers=headers, json={"type": "TEAM_OF_TEAMS"}).status_code == 400
    assert client.delete(f"/api/teams/{root.id}/", headers=headers).status_code == 409  # has a sub-team
    assert client.delete(f"/api/teams/{district.id}/", headers=headers).status_code == 204
    assert client.get(f"/api/teams/{district.id}/", headers=headers).status_code == 404
    db.session.expire_all()
    assert db.session.get(Team, district.id).deleted_at is not None  # kept, soft-deleted


def test_other_projects_teams_are_invisible(client, api_token, make_user, tree):
    root, district, _, _ = tree
    stranger = make_user(role="coordinator", projects=["Project B"])
    assert client.get(f"/api/teams/{district.id}/", headers=api_token(stranger)).status_code == 404
    assert client.get("/api/teams/", headers=api_token(stranger)).get_json()["items"] == []


def test_team_pages(client, login, csrf, coordinator, tree, db):
    root, district, field1, field2 = tree
    login(coordinator)
    index = client.get("/teams/").get_data(as_text=True)
    assert "National" in index and "District A" in index and "#112233" in index
    detail = client.get(f"/teams/{district.id}").get_data(as_text=True)
    assert "field1" in detail and "field2" in detail
    saved = client.post(f"/teams/{district.id}", data={"name": "District A", "colour": "#abcdef", "members": "1",
                                                        "user_ids": [str(field1.id)], "csrf_token": csrf()})
    assert saved.status_code == 302
    db.session.expire_all()
    team = db.session.get(Team, district.id)
    assert team.colour == "#abcdef" and [u.username for u in team.users] == ["field1"]
    bad = client.post("/teams/new", data={"name": "", "type": "TEAM_OF_USERS", "csrf_token": csrf()})
    assert bad.status_code == 400 and "is required" in bad.get_data(as_text=True)
    created = client.post("/teams/new", data={"name": "District B", "type": "TEAM_OF_USERS", "parent_id": str(root.id),
                                              "colour": "#123456", "csrf_token": csrf()})
    assert created.status_code == 302


def test_team_pages_for_someone_without_manage_teams(client, login, csrf, tree, db):
    """They see the teams read-only; the new-team form is refused like its submission."""
    root, district, field1, _ = tree
    login(field1)
    assert "New team" not in client.get("/teams/").get_data(as_text=True)
    detail = client.get(f"/teams/{district.id}").get_data(as_text=True)
    assert "District A" in detail and "Add sub-team" not in detail and ">Save<" not in detail
    assert client.get(f"/teams/new?parent_id={root.id}").status_code == 403
    assert client.post("/teams/new", data={"name": "Mine", "type": "TEAM_OF_USERS", "csrf_token": csrf()}
                       ).status_code == 403
    assert client.post(f"/teams/{district.id}", data={"name": "Renamed", "csrf_token": csrf()}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Team, district.id).name == "District A"


def test_strict_team_input(client, api_token, coordinator, tree, db):
    root, district, field1, _ = tree
    headers = api_token(coordinator)
    created = client.post("/api/teams/", headers=headers, json={"name": "C", "type": "TEAM_OF_USERS", "color": "#010203",
                                                                "parent_id": root.id})
    assert created.status_code == 201 and created.get_json()["colour"] == "#010203"  # `color` is read as `colour`
    for body, field in (({"name": "D", "type": "TEAM_OF_USERS", "parent_id": True}, "parent_id"),
                        ({"name": "D", "type": "TEAM_OF_USERS", "manager_id": 2.5}, "manager_id"),
                        ({"name": "D", "type": "TEAM_OF_USERS", "user_ids": [99999999999999999999]}, "user_ids.0"),
                        ({"name": "D", "type": "TEAM_OF_USERS", "colour": "#010203", "color": "#010203"}, "color"),
                        ({"name": "D", "type": "TEAM_OF_USERS", "members": [field1.id]}, "members"),
                        ({"name": "D" * 161, "type": "TEAM_OF_USERS"}, "name")):
        response = client.post("/api/teams/", headers=headers, json=body)
        assert response.status_code == 400 and field in response.get_json()["details"], body
    assert db.session.query(Team).count() == 3
    cleared = client.patch(f"/api/teams/{district.id}/", headers=headers, json={"manager_id": None, "description": None})
    assert cleared.status_code == 200 and cleared.get_json()["manager"] is None
    unchanged = client.patch(f"/api/teams/{district.id}/", headers=headers, json={"type": "TEAM_OF_USERS",
                                                                                  "parent_id": root.id})
    assert unchanged.status_code == 200  # the fixed fields may be sent as they are
    assert client.get("/api/teams/?type=TEAM_OF_CATS", headers=headers).status_code == 400
    assert client.get("/api/teams/?roots=maybe", headers=headers).status_code == 400


def test_the_team_form_uses_the_api_schema_and_a_blank_manager_clears(client, login, csrf, coordinator, tree, db):
    root, district, field1, _ = tree
    login(coordinator)
    saved = client.post(f"/teams/{district.id}", data={"name": "District A", "description": "", "colour": "#abcdef",
                                                        "manager_id": "", "csrf_token": csrf()})
    assert saved.status_code == 302
    db.session.expire_all()
    assert db.session.get(Team, district.id).manager_id is None
    bad = client.post(f"/teams/{district.id}", data={"name": "", "colour": "#abcdef", "csrf_token": csrf()})
    assert bad.status_code == 400 and "is required" in bad.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Team, district.id).name == "District A"
