"""Every form and list page reads its input with a declared schema: a NUL character or an absurd number
in a form is a 400 naming the field and writes nothing (the form comes back as typed), and a bad filter
or page number in a list page's query string is a 400 naming it, never ignored and never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.models import (
    AutomationRule, BusinessCalendarConfig, Category, Department, OpenHexaConfig, StaffRole, WebhookEndpoint,
    Workflow, WorkflowStep,
)
from app.schemas.automation import EndpointIn, RuleIn
from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleIn, StepIn, WorkflowIn
from app.schemas.openhexa import OpenHexaSettingsIn
from app.schemas.parsing import validate_data
from app.schemas.sla import CalendarIn
from app.schemas.auth import LoginIn
from app.schemas.users import UserIn
from app.services.platform.errors import ValidationFailed
from tests.conftest import csrf_token_from
from tests.planning_fixtures import country, planning  # noqa: F401
from tests.ticket_fixtures import desk  # noqa: F401

HUGE = "99999999999999999999"
NUL = "a\x00b"


def count(db, model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def boss(client, login, desk):
    login(desk.boss)
    return desk.boss


@pytest.fixture
def operator(client, login, make_user):
    user = make_user("admin", platform_operator=True, username="operator")
    login(user)
    return user


def rule_form(**fields) -> dict:
    return {"name": "Urgent", "event_type": "TaskStatusChanged", "condition_mode": "builder", "match": "all",
            "enabled": "on", "project_id": "", **fields}


CALENDAR = {"name": "Office", "timezone": "UTC", "work_start": "08:00", "work_end": "17:00", "workdays": ["0", "1"]}
OPENHEXA = {"openhexa_url": "https://openhexa.example/graphql/", "openhexa_token": "t", "workspace_slug": "w"}


# (who, path or a callable building it from the desk, the fields posted, the field named, what must not grow)
FORMS = [
    ("boss", "/workflows/", {"name": "W", "department_id": HUGE, "category_id": "1"}, "department_id", Workflow),
    ("boss", "/workflows/departments", {"name": "D", "project_id": HUGE}, "department_project_id", Department),
    ("boss", "/workflows/categories", {"name": "C", "parent_id": HUGE}, "category_parent_id", Category),
    ("boss", "/workflows/roles", {"name": "R", "max_assignments": HUGE}, "max_assignments", StaffRole),
    ("boss", "/workflows/roles", {"name": "R", "user_ids": [HUGE]}, "user_ids", StaffRole),
    ("boss", lambda d: f"/workflows/roles/{d.intake.id}", {"max_assignments": "21"}, "max_assignments", None),
    ("boss", "/automation/rules/new", rule_form(action_key="k", **{"a-k-type": "webhook", "a-k-endpoint_id": HUGE}),
     "actions.0.endpoint_id", AutomationRule),
    ("boss", "/automation/webhooks/new", {"name": "H", "url": "https://93.184.216.34/x", "project_id": HUGE},
     "project_id", WebhookEndpoint),
    ("boss", "/sla/calendars/new", {**CALENDAR, "workdays": [HUGE]}, "workdays", BusinessCalendarConfig),
    ("operator", "/admin/openhexa/", {**OPENHEXA, "timeout_minutes": HUGE}, "timeout_minutes", OpenHexaConfig),
]


@pytest.mark.parametrize("who, path, fields, field, model", FORMS, ids=lambda v: v if isinstance(v, str) else None)
def test_an_absurd_number_in_a_form_is_a_field_error_and_nothing_is_written(request, client, csrf, db, desk, who, path,
                                                                           fields, field, model):
    request.getfixturevalue(who)
    before = count(db, model) if model else None
    role_before = (desk.intake.max_assignments, [u.id for u in desk.intake.users])
    response = client.post(path(desk) if callable(path) else path, data={**fields, "csrf_token": csrf()})
    html = response.get_data(as_text=True)
    assert response.status_code == 400, html[:300]
    assert f'id="{field}-error"' in html or f"{field}:" in html, field
    assert "<form" in html  # the form again, as typed
    if model:
        assert count(db, model) == before
    db.session.refresh(desk.intake)
    assert (desk.intake.max_assignments, [u.id for u in desk.intake.users]) == role_before


def test_steps_and_settings_of_a_workflow_refuse_absurd_numbers(client, csrf, db, boss, desk):
    draft = client.post("/workflows/", data={"csrf_token": csrf(), "name": "Draft", "department_id": desk.it.id,
                                             "category_id": desk.hardware.id})
    workflow_id = int(draft.headers["Location"].rsplit("/", 1)[1])
    step = client.post(f"/workflows/{workflow_id}/steps", data={"csrf_token": csrf(), "name": "Fix",
                                                                "role_id": desk.technician.id, "order": HUGE})
    assert step.status_code == 400 and 'id="step_order-error"' in step.get_data(as_text=True)
    assert 'value="Fix"' in step.get_data(as_text=True) and count(db, WorkflowStep) == len(desk.workflow.steps)
    settings = client.post(f"/workflows/{workflow_id}", data={"csrf_token": csrf(), "name": "Renamed",
                                                              "department_id": desk.it.id, "category_id": HUGE})
    assert settings.status_code == 400 and 'id="category_id-error"' in settings.get_data(as_text=True)
    assert 'value="Renamed"' in settings.get_data(as_text=True) and db.session.get(Workflow, workflow_id).name == "Draft"
    moved = client.post(f"/workflows/{desk.workflow.id}/steps/{desk.workflow.steps[0].id}/move",
                        data={"csrf_token": csrf(), "direction": "sideways"})
    assert moved.status_code == 400 and "direction" in moved.get_data(as_text=True)
    published = client.post(f"/workflows/{workflow_id}/publish", data={"csrf_token": csrf(), "published": "maybe"})
    assert published.status_code == 400 and "published" in published.get_data(as_text=True)


@pytest.mark.parametrize("who, path, fields, field, model", [
    ("boss", "/workflows/", {"name": NUL, "department_id": "1", "category_id": "1"}, "name", Workflow),
    ("boss", "/workflows/departments", {"name": NUL}, "name", Department),
    ("boss", "/workflows/roles", {"name": "R", "description": NUL}, "description", StaffRole),
    ("boss", "/automation/rules/new", rule_form(name=NUL), "name", AutomationRule),
    ("boss", "/automation/webhooks/new", {"name": NUL, "url": "https://93.184.216.34/x"}, "name", WebhookEndpoint),
    ("boss", "/sla/calendars/new", {**CALENDAR, "timezone": NUL}, "timezone", BusinessCalendarConfig),
    ("operator", "/admin/openhexa/", {**OPENHEXA, "workspace_slug": NUL}, "workspace_slug", OpenHexaConfig),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_nul_character_in_a_form_is_a_400_naming_the_field(request, client, csrf, db, who, path, fields, field,
                                                             model):
    request.getfixturevalue(who)
    before = count(db, model)
    response = client.post(path, data={**fields, "csrf_token": csrf()})
    assert response.status_code == 400 and f"&#39;{field}&#39; contains a NUL character" in response.get_data(as_text=True)
    assert count(db, model) == before


@pytest.mark.parametrize("model, data, field", [
    (WorkflowIn, {"name": NUL, "department_id": 1, "category_id": 1}, "name"),
    (DepartmentIn, {"name": NUL}, "name"),
    (CategoryIn, {"name": "C", "parent_id": 2**31}, "parent_id"),
    (StaffRoleIn, {"name": "R", "description": NUL}, "description"),
    (StepIn, {"name": NUL, "role_id": 1}, "name"),
    (RuleIn, {"name": "R", "event_type": "TaskCreated", "description": NUL}, "description"),
    (RuleIn, {"name": "R", "event_type": "TaskCreated", "actions": [{"type": "alert", "title": NUL}]},
     "actions.0.title"),
    (RuleIn, {"name": "R", "event_type": "TaskCreated", "condition": {"field": "x", "op": "eq", "value": NUL}},
     "condition"),
    (EndpointIn, {"name": "H", "url": NUL}, "url"),
    (CalendarIn, {**CALENDAR, "name": NUL}, "name"),
    (OpenHexaSettingsIn, {**OPENHEXA, "openhexa_token": NUL}, "openhexa_token"),
    (LoginIn, {"username": NUL, "password": "x"}, "username"),
    (UserIn, {"username": "u", "password": "long enough\x00", "role": "agent"}, "password"),
])
def test_the_schemas_themselves_refuse_nul_and_out_of_range_values(model, data, field):
    """Behind the request guard, each form's schema refuses the same (a service called directly, the CLI)."""
    with pytest.raises(ValidationFailed) as refused:
        validate_data(model, data)
    assert field in refused.value.details


