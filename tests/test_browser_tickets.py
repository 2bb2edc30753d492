"""Headless Chromium: receive a ticket in the form, watch the queue, work the task on the board."""
import re

import pytest

from app.services.helpdesk.intake import receive_ticket
from tests.conftest import PASSWORD
from tests.conftest import ARTIFACTS
from tests.ticket_fixtures import desk, payload  # noqa: F401

pytestmark = pytest.mark.browser


def test_ticket_form_queue_and_board(page, live_server, desk):  # noqa: F811
    page.goto(live_server.url + "/tickets/")
    page.fill("input[name=username]", desk.agents[0].username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/tickets/")

    page.click("details.new-ticket > summary")
    page.fill("input[name=subject]", "Projector in room 4 is dead")
    page.select_option("select[name=department]", "IT")  # chosen from the lists the workflow pages manage
    page.select_option("select[name=category]", "Hardware")
    page.select_option("select[name=sub_category]", "Laptop")
    page.select_option("select[name=priority]", "critical")
    page.click("text=Receive ticket")
    page.wait_for_selector("#toasts >> text=assigned to a1, a2, a3")
    row = page.locator("#ticket-queue tr", has_text="Projector in room 4 is dead")
    assert "allocated" in row.inner_text().lower() and "Triage" in row.inner_text()
    assert re.search(r"\d+ s ago", row.inner_text())  # app.js writes the age from the row's <time>

    # A ticket arriving from the API shows up without a reload (the queue polls every 3 s).
    receive_ticket(desk.project_id, payload("API-77", subject="Mouse lost its wheel"))
    page.wait_for_selector("#ticket-queue tr[data-external-id='API-77']", timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "tickets.png"), full_page=True)

    row.locator(".task-cell a").click()
    page.wait_for_url("**/tasks/?task=*")
    card = page.locator(".task-card.highlight")
    task_id = card.get_attribute("data-task-id")
    card.locator("[data-action=start]").click()
    moved = page.locator(f"[data-column=in_progress] [data-task-id='{task_id}']")
    moved.wait_for()
    moved.locator("[data-action=next_step]").click()
    page.wait_for_selector(f"[data-task-id='{task_id}'] .task-step >> text=step 2/3: Repair")
    card = page.locator(f"[data-task-id='{task_id}']")
    assert "t1" in card.locator(".assignees").inner_text()
    assert card.locator("[data-action]").count() == 0  # a1 is not on the Repair step
    page.screenshot(path=str(ARTIFACTS / "task_board.png"), full_page=True)
