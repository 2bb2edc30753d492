"""Planning pages: list, form, map page (full and partial), click-to-assign, dialog, runs."""
import gzip
import json
import re

from sqlalchemy import select

from app.models import Assignment, OrgUnit, Planning, Team
from app.schemas.planning import AssignmentRow
from tests.planning_fixtures import country, planning, units_of  # noqa: F401


def test_list_and_create_form(client, login, csrf, country, db):
    login(country.coordinator)
    bad = client.post("/plannings/new", data={"name": "", "csrf_token": csrf()})
    assert bad.status_code == 400
    text = bad.get_data(as_text=True)
    assert "is required" in text and db.session.query(Planning).count() == 1  # only the demo planning
    ok = client.post("/plannings/new", data={"name": "Measles", "team_id": country.root_team.id,
                                             "org_unit_id": country.country.id, "pipeline_uuids": "lqas-sampling",
                                             "csrf_token": csrf()})
    assert ok.status_code == 302
    listing = client.get("/plannings/?q=meas").get_data(as_text=True)
    assert "Measles" in listing and "draft" in listing
    partial = client.get("/plannings/?q=zzz", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in partial and "No plannings match" in partial


def test_map_page_shows_coloured_shapes_legend_and_tables(client, login, country, planning, run_worker, db):
    from app.services.planning.sampling import launch_sampling

    launch_sampling(country.coordinator, planning.id, {
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id, country.types["DISTRICT"].id],
        "org_unit_type_quantities": [2, 1], "seed": 5})
    run_worker()
    login(country.coordinator)
    page = client.get(f"/plannings/{planning.id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "cdn" not in html.lower() and re.search(r"vendor/leaflet-1.9.4/leaflet\.[0-9a-f]{12}\.js", html)
    assert "Launch sample" in html
    live = db.session.execute(select(Assignment).where(Assignment.planning_id == planning.id)).scalars().all()
    team = db.session.get(Team, live[0].team_id)
    lookups = json.loads(re.search(r'<script type="application/json" class="map-lookups">(.*?)</script>', html).group(1))
    assert lookups["assignees"][f"team:{team.id}"]["colour"] == team.colour  # shapes wear their team's colour
    assert live[0].org_unit_id in lookups["assigned"][f"team:{team.id}"] and lookups["unassigned"] == "#b8bec9"
    assert team.name in html and "2 assigned" in html
    # The geometry comes from its own URL, compact (integers, first point then differences) and revalidated.
    shapes = client.get(lookups["shapes"], headers={"Accept-Encoding": "gzip"})
    assert shapes.status_code == 200 and shapes.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(shapes.data))
    unit = next(u for u in body["units"] if u[0] == live[0].org_unit_id)
    stored = db.session.get(OrgUnit, unit[0]).geometry
    ring = unit[3]["coordinates"][0] if unit[3]["type"] == "Polygon" else unit[3]["coordinates"][0][0]
    first = (stored["coordinates"][0] if stored["type"] == "Polygon" else stored["coordinates"][0][0])
    assert all(isinstance(v, int) for v in ring)
    assert [ring[0] / body["scale"], ring[1] / body["scale"]] == first[0][:2]
    assert [(ring[0] + ring[2]) / body["scale"], (ring[1] + ring[3]) / body["scale"]] == first[1][:2]
    assert body["borders"] and unit[2] in {int(k) for k in body["parents"]}
    again = client.get(lookups["shapes"], headers={"Accept-Encoding": "gzip", "If-None-Match": shapes.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    partial = client.get(f"/plannings/{planning.id}?type={country.types['REGION'].id}", headers={"HX-Request": "true"})
    assert partial.status_code == 200 and "<html" not in partial.get_data(as_text=True)
    assert "Vary" in partial.headers and "map-lookups" in partial.get_data(as_text=True)


def test_click_to_assign_and_unassign(client, login, csrf, country, planning, db):
    login(country.coordinator)
    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.name)).scalars().first()
    region = units_of("REGION", country)[0]
    token = csrf()
    response = client.post(f"/plannings/{planning.id}/map/assign", data={"org_unit_id": region.id, "assignee": f"team:{team.id}"},
                           headers={"HX-Request": "true", "X-CSRFToken": token})
    assert response.status_code == 200
    trigger = json.loads(response.headers["HX-Trigger"])["assignment-changed"]
    assert trigger == {"org_unit": region.id, "assignee": f"team:{team.id}"}
    assert "1 assigned" in response.get_data(as_text=True)
    again = client.post(f"/plannings/{planning.id}/map/assign", data={"org_unit_id": region.id, "assignee": f"team:{team.id}"},
                        headers={"HX-Request": "true", "X-CSRFToken": token})
    assert json.loads(again.headers["HX-Trigger"])["assignment-changed"]["assignee"] is None
    none = client.post(f"/plannings/{planning.id}/map/assign", data={"org_unit_id": region.id, "assignee": ""},
                       headers={"HX-Request": "true", "X-CSRFToken": token})
    assert none.status_code == 400 and none.headers["HX-Retarget"] == "#toasts"
    db.session.expire_all()
    assert db.session.query(Assignment).filter(Assignment.deleted_at.is_(None)).count() == 0


