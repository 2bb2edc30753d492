"""Headless Chromium: the assignment map — launch a two-level sample, watch it finish, reassign by clicking;
OpenHEXA's pipelines loaded with HTMX after the planning form and the sampling dialog."""
import json

from sqlalchemy import select

from app.extensions import get_redis
from app.models import Assignment, Planning, Team
from tests.conftest import ARTIFACTS, PASSWORD
from tests.openhexa_double import PIPELINE_ID, configured, double  # noqa: F401
from tests.planning_fixtures import country, planning  # noqa: F401


def _login(page, live_server, user) -> None:
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")


def _click_feature(page, org_unit_id: int) -> None:
    """Click the middle of a polygon on the Leaflet canvas."""
    point = page.evaluate("""(id) => {
        const lookups = JSON.parse(document.querySelector('#map-area .map-lookups').textContent);
        const map = window[lookups.map];
        const layer = window.fieldflowMap.layer(id);
        map.fitBounds(layer.getBounds(), {animate: false, maxZoom: 12});
        const p = map.latLngToContainerPoint(layer.getCenter ? layer.getCenter() : layer.getBounds().getCenter());
        const box = map.getContainer().getBoundingClientRect();
        return {x: box.left + p.x, y: box.top + p.y};
    }""", org_unit_id)
    page.mouse.click(point["x"], point["y"])


def test_sample_on_the_map_then_reassign_by_click(page, live_server, country, planning, worker_process, db):
    worker_process()
    page.on("dialog", lambda d: d.accept())
    _login(page, live_server, country.coordinator)
    page.goto(f"{live_server.url}/plannings/{planning.id}")
    page.wait_for_selector("#map-area .leaflet-container")

    page.click("#launch-sample")
    page.wait_for_selector("#sample-dialog[open] select[name=type_0]")
    page.select_option("select[name=type_0]", label="Region")
    page.fill("input[name=quantity_0]", "2")
    page.click("#add-level")
    page.wait_for_selector("select[name=type_1]")
    page.select_option("select[name=type_1]", label="District")
    page.fill("input[name=quantity_1]", "2")
    page.fill("input[name=seed]", "21")
    page.click("#sample-dialog button[type=submit]")
    page.wait_for_selector("#sample-dialog [data-job-status=successful]", timeout=30_000)
    assert page.locator("#sample-dialog .progress").get_attribute("aria-valuenow") == "100"
    page.click("#sample-dialog .dialog-head button")

    # The table and the map refresh by themselves.
    page.wait_for_selector("#assignment-table tbody tr[data-org-unit]")
    assert page.locator("#assignment-table tbody tr[data-org-unit]").count() == 4
    db.session.expire_all()
    live = db.session.execute(select(Assignment).where(Assignment.planning_id == planning.id,
                                                       Assignment.deleted_at.is_(None))).scalars().all()
    first = live[0]
    team = db.session.get(Team, first.team_id)
    page.wait_for_function("(id) => window.fieldflowMap.layer(id) && window.fieldflowMap.layer(id).feature.properties.a",
                           arg=first.org_unit_id)
    assert page.evaluate("(id) => window.fieldflowMap.layer(id).options.fillColor", first.org_unit_id) == team.colour
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "planning-map.png"), full_page=True)

    # Reassign that district to another district team by clicking its shape.
    other = db.session.execute(select(Team).where(Team.type == "TEAM_OF_USERS", Team.id != team.id)
                               .order_by(Team.name)).scalars().first()
    page.check(f"input[name=assignee][value='team:{other.id}']")
    _click_feature(page, first.org_unit_id)
    page.wait_for_function("([id, colour]) => window.fieldflowMap.layer(id).options.fillColor === colour",
                           arg=[first.org_unit_id, other.colour])
    page.wait_for_selector(f"#assignment-table tr[data-org-unit='{first.org_unit_id}'] >> text={other.name}")
    db.session.expire_all()
    moved = db.session.execute(select(Assignment).where(Assignment.planning_id == planning.id,
                                                        Assignment.org_unit_id == first.org_unit_id,
                                                        Assignment.deleted_at.is_(None))).scalar_one()
    assert moved.team_id == other.id
    assert json.loads(page.evaluate("document.querySelector('#map-area .map-lookups').textContent"))["assignees"]


def test_openhexa_pipelines_load_after_the_form_and_the_dialog(page, live_server, configured, double, country, planning,
                                                               db):
    _login(page, live_server, country.coordinator)
    page.goto(f"{live_server.url}/plannings/{planning.id}/edit")
    # the page came without OpenHEXA's list; HTMX loads it after the page, keeping the selection
    page.wait_for_selector(f"#pipeline-choices option[value='{PIPELINE_ID}']", state="attached")
    assert page.locator("#pipeline-choices option[value='lqas-sampling']").evaluate("o => o.selected")
    page.select_option("select[name=pipeline_uuids]", ["lqas-sampling", PIPELINE_ID])
    page.click("section.card form button[type=submit]")
    page.wait_for_url(f"{live_server.url}/plannings/{planning.id}")
    db.session.expire_all()
    assert db.session.get(Planning, planning.id).pipeline_uuids == ["lqas-sampling", PIPELINE_ID]

    for key in get_redis().keys("fieldflow:openhexa-pipelines:*"):
        get_redis().delete(key)  # a cold cache: the dialog names OpenHEXA's pipelines after it opens
    page.click("#launch-sample")
    page.wait_for_selector("#sample-dialog[open] select[name=pipeline]")
    page.wait_for_function("""() => !document.querySelector('#sample-pipelines[aria-busy]') &&
        !document.querySelector('#sample-dialog .htmx-settling, #sample-dialog .htmx-added') &&
        document.querySelector('#sample-dialog select[name=pipeline]').textContent.includes('Fieldflow LQAS (OpenHEXA)')""")
    page.select_option("#sample-dialog select[name=pipeline]", PIPELINE_ID)
    # the dialog reloads for that pipeline, then reads its definition from OpenHEXA: the LQAS pipeline takes levels
    page.wait_for_selector("#sample-section >> text=Fieldflow LQAS on OpenHEXA")
    assert page.locator("#sample-section select[name=type_0]").count() == 1
    assert page.locator("#sample-dialog select[name=pipeline] option:checked").inner_text() == "Fieldflow LQAS (OpenHEXA)"
