"""Org unit and org unit type APIs: filters, paging, creation, and bad input (clear 400s, nothing written)."""
import pytest

from app.models import OrgUnit, OrgUnitType
from app.services.planning.orgunits import create_org_unit, create_org_unit_type
from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn


@pytest.fixture
def coordinator(make_user):
    return make_user(role="coordinator", projects=["Project A"])


@pytest.fixture
def hierarchy(coordinator):
    country_t = create_org_unit_type(coordinator, OrgUnitTypeIn(**{"name": "Country", "depth": 0, "category": "COUNTRY"}))
    region_t = create_org_unit_type(coordinator, OrgUnitTypeIn(**{"name": "Region", "depth": 1, "category": "REGION"}))
    country = create_org_unit(coordinator, OrgUnitIn(**{"name": "Testland", "org_unit_type_id": country_t.id}))
    regions = [create_org_unit(coordinator, OrgUnitIn(**{"name": f"Region {n}", "org_unit_type_id": region_t.id,
                                             "parent_id": country.id})) for n in range(1, 4)]
    return country_t, region_t, country, regions


def test_create_org_unit_computes_path_and_simplifies_geometry(client, api_token, coordinator, hierarchy):
    _, region_t, country, regions = hierarchy
    square = {"type": "Polygon", "coordinates": [[[1.123456789, 2.0], [1.5, 2.0], [1.5, 2.5], [1.123456789, 2.5], [1.123456789, 2.0]]]}
    response = client.post("/api/orgunits/", headers=api_token(coordinator), json={
        "name": "Fresh", "org_unit_type_id": region_t.id, "parent_id": country.id, "geometry": square,
        "latitude": 2.2, "longitude": 1.3, "area_type": "URBAN"})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["path"] == f"{country.id}.{body['id']}"
    assert body["depth"] == 1
    ring = body["geometry"]["coordinates"][0]
    assert all(len(str(x).split(".")[-1]) <= 4 for point in ring for x in point)


def test_list_filters_and_paging(client, api_token, coordinator, hierarchy):
    country_t, region_t, country, regions = hierarchy
    headers = api_token(coordinator)
    by_parent = client.get(f"/api/orgunits/?parent_id={country.id}", headers=headers).get_json()
    assert [u["name"] for u in by_parent["items"]] == ["Region 1", "Region 2", "Region 3"]
    by_type = client.get(f"/api/orgunits/?org_unit_type_id={country_t.id}", headers=headers).get_json()
    assert [u["name"] for u in by_type["items"]] == ["Testland"]
    search = client.get("/api/orgunits/?search=gion 2", headers=headers).get_json()
    assert [u["name"] for u in search["items"]] == ["Region 2"]
    page = client.get("/api/orgunits/?limit=2&page=2", headers=headers).get_json()
    assert page["_meta"] == {"page": 2, "limit": 2, "total": 4, "pages": 2}
    assert "prev" in page["_links"] and "next" not in page["_links"]
    capped = client.get("/api/orgunits/?limit=100000", headers=headers).get_json()
    assert capped["_meta"]["limit"] == 500
    under = client.get(f"/api/orgunits/?under={country.id}", headers=headers).get_json()
    assert under["_meta"]["total"] == 4
    detail = client.get(f"/api/orgunits/{regions[0].id}/", headers=headers).get_json()
    assert detail["parent_id"] == country.id and detail["org_unit_type_name"] == "Region"


@pytest.mark.parametrize("query, field", [("page=0", "page"), ("limit=abc", "limit"), ("parent_id=x", "parent_id")])
def test_bad_query_arguments_are_named(client, api_token, coordinator, query, field):
    response = client.get(f"/api/orgunits/?{query}", headers=api_token(coordinator))
    assert response.status_code == 400
    assert field in response.get_json()["details"]


@pytest.mark.parametrize("payload, fields", [
    ({}, {"name", "org_unit_type_id"}),
    ({"name": "X", "org_unit_type_id": 999999}, {"org_unit_type_id"}),
    ({"name": "X", "org_unit_type_id": "abc"}, {"org_unit_type_id"}),
    ({"name": "X", "org_unit_type_id": "TYPE", "parent_id": 999999}, {"parent_id"}),
    ({"name": "X", "org_unit_type_id": "TYPE", "latitude": 123}, {"latitude"}),
    ({"name": "X", "org_unit_type_id": "TYPE", "area_type": "SUBURBAN"}, {"area_type"}),
    ({"name": "X", "org_unit_type_id": "TYPE", "geometry": {"type": "Polygon", "coordinates": "nope"}}, {"geometry"}),
    ({"name": "x" * 300, "org_unit_type_id": "TYPE"}, {"name"}),
])
def test_bad_org_unit_input_writes_nothing(client, api_token, coordinator, hierarchy, db, payload, fields):
    _, region_t, _, _ = hierarchy
    payload = {k: (region_t.id if v == "TYPE" else v) for k, v in payload.items()}
    before = db.session.query(OrgUnit).count()
    response = client.post("/api/orgunits/", headers=api_token(coordinator), json=payload)
    assert response.status_code == 400
    body = response.get_json()
    assert (set(body["details"]) - {"code"}) == fields
    for field in fields:
        assert field in body["error"]
    assert db.session.query(OrgUnit).count() == before