def test_sample_dialog_errors_then_launch_and_rerun(client, login, csrf, country, planning, run_worker, db):
    login(country.coordinator)
    dialog = client.get(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "Region" in dialog and "Level 1" in dialog  # level-1 types are the root type's sub-types
    level = client.get(f"/plannings/{planning.id}/sample/level?index=1&parent_type={country.types['REGION'].id}").get_data(as_text=True)
    assert "District" in level and "Region" not in level
    units = client.get(f"/plannings/{planning.id}/sample/units?type={country.types['REGION'].id}&q={units_of('REGION', country)[0].name[:3]}&index=0")
    assert units_of("REGION", country)[0].name in units.get_data(as_text=True)
    token = csrf()
    bad = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": token},
                      data={"level_index": "0", "type_0": country.types["REGION"].id, "quantity_0": "0"})
    assert bad.status_code == 422 and "must be positive" in bad.get_data(as_text=True)
    ok = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": token},
                     data={"level_index": ["0", "1"], "type_0": country.types["REGION"].id, "quantity_0": "2",
                           "type_1": country.types["DISTRICT"].id, "quantity_1": "1", "criteria_1": "", "seed": "8"})
    assert ok.status_code == 200 and 'hx-trigger="every 2s"' in ok.get_data(as_text=True)
    run_worker()
    runs = client.get(f"/plannings/{planning.id}/runs").get_data(as_text=True)
    assert "successful" in runs and "Region × 2" in runs and ">8<" in runs
    from app.models import Job

    job = db.session.query(Job).one()
    rerun = client.get(f"/plannings/{planning.id}/sample?rerun={job.id}").get_data(as_text=True)
    assert 'value="8"' in rerun and 'name="quantity_1" min="1" value="1"' in rerun


def test_launch_asks_before_replacing_assignments_counted_at_launch(client, login, csrf, country, planning, db):
    """Units assigned by hand after the page (or the dialog) loaded are counted when the launch is
    posted; the sample starts only once that exact number is confirmed."""
    from app.models import Job
    from app.services.planning.assignments import bulk_create

    login(country.coordinator)
    page = client.get(f"/plannings/{planning.id}").get_data(as_text=True)
    assert "hx-confirm" not in page.split('id="launch-sample"')[1].split(">")[0]  # not decided at page load
    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id)).scalars().first()
    regions = units_of("REGION", country)
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=r.id, team=team.id) for r in regions[:2]])
    form = {"level_index": "0", "type_0": country.types["REGION"].id, "quantity_0": "2", "seed": "4"}
    headers = {"HX-Request": "true", "X-CSRFToken": csrf()}
    asked = client.post(f"/plannings/{planning.id}/sample", headers=headers, data=form)
    text = asked.get_data(as_text=True)
    assert asked.status_code == 422 and "This planning has 2 assignments, 2 of them made by hand" in text
    assert 'name="replace" value="2"' in text and 'name="seed"' in text and 'value="4"' in text  # kept as typed
    assert "Replace 2 assignments and launch" in text and db.session.query(Job).count() == 0
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=regions[2].id, team=team.id)])  # one more meanwhile
    again = client.post(f"/plannings/{planning.id}/sample", headers=headers, data={**form, "replace": "2"})
    assert again.status_code == 422 and "This planning has 3 assignments" in again.get_data(as_text=True)
    assert db.session.query(Job).count() == 0
    launched = client.post(f"/plannings/{planning.id}/sample", headers=headers, data={**form, "replace": "3"})
    assert launched.status_code == 200 and 'hx-trigger="every 2s"' in launched.get_data(as_text=True)
    assert db.session.query(Job).count() == 1


