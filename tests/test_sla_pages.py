"""SLA pages (compliance, at risk, breached, configs, calendars) and /api/workflow/sla-configs."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from app.models import SlaConfig
from app.services.orchestration import sla, sla_scan
from tests.test_sla import at, config, move, new_task

HX = {"HX-Request": "true"}
API = "/api/workflow/sla-configs"


@pytest.fixture
def people(make_user):
    return {"coord": make_user("coordinator", username="coord"), "agent": make_user("agent", username="agent1"),
            "admin": make_user("admin", username="root", platform_operator=True),
            "outsider": make_user("coordinator", projects=("Project B",), username="outsider")}


@pytest.fixture
def clocks(db, people):
    """Project A: a breached task (wash) and one completed in time (nutrition); Project B: a breached one."""
    a, b = people["coord"].project_ids[0], people["outsider"].project_ids[0]
    config(db, minutes=480, task_type="*")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    done = new_task(db, a, now, task_type="review", area="nutrition")
    move(db, done, "in_progress", now)
    move(db, done, "completed", now)
    breached = new_task(db, a, at(2024, 6, 3, 8, 0), task_type="intake", area="wash")  # due 16:00 that day
    hidden = new_task(db, b, at(2024, 6, 3, 8, 0), task_type="intake", area="secret-area")
    sla_scan.scan_sla_breaches()
    return {"done": done, "breached": breached, "hidden": hidden}


def test_overview_shows_compliance_per_area_of_my_projects(client, login, people, clocks):
    login(people["coord"])
    html = client.get("/sla/").get_data(as_text=True)
    assert "<h1>SLA compliance</h1>" in html
    assert 'data-area="nutrition"' in html and 'data-area="wash"' in html and "secret-area" not in html
    wash = html.split('data-area="wash"')[1].split("</tr>")[0]
    assert "0.0 %" in wash  # one breached, nothing met
    assert 'data-stat="breached"><span class="stat-value">1<' in html


def test_breached_and_at_risk_lists_full_page_and_partial(client, login, people, clocks, db):
    login(people["coord"])
    page = client.get("/sla/breached")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "<h1>Breached tasks</h1>" in html
    assert f'data-task-id="{clocks["breached"].id}"' in html and f'data-task-id="{clocks["hidden"].id}"' not in html
    row = html.split(f'data-task-id="{clocks["breached"].id}"')[1].split("</tr>")[0]
    assert f'/tasks/?task={clocks["breached"].id}' in row and "2024-06-03 16:00 UTC" in row and "breached" in row
    partial = client.get("/sla/breached", headers=HX)
    body = partial.get_data(as_text=True)
    assert "HX-Request" in partial.headers["Vary"] and "<h1>" not in body and 'id="sla-records"' in body
    assert f'data-task-id="{clocks["breached"].id}"' in body
    risky = client.get("/sla/at-risk").get_data(as_text=True)
    assert f'data-task-id="{clocks["breached"].id}"' not in risky and "No task is at risk." in risky


def test_at_risk_lists_warned_open_clocks(client, login, people, db):
    a = people["coord"].project_ids[0]
    config(db, minutes=60, task_type="intake")
    task = new_task(db, a, at(2024, 6, 3, 8, 0), task_type="intake")
    sla_scan.scan_sla_breaches(at(2024, 6, 3, 8, 50))
    login(people["coord"])
    html = client.get("/sla/at-risk").get_data(as_text=True)
    row = html.split(f'data-task-id="{task.id}"')[1].split("</tr>")[0]
    assert "2024-06-03 09:00 UTC" in row and "intake" in row
    assert "No open task has breached its SLA." in client.get("/sla/breached").get_data(as_text=True)


def test_config_form_names_bad_fields_then_saves_and_edits(client, login, csrf, people, db):
    sla.seed_sla_defaults()
    login(people["coord"])
    listing = client.get("/sla/configs").get_data(as_text=True)
    assert "Assessment (default)" in listing and "New config" in listing and "Override" in listing
    token = csrf()
    bad = client.post("/sla/configs/new", data={"csrf_token": token, "name": "", "project_id": "",
                                                 "service_area": "Bad Area", "task_type": "assessment",
                                                 "resolution_minutes": "soon", "warning_percent": "80"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    for field in ("service_area", "resolution_minutes"):  # the form's schema first (a blank name is made up)
        assert f'id="{field}-error"' in html
    assert 'value="Bad Area"' in html  # the form keeps what was typed
    everywhere = client.post("/sla/configs/new", data={"csrf_token": token, "name": "Everywhere", "project_id": "",
                                                        "task_type": "assessment", "resolution_minutes": "60"})
    assert everywhere.status_code == 400 and 'id="project_id-error"' in everywhere.get_data(as_text=True)
    calendar_id = sla.default_calendar().id
    done = client.post("/sla/configs/new", data={
        "csrf_token": token, "name": "Nutrition assessments", "project_id": str(people["coord"].project_ids[0]),
        "service_area": "nutrition", "task_type": "assessment", "response_minutes": "30", "resolution_minutes": "120",
        "warning_percent": "75", "pause_states": ["blocked", "new"], "calendar_id": str(calendar_id),
        "enabled": "on"}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "SLA config &#39;Nutrition assessments&#39; saved." in html and "blocked, new" in html
    saved = db.session.execute(select(SlaConfig).where(SlaConfig.name == "Nutrition assessments")).scalar_one()
    assert (saved.response_minutes, saved.warning_percent, saved.calendar_id) == (30, 75, calendar_id)
    form = client.get(f"/sla/configs/{saved.id}/edit").get_data(as_text=True)
    assert 'value="Nutrition assessments"' in form and 'value="new" checked' in form
    client.post(f"/sla/configs/{saved.id}/edit", data={
        "csrf_token": token, "name": "Nutrition assessments", "project_id": str(saved.project_id),
        "service_area": "nutrition", "task_type": "assessment", "resolution_minutes": "90", "warning_percent": "75"})
    db.session.expire_all()
    assert (saved.resolution_minutes, saved.enabled, saved.pause_states) == (90, False, [])
    # a global config is the administrators': no edit form for coordinators
    seeded = db.session.execute(select(SlaConfig).where(SlaConfig.task_type == "general",
                                                        SlaConfig.project_id.is_(None))).scalar_one()
    assert client.get(f"/sla/configs/{seeded.id}/edit").status_code == 403
    refused = client.post(f"/sla/configs/{seeded.id}/edit", data={"csrf_token": token, "name": "Mine now",
                                                                   "resolution_minutes": "5"})
    assert refused.status_code == 403


def test_calendar_form_validates_zone_country_hours_and_days(client, login, csrf, people):
    login(people["coord"])
    token = csrf()
    bad = client.post("/sla/calendars/new", data={"csrf_token": token, "name": "Kenya office",
                                                   "timezone": "Africa/Nairobbi", "work_start": "17:00",
                                                   "work_end": "09:00", "country": "ZZ",
                                                   "extra_holidays": "tomorrow"})
    html = bad.get_data(as_text=True)
    assert bad.status_code == 400
    for field in ("timezone", "work_end", "workdays", "country", "extra_holidays"):
        assert f'id="{field}-error"' in html
    assert 'value="Africa/Nairobbi"' in html  # the form keeps what was typed
    done = client.post("/sla/calendars/new", data={
        "csrf_token": token, "name": "Kenya office", "timezone": "Africa/Nairobi", "work_start": "08:00",
        "work_end": "17:00", "workdays": ["0", "1", "2", "3", "4", "5"], "country": "KE",
        "extra_holidays": "2026-12-24"}, follow_redirects=True)
    html = done.get_data(as_text=True)
    assert "Calendar &#39;Kenya office&#39; saved." in html
    row = html.split("Kenya office</td>")[1].split("</tr>")[0]
    assert "Africa/Nairobi" in row and "Mon, Tue, Wed, Thu, Fri, Sat" in row and "KE + 1 dates" in row
    edit_url = re.search(r'href="(/sla/calendars/\d+/edit)"', row).group(1)
    form = client.get(edit_url).get_data(as_text=True)
    assert 'name="workdays" value="5" checked' in form and 'name="workdays" value="6" >' in form
    assert "2026-12-24</textarea>" in form
    client.post(edit_url, data={"csrf_token": token, "name": "Kenya office", "timezone": "Africa/Nairobi",
                                "work_start": "07:30", "work_end": "16:30", "workdays": ["0", "1"], "country": ""})
    row = client.get("/sla/calendars").get_data(as_text=True).split("Kenya office</td>")[1].split("</tr>")[0]
    assert "07:30–16:30" in row and "Mon, Tue<" in row and "KE" not in row


def test_agents_read_but_cannot_edit_and_other_projects_stay_hidden(client, login, people, db, web_app):
    other = config(db, project_id=people["outsider"].project_ids[0], area="secret-area", task_type="*")
    login(people["agent"])
    listing = client.get("/sla/configs").get_data(as_text=True)
    assert "New config" not in listing and "secret-area" not in listing
    assert client.get("/sla/configs/new").status_code == 403
    assert client.get("/sla/calendars/new").status_code == 403
    coord = login(people["coord"], test_client=web_app.test_client())
    assert coord.get(f"/sla/configs/{other.id}/edit").status_code == 404


def test_api_lists_creates_and_patches_configs(client, api_token, people, db):
    sla.seed_sla_defaults()
    coord = api_token(people["coord"])
    listed = client.get(API, headers=coord)
    assert listed.status_code == 200 and listed.json["success"] is True
    assert {i["task_type"]: i["resolution_minutes"] for i in listed.json["items"]} == {
        "intake": 60, "assessment": 240, "review": 120, "general": 480}
    created = client.post(API, json={"name": "WASH reviews", "service_area": "wash", "task_type": "review",
                                     "resolution_minutes": 90, "pause_states": ["blocked"]}, headers=coord)
    assert created.status_code == 201, created.json
    item = created.json["sla_config"]
    assert (item["project_id"], item["scope"], item["calendar"]) == (people["coord"].project_ids[0], "project", None)
    patched = client.patch(f"{API}/{item['id']}", json={"warning_percent": 95}, headers=coord)
    assert patched.status_code == 200 and patched.json["sla_config"]["warning_percent"] == 95
    assert patched.json["sla_config"]["resolution_minutes"] == 90
    bad = client.post(API, json={"name": "x", "resolution_minutes": -5, "task_type": "Review Tasks"}, headers=coord)
    assert bad.status_code == 400 and bad.json["success"] is False
    assert bad.json["error_code"] == "VALIDATION_FAILED"
    assert set(bad.json["details"]) == {"resolution_minutes", "task_type"}
    agent = client.post(API, json={"name": "x", "resolution_minutes": 5}, headers=api_token(people["agent"]))
    assert agent.status_code == 403 and agent.json["error_code"] == "PERMISSION_DENIED"
    hidden = client.patch(f"{API}/{item['id']}", json={"warning_percent": 50}, headers=api_token(people["outsider"]))
    assert hidden.status_code == 404
    admin = client.post(API, json={"name": "Everywhere WASH", "project_id": None, "service_area": "wash",
                                   "resolution_minutes": 300}, headers=api_token(people["admin"]))
    assert admin.status_code == 201 and admin.json["sla_config"]["scope"] == "global"
    assert client.get(API).status_code == 401
    client.patch(f"{API}/{item['id']}", json={"enabled": False}, headers=coord)
    every = client.get(API, headers=coord).json["items"]
    active = client.get(f"{API}?active_only=true", headers=coord).json["items"]
    assert {i["id"] for i in active} == {i["id"] for i in every if i["enabled"]} and item["id"] not in {
        i["id"] for i in active}
    seed = client.post(API, json={"name": "x", "service_area": "intake", "target_minutes": 60, "active": True},
                       headers=coord)  # the seed's own body
    assert seed.status_code == 201 and (seed.json["sla_config"]["target_minutes"], seed.json["sla_config"]["active"]) == (
        60, True)
    for body, field in (({"warning_percent": True}, "warning_percent"), ({"warning_percent": 2.5}, "warning_percent"),
                        ({"resolution_minutes": "90"}, "resolution_minutes"), ({"name": None}, "name"),
                        ({"calendar_id": 2**31}, "calendar_id"), ({"project_id": True}, "project_id"),
                        ({"task_type": "t" * 41}, "task_type")):
        refused = client.patch(f"{API}/{item['id']}", json=body, headers=coord)
        assert refused.status_code == 400 and field in refused.json["details"], body
