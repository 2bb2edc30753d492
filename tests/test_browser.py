"""Headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) against a live server."""
import pytest

from app.services.processing.jobs import enqueue_job
from app.services.planning.orgunits import create_org_unit, create_org_unit_type
from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn
from tests.conftest import ARTIFACTS, PASSWORD

pytestmark = pytest.mark.browser


def test_login_expand_tree_and_open_jobs(page, live_server, make_user, run_worker):
    user = make_user(role="coordinator", projects=["Project A"], username="coord")
    country_t = create_org_unit_type(user, OrgUnitTypeIn(**{"name": "Country", "short_name": "CTRY"}))
    region_t = create_org_unit_type(user, OrgUnitTypeIn(**{"name": "Region", "short_name": "REG"}))
    country = create_org_unit(user, OrgUnitIn(**{"name": "Testland", "org_unit_type_id": country_t.id}))
    for name in ("North", "South"):
        create_org_unit(user, OrgUnitIn(**{"name": name, "org_unit_type_id": region_t.id, "parent_id": country.id}))
    job = enqueue_job("echo", {"message": "hello"}, launcher=user, project_id=user.project_ids[0])
    run_worker()

    page.goto(live_server.url + "/orgunits/")
    assert "/login" in page.url  # anonymous users are sent to log in
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Invalid username or password")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/orgunits/")

    assert page.locator("text=North").count() == 0  # not loaded until expanded
    page.click(f"li[data-org-unit-id='{country.id}'] > details > summary")
    page.wait_for_selector("text=North")
    assert page.locator("text=South").is_visible()

    page.fill("input[name=q]", "Sou")
    page.wait_for_selector("#tree-results >> text=match for")
    assert page.locator("#tree-results .node-name").all_inner_texts() == ["South"]

    page.click("nav.nav summary >> text=Processing")
    page.click("nav.nav .menu >> text=Jobs")
    page.wait_for_url("**/jobs")
    row = page.locator(f"a[href='/jobs/{job.id}']")
    assert row.count() == 1
    assert "successful" in page.locator("table").inner_text().lower()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "jobs.png"), full_page=True)
    row.click()
    page.wait_for_selector("[data-job-status=successful]")


def test_the_tree_opens_a_long_list_a_page_at_a_time(page, live_server, make_user, db):
    from app.models import OrgUnit

    user = make_user(role="coordinator", projects=["Project A"], username="coord")
    country_t = create_org_unit_type(user, OrgUnitTypeIn(**{"name": "Country", "short_name": "CTRY"}))
    hf_t = create_org_unit_type(user, OrgUnitTypeIn(**{"name": "Health facility", "short_name": "HF"}))
    country = create_org_unit(user, OrgUnitIn(**{"name": "Testland", "org_unit_type_id": country_t.id}))
    db.session.add_all(OrgUnit(project_id=country.project_id, name=f"Facility {n:02d}", org_unit_type_id=hf_t.id,
                               parent_id=country.id, path="", depth=1) for n in range(1, 61))
    db.session.flush()
    for unit in db.session.query(OrgUnit).filter(OrgUnit.parent_id == country.id):
        unit.path = f"{country.path}{unit.id}."
    db.session.commit()

    page.goto(live_server.url + "/orgunits/")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/orgunits/")
    page.click(f"li[data-org-unit-id='{country.id}'] > details > summary")
    page.wait_for_selector("text=Facility 50")
    children = page.locator(f"li[data-org-unit-id='{country.id}'] ul.children > li.node")
    assert children.count() == 50
    page.click("text=Show 10 more of 60")
    page.wait_for_selector("text=Facility 60")
    assert children.count() == 60
    assert page.locator("li.more").count() == 0


def test_live_panel_follows_a_running_job(page, live_server, make_user, worker_process):
    user = make_user(role="coordinator", projects=["Project A"], username="coord2")
    job = enqueue_job("echo", {"message": "slow", "delay": 3, "steps": 3}, launcher=user, project_id=user.project_ids[0])
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", user.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/jobs/{job.id}")
    page.wait_for_selector("[data-job-status=accepted]")
    worker_process()
    page.wait_for_selector("[data-job-status=running]", timeout=15_000)
    page.wait_for_selector("[data-job-status=successful]", timeout=20_000)
    page.wait_for_selector("#job-extra >> text=Step 3 of 3")  # the log refreshed by itself
    assert page.locator(".job-panel .progress").get_attribute("aria-valuenow") == "100"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "job.png"), full_page=True)