def test_sample_dialog_refuses_exclusions_that_are_not_ids(client, login, csrf, country, planning, db):
    """A hostile or broken dialog posting "²" or an id beyond any row: named, the dialog again, nothing queued."""
    from app.models import Job

    login(country.coordinator)
    region = country.types["REGION"].id
    for junk in ("²", "99999999999999999999", "a\u0661"):
        bad = client.post(f"/plannings/{planning.id}/sample", headers={"HX-Request": "true", "X-CSRFToken": csrf()},
                          data={"level_index": "0", "type_0": region, "quantity_0": "1", "exceptions_0": junk})
        assert bad.status_code == 422, (junk, bad.status_code)
        assert "is not an org unit id" in bad.get_data(as_text=True)
    assert db.session.query(Job).count() == 0


def test_delete_assignments_and_scoping(client, login, csrf, country, planning, make_user, db, web_app):
    from app.services.planning.assignments import bulk_create

    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id)).scalars().first()
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=units_of("REGION", country)[0].id, team=team.id)])
    login(country.coordinator)
    assert client.post(f"/plannings/{planning.id}/assignments/delete", data={"csrf_token": csrf()}).status_code == 302
    db.session.expire_all()
    assert db.session.query(Assignment).filter(Assignment.deleted_at.is_(None)).count() == 0
    stranger_client = web_app.test_client()
    login(make_user(role="coordinator", projects=["Elsewhere"]), test_client=stranger_client)
    assert stranger_client.get(f"/plannings/{planning.id}").status_code == 404
    assert stranger_client.get(f"/plannings/{planning.id}/runs").status_code == 404


def test_publish_toggle(client, login, csrf, country, planning, db):
    login(country.coordinator)
    client.post(f"/plannings/{planning.id}/publish", data={"published": "1", "csrf_token": csrf()})
    db.session.expire_all()
    assert db.session.get(Planning, planning.id).published_at is not None


def test_assignment_table_runs_and_assignees_as_page_and_partial(client, login, country, planning, db):
    from app.services.planning.assignments import bulk_create

    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id)).scalars().first()
    regions = units_of("REGION", country)[:2]
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=r.id, team=team.id) for r in regions])
    login(country.coordinator)
    hx = {"HX-Request": "true"}
    table = client.get(f"/plannings/{planning.id}/assignments?sort=-org_unit")
    html = table.get_data(as_text=True)
    assert table.status_code == 200 and "<html" in html and "Assignments · Round 1" in html
    names = sorted(r.name for r in regions)
    assert html.index(names[1]) < html.index(names[0])  # sorted by org unit, descending
    partial = client.get(f"/plannings/{planning.id}/assignments?sort=org_unit&page=1", headers=hx)
    text = partial.get_data(as_text=True)
    assert "<html" not in text and 'id="assignment-table"' in text and "HX-Request" in partial.headers["Vary"]
    assert text.index(names[0]) < text.index(names[1])
    runs = client.get(f"/plannings/{planning.id}/runs", headers=hx)
    assert "<html" not in runs.get_data(as_text=True) and "No sampling runs yet" in runs.get_data(as_text=True)
    assignees = client.get(f"/plannings/{planning.id}/assignees", headers=hx).get_data(as_text=True)
    assert 'id="assignees"' in assignees and "2 assigned" in assignees and 'name="assignee"' in assignees


def test_only_planners_open_the_form_and_the_sampling_dialog(client, login, country, planning, make_user):
    from app.services.planning.plannings import publish_planning

    publish_planning(country.coordinator, planning.id, True)  # agents see published plannings only
    agent = make_user(role="agent", projects=["Demo project"])
    login(agent)
    page = client.get(f"/plannings/{planning.id}").get_data(as_text=True)
    assert "Round 1" in page and "launch-sample" not in page and 'name="assignee"' not in page
    for url in ("/plannings/new", f"/plannings/{planning.id}/edit", "/plannings/pipeline-choices",
                f"/plannings/{planning.id}/sample", f"/plannings/{planning.id}/sample/level",
                f"/plannings/{planning.id}/sample/units?type=1&q=a"):
        assert client.get(url).status_code == 403, url


