"""Headless Chromium: build a rule with the condition builder and actions editor, test it against
past events, switch it off from the list."""
import pytest

from app.services.orchestration.transitions import transition
from tests.conftest import PASSWORD
from tests.test_automation_rules import make_task
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_build_a_rule_test_it_and_switch_it_off(page, live_server, make_user):  # noqa: F811
    coord = make_user("coordinator", ["Project A"], username="coord")
    task = make_task(coord, priority="high")
    transition(coord, "task", task.id, "in_progress")
    transition(coord, "task", task.id, "completed")

    page.goto(live_server.url + "/automation/rules")
    page.fill("input[name=username]", coord.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/automation/rules")
    page.click("text=New rule")

    page.fill("input[name=name]", "High-priority completions")
    page.select_option("select[name=event_type]", "TaskStatusChanged")
    rows = page.locator("#cond-rows .cond-row")
    rows.nth(0).locator("input[name=cond_field]").fill("payload.to")
    rows.nth(0).locator("input[name=cond_value]").fill("completed")
    page.click("text=Add condition")
    rows.nth(1).wait_for()
    rows.nth(1).locator("input[name=cond_field]").fill("payload.priority")
    rows.nth(1).locator("select[name=cond_op]").select_option("in")
    rows.nth(1).locator("input[name=cond_value]").fill("high, urgent")
    page.select_option("#new-action-type", "alert")
    page.click("#add-action")
    action = page.locator("fieldset.action[data-action-type=alert]")
    action.wait_for()
    action.locator("input[name$=-title]").fill("Task {payload.task_id} completed")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "automation_rule_form.png"), full_page=True)
    page.click("text=Save rule")
    page.wait_for_selector("#toasts >> text=Rule “High-priority completions” saved.")
    assert "the new state is completed" in page.inner_text("main")  # the condition as a sentence
    assert '"value": "completed"' in page.text_content("details.integrators pre.json")  # JSON for integrators

    completed = page.locator("select[name=event_id] option", has_text="to completed").get_attribute("value")
    page.select_option("select[name=event_id]", completed)
    page.click("#test-form button[type=submit]")
    page.wait_for_selector("#test-result [data-verdict=matched]")
    assert f"Raise a warning alert “Task {task.id} completed”" in page.inner_text("#test-result")
    started = page.locator("select[name=event_id] option", has_text="to in progress").get_attribute("value")
    page.select_option("select[name=event_id]", started)
    page.click("#test-form button[type=submit]")
    page.wait_for_selector("#test-result [data-verdict=not_matched]")
    page.screenshot(path=str(ARTIFACTS / "automation_rule.png"), full_page=True)

    page.click("nav.breadcrumbs >> text=Automation rules")
    row = page.locator("#rules-table tr", has_text="High-priority completions")
    row.locator("button.toggle").click()
    page.wait_for_selector("#rules-table tr[data-enabled=false] >> text=High-priority completions")
    page.reload()
    assert page.locator("#rules-table tr", has_text="High-priority completions").get_attribute("data-enabled") == "false"