def test_non_object_body_is_refused(client, api_token, coordinator):
    response = client.post("/api/orgunits/", headers=api_token(coordinator), json=[1, 2])
    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]


def test_agents_cannot_create_org_units(client, api_token, make_user, hierarchy, db):
    _, region_t, country, _ = hierarchy
    agent = make_user(role="agent", projects=["Project A"])
    before = db.session.query(OrgUnit).count()
    response = client.post("/api/orgunits/", headers=api_token(agent),
                           json={"name": "Nope", "org_unit_type_id": region_t.id, "parent_id": country.id})
    assert response.status_code == 403
    assert "MANAGE_ORG_UNITS" in response.get_json()["error"]
    assert db.session.query(OrgUnit).count() == before


def test_org_unit_types_api(client, api_token, coordinator, hierarchy, db):
    country_t, region_t, _, _ = hierarchy
    headers = api_token(coordinator)
    created = client.post("/api/orgunittypes/", headers=headers, json={
        "name": "District", "short_name": "DIS", "depth": 2, "category": "DISTRICT", "sub_unit_type_ids": []})
    assert created.status_code == 201
    listing = client.get("/api/orgunittypes/", headers=headers).get_json()
    assert [t["name"] for t in listing["items"]] == ["Country", "Region", "District"]
    before = db.session.query(OrgUnitType).count()
    bad = client.post("/api/orgunittypes/", headers=headers, json={
        "name": "Region", "depth": -1, "category": "PLANET", "sub_unit_type_ids": [999999]})
    assert bad.status_code == 400  # the schema first: every field of the wrong shape
    assert (set(bad.get_json()["details"]) - {"code"}) == {"depth", "category"}
    taken = client.post("/api/orgunittypes/", headers=headers, json={  # then what only the database knows
        "name": "Region", "depth": 1, "category": "REGION", "sub_unit_type_ids": [999999]})
    assert taken.status_code == 400
    assert (set(taken.get_json()["details"]) - {"code"}) == {"name", "sub_unit_type_ids"}
    assert db.session.query(OrgUnitType).count() == before


def test_org_unit_tree_page_and_lazy_children(client, login, coordinator, hierarchy):
    _, _, country, regions = hierarchy
    login(coordinator)
    page = client.get("/orgunits/").get_data(as_text=True)
    assert "Testland" in page and "Region 1" not in page  # children load lazily
    assert f'/orgunits/{country.id}/children' in page
    children = client.get(f"/orgunits/{country.id}/children", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Region 1" in children and "<html" not in children
    results = client.get("/orgunits/?q=Region 3", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Region 3" in results and "Testland" in results and "<html" not in results  # with its path
    detail = client.get(f"/orgunits/{regions[1].id}").get_data(as_text=True)
    assert "Region 2" in detail and "Testland" in detail


def test_the_tree_opens_a_long_list_of_children_a_page_at_a_time(client, login, coordinator, hierarchy, db):
    _, region_t, country, regions = hierarchy
    db.session.add_all(OrgUnit(project_id=country.project_id, name=f"Unit {n:03d}", org_unit_type_id=region_t.id,
                               parent_id=regions[0].id, path="", depth=2) for n in range(1, 121))
    db.session.flush()
    for unit in db.session.query(OrgUnit).filter(OrgUnit.parent_id == regions[0].id):
        unit.path = f"{regions[0].path}{unit.id}."
    db.session.commit()
    login(coordinator)
    htmx = {"HX-Request": "true"}
    first = client.get(f"/orgunits/{regions[0].id}/children", headers=htmx).get_data(as_text=True)
    assert "Unit 001" in first and "Unit 050" in first and "Unit 051" not in first
    assert "Show 70 more of 120" in first
    more = f"/orgunits/{regions[0].id}/children?page=2"
    assert more in first
    second = client.get(more, headers=htmx).get_data(as_text=True)
    assert "Unit 051" in second and "Unit 100" in second and "Unit 050" not in second and "Show 20 more of 120" in second
    last = client.get(f"/orgunits/{regions[0].id}/children?page=3", headers=htmx).get_data(as_text=True)
    assert "Unit 120" in last and "more of" not in last
    assert "more of" not in client.get(f"/orgunits/{country.id}/children", headers=htmx).get_data(as_text=True)


def test_org_unit_types_page_creates_and_reports_errors(client, login, csrf, coordinator, hierarchy, db):
    login(coordinator)
    bad = client.post("/orgunits/types", data={"name": "", "depth": "-3", "csrf_token": csrf()})
    assert bad.status_code == 400
    assert "is required" in bad.get_data(as_text=True)
    ok = client.post("/orgunits/types", data={"name": "Health facility", "depth": "3", "category": "HF",
                                              "csrf_token": csrf()})
    assert ok.status_code == 302
    assert db.session.query(OrgUnitType).filter_by(name="Health facility").count() == 1