def test_login_form_names_missing_fields_and_keeps_the_username(client, make_user):
    make_user(username="nurse")
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    blank = client.post("/login", data={"csrf_token": token, "username": "nurse", "password": ""})
    html = blank.get_data(as_text=True)
    assert blank.status_code == 400 and 'id="password-error"' in html and 'value="nurse"' in html
    nul = client.post("/login", data={"csrf_token": token, "username": NUL, "password": "x"})
    assert nul.status_code == 400 and "&#39;username&#39; contains a NUL character" in nul.get_data(as_text=True)


@pytest.mark.parametrize("path, field", [
    ("/tickets/?status=asleep", "status"), ("/tickets/?priority=soonish", "priority"),
    ("/tickets/?page=abc", "page"), ("/tickets/?colour=red", "colour"),
    ("/plannings/?status=archived", "status"), ("/plannings/?q=" + "x" * 201, "q"),
    ("/action-plans/?status=sleeping", "status"), ("/action-plans/?service_area=Not%20A%20Slug!", "service_area"),
    ("/automation/alerts?level=loud", "level"), ("/automation/alerts?open=perhaps", "open"),
    ("/automation/webhooks?status=lost", "status"), (f"/automation/webhooks?endpoint={HUGE}", "endpoint"),
    ("/sla/at-risk?page=abc", "page"), ("/tasks/?workflow_id=abc", "workflow_id"), ("/tasks/?mine=sometimes", "mine"),
    ("/orgunits/?q=" + "x" * 201, "q"), ("/automation/rules/form/action?new_action_type=explode", "new_action_type"),
])
def test_a_bad_filter_on_a_list_page_is_a_400_naming_it(client, boss, path, field):
    response = client.get(path)
    assert response.status_code == 400, (path, response.status_code)
    assert field in response.get_data(as_text=True)


def test_a_planning_page_refuses_a_bad_map_type_or_order(client, login, country, planning):
    login(country.coordinator)
    for query, field in ((f"type={HUGE}", "type"), ("sort=colour", "sort"), ("page=0", "page")):
        response = client.get(f"/plannings/{planning.id}?{query}")
        assert response.status_code == 400 and field in response.get_data(as_text=True), query
    assert client.get(f"/plannings/{planning.id}/assignments?sort=-created").status_code == 200


def test_the_outbox_console_and_openhexa_settings_refuse_bad_queries(client, operator):
    assert client.get("/admin/outbox?status=weird").status_code == 400
    assert client.get("/admin/outbox?status=all&event_type=SlaBreached").status_code == 200
    assert client.get("/admin/openhexa/?check=maybe").status_code == 400
