"""Headless Chromium: a coordinator drafts an action plan (after one refused form), activates it with
the HTMX button and sees the badge, the toast and the history row change in place."""
import re

import pytest

from tests.conftest import PASSWORD
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_create_and_activate_an_action_plan(page, live_server, make_user):  # noqa: F811
    coord = make_user("coordinator", username="coord", full_name="Cora Ordinator")
    page.goto(live_server.url + "/action-plans/")
    page.fill("input[name=username]", coord.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/action-plans/")
    assert "No action plans" in page.locator("#action-plans").inner_text()

    page.click("nav.nav summary >> text=Orchestration")
    assert page.locator("nav.nav .menu >> text=Action plans").is_visible()
    page.click("text=New action plan")
    page.wait_for_url("**/action-plans/new")
    page.fill("input[name=service_area]", "wash")
    page.fill("textarea[name=description]", "Before the rains")
    page.click("button:has-text('Create')")
    assert page.locator("#title-error").inner_text() == "is required"
    assert page.locator("textarea[name=description]").input_value() == "Before the rains"
    page.fill("input[name=title]", "Repair the wells")
    page.click("button:has-text('Create')")
    page.wait_for_url(re.compile(r".*/action-plans/\d+$"))
    page.wait_for_selector("#toasts >> text=Action plan “Repair the wells” created.")
    assert page.locator("#plan-state [data-status]").inner_text().lower() == "draft"

    url = page.url
    page.fill("#plan-actions input[name=reason]", "Rains are coming")
    page.click("#plan-actions button:has-text('Activate')")
    page.wait_for_selector("#plan-state [data-status=active]")
    page.wait_for_selector("#toasts >> text=Action plan “Repair the wells” is now active.")
    assert page.url == url  # swapped in place, no navigation
    row = page.locator("#plan-history tbody tr").first
    assert row.locator("td").all_inner_texts()[:4] == ["draft", "active", "Cora Ordinator", "Rains are coming"]
    assert page.locator("#plan-actions button").all_inner_texts() == ["Archive"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "action_plan_activated.png"), full_page=True)

    page.click("nav.breadcrumbs >> text=Action plans")
    page.wait_for_url("**/action-plans/")
    page.select_option("#plan-filters select[name=status]", "active")
    page.wait_for_url("**/action-plans/?status=active*")
    assert "Repair the wells" in page.locator("#action-plans").inner_text()
    page.select_option("#plan-filters select[name=status]", "archived")
    page.wait_for_selector("#action-plans >> text=No action plans match these filters.")
    page.screenshot(path=str(ARTIFACTS / "action_plans.png"), full_page=True)
