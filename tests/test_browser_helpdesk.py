"""Headless Chromium at 768 px (touch) and 1366 px: the board shows every state (tabs on narrow
screens), an action confirms with a toast and the card moves, deadlines show, and neither the board nor
the ticket page is wider than the screen; touch targets are at least 44 px."""
from datetime import timedelta

import pytest

from app.models import utcnow
from app.services.helpdesk.intake import receive_ticket
from tests.conftest import ARTIFACTS, PASSWORD
from tests.ticket_fixtures import desk, payload  # noqa: F401

pytestmark = pytest.mark.browser
FITS = "document.documentElement.scrollWidth <= window.innerWidth"


@pytest.mark.parametrize("width", [768, 1366])
def test_board_and_ticket_page_fit_and_actions_confirm(browser, live_server, desk, width):  # noqa: F811
    narrow = width < 900
    context = browser.new_context(viewport={"width": width, "height": 900}, has_touch=narrow, is_mobile=narrow)
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        late = receive_ticket(desk.project_id, payload("BR-1", subject="Overdue laptop",
                                                       due_date=(utcnow() - timedelta(days=2)).isoformat()))
        page.goto(live_server.url + "/login")
        page.fill("input[name=username]", desk.agents[0].username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        page.goto(live_server.url + "/tasks/")
        card = page.locator(f"[data-task-id='{late.task_id}']")
        assert "overdue" in card.locator(".sla-badge").inner_text()
        assert page.evaluate(FITS)
        columns = page.locator(".board-column")
        if narrow:
            assert page.locator(".board-tabs").is_visible()
            assert [columns.nth(i).is_visible() for i in range(columns.count())] == [True, False, False, False, False]
            start = card.locator("[data-action=start]")
            box = start.bounding_box()
            assert box["height"] >= 44 and box["width"] >= 44
            page.locator(".board-tab[data-tab=blocked]").click()
            assert page.locator("[data-column=blocked]").is_visible() and not page.locator("[data-column=new]").is_visible()
            page.locator(".board-tab[data-tab=new]").click()
        else:
            assert not page.locator(".board-tabs").is_visible()
            assert all(columns.nth(i).is_visible() for i in range(columns.count()))
        card.locator("[data-action=start]").click()
        page.wait_for_selector(f"#toasts >> text=Task {late.task_id} is now in progress.")
        moved = page.locator(f"[data-column=in_progress] [data-task-id='{late.task_id}']")
        moved.wait_for()
        assert moved.is_visible()  # on a narrow screen the board switched to the card's new column
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"task_board_{width}.png"), full_page=True)

        page.goto(live_server.url + f"/tickets/{late.ticket_id}")
        page.wait_for_selector("#task")
        assert page.evaluate(FITS)
        page.goto(live_server.url + "/tickets/")
        assert page.evaluate(FITS)
        page.screenshot(path=str(ARTIFACTS / f"tickets_{width}.png"), full_page=True)
    finally:
        context.close()
