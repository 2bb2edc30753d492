"""Headless Chromium: a coordinator sets up a calendar and an SLA config, then finds the breached task."""
import pytest

from app.services.orchestration import sla_scan
from tests.conftest import PASSWORD
from tests.conftest import ARTIFACTS
from tests.test_sla import at, new_task

pytestmark = pytest.mark.browser


def test_calendar_config_and_breached_task(page, live_server, make_user, db):  # noqa: F811
    coord = make_user("coordinator", username="coord")
    page.goto(live_server.url + "/sla/calendars/new")
    page.fill("input[name=username]", coord.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/sla/calendars/new")

    page.fill("input[name=name]", "Nairobi office")
    page.fill("input[name=timezone]", "Africa/Nairobbi")
    page.fill("input[name=country]", "KE")
    page.click("text=Save")
    assert "is not a known time zone" in page.locator("#timezone-error").inner_text()
    page.fill("input[name=timezone]", "Africa/Nairobi")
    page.check("input[name=workdays][value='5']")
    page.click("text=Save")
    page.wait_for_url("**/sla/calendars")
    row = page.locator("#sla-calendars tr", has_text="Nairobi office")
    assert "Mon, Tue, Wed, Thu, Fri, Sat" in row.inner_text() and "KE" in row.inner_text()

    page.click("text=Configs")
    page.click("text=New config")
    page.fill("input[name=name]", "Nutrition intake")
    page.fill("input[name=service_area]", "nutrition")
    page.fill("input[name=task_type]", "intake")
    page.fill("input[name=resolution_minutes]", "90")
    page.select_option("select[name=calendar_id]", label="Nairobi office (Africa/Nairobi, KE)")
    page.click("text=Save")
    page.wait_for_selector("#toasts >> text=SLA config 'Nutrition intake' saved.")
    config_row = page.locator("#sla-configs tr", has_text="Nutrition intake")
    assert "Nairobi office" in config_row.inner_text() and "90 min" in config_row.inner_text()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "sla_configs.png"), full_page=True)

    # A task started under that config long ago; the scan (RQ cron) finds it breached.
    task = new_task(db, coord.project_ids[0], at(2024, 6, 3, 6, 0), task_type="intake", area="nutrition")
    assert sla_scan.scan_sla_breaches() == {"warned": 0, "breached": 1}
    page.click("text=Compliance")
    page.wait_for_url("**/sla/")
    assert page.locator("[data-stat=breached] .stat-value").inner_text() == "1"
    assert page.locator("#sla-compliance tr[data-area=nutrition] .compliance").inner_text() == "0.0 %"
    page.screenshot(path=str(ARTIFACTS / "sla_overview.png"), full_page=True)
    page.click("[data-stat=breached]")
    page.wait_for_url("**/sla/breached")
    breached = page.locator(f"#sla-records tr[data-task-id='{task.id}']")
    # 06:00 UTC is 09:00 in Nairobi: 90 business minutes end at 10:30 Nairobi, 07:30 UTC
    assert "2024-06-03 07:30 UTC" in breached.inner_text() and "breached" in breached.inner_text().lower()
    page.screenshot(path=str(ARTIFACTS / "sla_breached.png"), full_page=True)
    breached.locator("a").click()
    page.wait_for_url(f"**/tasks/?task={task.id}")