def test_the_edit_form_uses_the_api_schema_and_a_blank_field_clears(client, login, csrf, country, planning, db):
    """The form and `PUT /api/microplanning/plannings/<id>/` accept the same things (PlanningChanges)."""
    from app.schemas.planning import PlanningChanges
    from app.services.planning.plannings import update_planning
    from datetime import date

    update_planning(country.coordinator, planning.id, PlanningChanges(description="door to door",
                                                                      started_at=date(2027, 1, 1)))
    login(country.coordinator)
    form = {"name": "Round 1", "description": "", "team_id": str(country.root_team.id),
            "org_unit_id": str(country.country.id), "started_at": "", "ended_at": "", "forms": [],
            "pipeline_uuids": ["lqas-sampling"], "csrf_token": csrf()}
    assert client.post(f"/plannings/{planning.id}/edit", data=form).status_code == 302
    db.session.expire_all()
    saved = db.session.get(Planning, planning.id)
    assert saved.description == "" and saved.started_at is None
    bad = client.post(f"/plannings/{planning.id}/edit", data={**form, "team_id": "", "name": "",
                                                               "ended_at": "2027-13-40"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert html.count("is required") == 2 and "valid date" in html  # team and name, beside their fields
    db.session.expire_all()
    assert db.session.get(Planning, planning.id).name == "Round 1"


def test_agents_see_published_plannings_only_and_their_own_assignments(client, login, country, planning, make_user, db):
    from app.services.planning.assignments import bulk_create
    from app.services.planning.plannings import publish_planning

    agent = make_user("agent", projects=["Demo project"], username="fieldagent")
    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.name)).scalars().first()
    team.users.append(agent)
    db.session.commit()
    region = units_of("REGION", country)[0]
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=region.id, team=team.id)])
    login(agent)
    assert client.get(f"/plannings/{planning.id}").status_code == 404  # a draft is the planners'
    assert "Round 1" not in client.get("/plannings/").get_data(as_text=True)
    assert region.name not in client.get("/plannings/mine").get_data(as_text=True)
    publish_planning(country.coordinator, planning.id, True)
    assert client.get(f"/plannings/{planning.id}").status_code == 200
    mine = client.get("/plannings/mine").get_data(as_text=True)
    assert "Round 1" in mine and region.name in mine and f"team {team.name}" in mine
    assert client.get(f"/plannings/{planning.id}/assignments.csv").status_code == 403  # exports are the planners'


