"""Headless Chromium: names that are HTML and script (`</script><img src=x onerror=…>`) on a team, an
org unit, a planning, a ticket and an automation rule stay text on every page that shows them."""
import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import OrgUnit, Team
from app.schemas.automation import RuleIn
from app.services.helpdesk.intake import receive_ticket
from app.services.orchestration import automation_rules
from app.schemas.planning import AssignmentRow
from app.services.planning.assignments import bulk_create
from tests.conftest import PASSWORD
from tests.planning_fixtures import units_of
from tests.ticket_fixtures import payload

pytestmark = pytest.mark.browser

EVIL = "</script><img src=x onerror=alert(1)>\"'<!--"


def _evil(label: str) -> str:
    return f"{label} {EVIL}"


def test_hostile_names_are_shown_as_text_everywhere(page, live_server, country, planning, desk):
    coordinator = country.coordinator
    team = db.session.execute(select(Team).where(Team.parent_id == country.root_team.id).order_by(Team.id)).scalars().first()
    district = units_of("DISTRICT", country)[0]
    team.name, district.name, planning.name = _evil("Team"), _evil("District"), _evil("Planning")
    db.session.commit()
    bulk_create(coordinator, planning, [AssignmentRow(team=team.id, org_unit=district.id)], source="test")
    receive_ticket(desk.project_id, payload("XSS-1", subject=_evil("Ticket")))
    automation_rules.save_rule(desk.boss, RuleIn(name=_evil("Rule"), event_type="TaskStatusChanged"))
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    def visit(path: str, shown: str) -> None:
        page.goto(live_server.url + path)
        page.wait_for_load_state("networkidle")
        assert shown in page.inner_text("body"), (path, shown)

    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", coordinator.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    visit("/teams/", "Team </script>")
    visit("/orgunits/?q=District", "District </script>")
    visit("/plannings/", "Planning </script>")
    visit(f"/plannings/{planning.id}?type={country.types['DISTRICT'].id}", "Team </script>")
    # the map's tooltip carries the unit's name: hover it through the map's own lookup
    name = page.evaluate("(id) => window.fieldflowMap.tooltip(window.fieldflowMap.layer(id).feature.properties)",
                         district.id)
    assert "District </script>" in name or "District &lt;/script&gt;" in name
    visit(f"/plannings/{planning.id}/assignments", "District </script>")

    page.context.clear_cookies()
    page.goto(live_server.url + "/login")
    page.fill("input[name=username]", desk.boss.username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/")
    visit("/tickets/", "Ticket </script>")
    visit("/tasks/", "Ticket </script>")
    visit("/automation/rules", "Rule </script>")
    assert dialogs == []
    assert page.locator("img[src=x]").count() == 0
