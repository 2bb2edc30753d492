"""Projects are the tenancy boundary: a user sees only their projects' data."""
import pytest

from app.services.planning.orgunits import create_org_unit, create_org_unit_type
from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn


@pytest.fixture
def two_projects(make_user):
    alice = make_user(projects=["Project A"], username="alice")
    bob = make_user(projects=["Project B"], username="bob")
    type_a = create_org_unit_type(alice, OrgUnitTypeIn(**{"name": "Country"}))
    type_b = create_org_unit_type(bob, OrgUnitTypeIn(**{"name": "Country"}))
    unit_a = create_org_unit(alice, OrgUnitIn(**{"name": "Alphaland", "org_unit_type_id": type_a.id}))
    unit_b = create_org_unit(bob, OrgUnitIn(**{"name": "Betaland", "org_unit_type_id": type_b.id}))
    return alice, bob, unit_a, unit_b


def test_api_lists_only_own_projects_units(client, api_token, two_projects):
    alice, bob, unit_a, unit_b = two_projects
    names = [u["name"] for u in client.get("/api/orgunits/", headers=api_token(alice)).get_json()["items"]]
    assert names == ["Alphaland"]
    assert client.get(f"/api/orgunits/{unit_b.id}/", headers=api_token(alice)).status_code == 404
    assert client.get(f"/api/orgunits/{unit_a.id}/", headers=api_token(alice)).status_code == 200


def test_pages_hide_other_projects_units(client, login, two_projects):
    alice, bob, unit_a, unit_b = two_projects
    login(alice)
    tree = client.get("/orgunits/").get_data(as_text=True)
    assert "Alphaland" in tree and "Betaland" not in tree
    assert client.get(f"/orgunits/{unit_b.id}").status_code == 404
    assert client.get(f"/orgunits/{unit_b.id}/children").status_code == 404
    assert "Betaland" not in client.get("/orgunits/?q=land").get_data(as_text=True)


def test_cannot_create_under_another_projects_parent(client, api_token, two_projects, db):
    from app.models import OrgUnit

    alice, bob, unit_a, unit_b = two_projects
    before = db.session.query(OrgUnit).count()
    response = client.post("/api/orgunits/", headers=api_token(alice),
                           json={"name": "Sneaky", "org_unit_type_id": unit_a.org_unit_type_id, "parent_id": unit_b.id})
    assert response.status_code == 400
    assert "parent_id" in response.get_json()["details"]
    assert db.session.query(OrgUnit).count() == before