def _map_lookups(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" class="map-lookups">(.*?)</script>', html, re.S).group(1))


def test_an_agent_sees_their_own_units_on_a_map_of_published_plannings(client, login, country, planning, make_user, db):
    from app.schemas.planning import PlanningIn
    from app.services.planning.assignments import bulk_create
    from app.services.planning.plannings import create_planning, publish_planning

    agent = make_user("agent", projects=["Demo project"], username="mapagent")
    teams = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.name)).scalars().all()
    mine, others = teams[0], teams[1]
    mine.users.append(agent)
    db.session.commit()
    regions = units_of("REGION", country)
    district = units_of("DISTRICT", country, under=regions[2])[0]
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=regions[0].id, team=mine.id),
                                                AssignmentRow(org_unit=regions[1].id, team=others.id),
                                                AssignmentRow(org_unit=district.id, user=agent.id)])
    draft = create_planning(country.coordinator, PlanningIn(name="Draft round", team=country.root_team.id,
                                                            org_unit=country.country.id, pipeline_uuids=["lqas-sampling"]))
    bulk_create(country.coordinator, draft, [AssignmentRow(org_unit=regions[3].id, team=mine.id)])
    login(agent)

    before = client.get("/plannings/mine/map").get_data(as_text=True)  # Round 1 is a draft still
    assert "Nothing is assigned to you in a published planning." in before and "map-lookups" not in before
    assert client.get("/plannings/mine/map/shapes").get_json()["units"] == []
    publish_planning(country.coordinator, planning.id, True)

    page = client.get("/plannings/mine/map").get_data(as_text=True)
    assert '<a class="chip active" href="/plannings/mine/map" aria-current="page">Map</a>' in page
    assert '<a class="chip" href="/plannings/mine">List</a>' in page and "leaflet-1.9.4/leaflet" in page
    assert 'href="/plannings/mine" class="active">My assignments</a>' in page  # in the menu
    lookups = _map_lookups(page)
    by_unit = {unit: lookups["assignees"][key]["name"] for key, units in lookups["assigned"].items() for unit in units}
    assert by_unit == {regions[0].id: f"Round 1 (team {mine.name})", district.id: "Round 1 (you)"}
    assert '</span> Round 1 <span class="muted">(2)</span></li>' in page and "2 units on the map" in page  # the legend
    assert "Draft round" not in page and regions[1].name not in page
    shapes = client.get(lookups["shapes"])
    assert shapes.headers["Cache-Control"] == "no-cache, private"
    body = shapes.get_json()
    assert {u[0]: u[1] for u in body["units"]} == {regions[0].id: regions[0].name, district.id: district.name}
    assert body["parents"][str(regions[2].id)] == f"{country.country.name} › {regions[2].name}"  # the district's parent
    assert body["bounds"] and "." not in json.dumps([u[3] for u in body["units"]])  # compact: integer coordinates
    assert client.get(lookups["shapes"], headers={"If-None-Match": shapes.headers["ETag"]}).status_code == 304

    listing = client.get("/plannings/mine").get_data(as_text=True)
    assert 'aria-current="page">List</a>' in listing and '<a class="chip" href="/plannings/mine/map">Map</a>' in listing
    assert regions[3].name not in listing and regions[1].name not in listing and district.name in listing


def test_my_assignment_map_keeps_hostile_names_as_text(client, login, country, planning, make_user, db):
    from app.services.planning.assignments import bulk_create
    from app.services.planning.plannings import publish_planning

    agent = make_user("agent", projects=["Demo project"], username="xssagent")
    planning.name = "</script><img src=x onerror=alert(1)>"
    db.session.commit()
    region = units_of("REGION", country)[0]
    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.name)).scalars().first()
    team.users.append(agent)
    db.session.commit()
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=region.id, user=agent.id)])
    publish_planning(country.coordinator, planning.id, True)
    login(agent)
    page = client.get("/plannings/mine/map").get_data(as_text=True)
    assert "<img src=x" not in page and "&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page  # the legend
    assert _map_lookups(page)["assignees"]["k0"]["name"] == f"{planning.name} (you)"  # JSON that cannot close the script


def test_export_assignments_as_csv_and_geojson(client, login, country, planning, db):
    import csv
    import io

    from app.services.planning.assignments import bulk_create

    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.name)).scalars().first()
    regions = units_of("REGION", country)[:2]
    regions[0].name = "=HYPERLINK(\"http://x\")"
    db.session.commit()
    bulk_create(country.coordinator, planning, [AssignmentRow(org_unit=r.id, team=team.id) for r in regions])
    login(country.coordinator)
    page = client.get(f"/plannings/{planning.id}").get_data(as_text=True)
    assert f"/plannings/{planning.id}/assignments.csv" in page and "Export GeoJSON" in page
    response = client.get(f"/plannings/{planning.id}/assignments.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["org_unit_id"] for r in rows} == {str(r.id) for r in regions}
    assert all(r["assigned_to"] == team.name and r["planning"] == "Round 1" for r in rows)
    assert "'=HYPERLINK" in {r["org_unit"][:11] for r in rows}  # not a formula in a spreadsheet
    geo = json.loads(client.get(f"/plannings/{planning.id}/assignments.geojson").get_data(as_text=True))
    assert geo["type"] == "FeatureCollection" and len(geo["features"]) == 2
    feature = next(f for f in geo["features"] if f["id"] == regions[1].id)
    assert feature["geometry"] == db.session.get(OrgUnit, regions[1].id).geometry
    assert feature["properties"]["assigned_to"] == team.name
