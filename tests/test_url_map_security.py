"""Walks the URL map: every JSON route authenticates before it reads its body or query, and every route that
reads a row by id in its path answers a user of another project 404 — a row of theirs is
indistinguishable from a row that does not exist (not 200, not 403)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.extensions import csrf
from app.models import Alert, Task, WebhookDelivery
from app.schemas.automation import EndpointIn, RuleIn
from app.schemas.helpdesk import LeaveIn
from app.schemas.parsing import validate_data
from app.schemas.sla import SlaConfigIn
from app.schemas.tickets import TicketBatchIn, TicketIn
from app.schemas.workflow import ActionPlanIn
from app.schemas.processing import Dhis2ConnectionIn, ScheduleIn
from app.services.helpdesk import availability, ticket_batches, tickets
from app.services.orchestration import automation_rules, sla_configs, webhooks, work_items
from app.services.processing import schedules
from app.services.processing.jobs import enqueue_job
from tests.conftest import csrf_token_from
from tests.planning_fixtures import country, planning  # noqa: F401
from tests.ticket_fixtures import payload

WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# JSON routes that are public on purpose: the token exchange is how a client authenticates. (The OGC
# landing page, /conformance and /openapi.json are public too; they read no input.)
PUBLIC_JSON = {"api.token", "workflow_api.metadata"}  # + the seed's metadata, called without a token
# CSRF-exempt, but a page for the platform operator behind the login (its own JavaScript posts
# without our token): anonymous callers are sent to the login page.
OPERATOR_CONSOLE = "rq_dashboard"

# Path parameters that do not name a project's row, and why.
NOT_PROJECT_ROWS = {
    "process_id": "processes are the registry's (code), the same for every project",
    "pipeline_id": "OpenHEXA's ids in the deployment's one workspace (read by permission)",
    "event_id": "outbox events: the platform operator's console (403 to everyone else)",
    "calendar_id": "business calendars are shared by every project (SLA, DESIGN)",
    "filename": "static files",
}


def _json_routes(app):
    """(rule, method) of every route that skips CSRF — the JSON API and OGC's execute and dismiss."""
    exempt_blueprints = {getattr(b, "name", b) for b in csrf._exempt_blueprints}
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        blueprint = rule.endpoint.rsplit(".", 1)[0] if "." in rule.endpoint else None
        if blueprint in exempt_blueprints or f"{view.__module__}.{view.__name__}" in csrf._exempt_views:
            for method in sorted(rule.methods & (WRITES | {"GET"})):
                yield rule, method


def _path(app, rule, values: dict) -> str:
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **values)


def _any_values(rule) -> dict:
    def value(converter):
        if "int" in type(converter).__name__.lower():
            return 1
        return sorted(converter.items)[0] if hasattr(converter, "items") else "x"  # <any(a, b):…> takes its own

    return {name: value(rule._converters[name]) for name in rule.arguments}


def test_every_json_route_authenticates_before_it_reads_its_body_or_query(app, web_app, client):
    seen = []
    for rule, method in _json_routes(web_app):
        if rule.endpoint in PUBLIC_JSON:
            continue
        if rule.endpoint.startswith(OPERATOR_CONSOLE + "."):
            if method in WRITES:
                response = client.open(_path(web_app, rule, _any_values(rule)), method=method)
                assert response.status_code == 302 and "/login" in response.headers["Location"], rule.rule
            continue
        path = _path(web_app, rule, _any_values(rule))
        if method == "GET":  # a bad query string instead of a body
            path += "?page=0&limit=x&planning=true&project_id=x&status=nope"
        response = client.open(path, method=method, data='{"planning": true, "org_units": [', content_type="application/json",
                               headers={"Accept": "application/json"})
        seen.append(rule.endpoint)
        assert response.status_code == 401, (method, path, response.status_code, response.get_data(as_text=True)[:200])
    assert {"api.bulk_create_assignments", "ogc.execute", "jobs.ogc_dismiss", "tasks_api.assign_user",
            "workflow_api.transition_tasks", "sla_api.create_sla_config", "tickets_api.receive_bulk",
            "api.assignments", "api.org_units", "tasks_api.tasks"} <= set(seen)
    # the public one parses (and names what is wrong) without credentials
    assert client.post("/api/auth/token", data="{", content_type="application/json").status_code == 400


# --- another project's rows -------------------------------------------------------------------

@pytest.fixture
def rows(app, db, country, planning, desk, run_worker):
    """One row of each kind in projects the outsider is not in: `param name → (id, owner)`, and
    overrides by endpoint where one name means another kind of row."""
    from app.services.processing import dhis2

    boss, coordinator = desk.boss, country.coordinator
    outcome = tickets.submit_ticket(boss, validate_data(TicketIn, payload()))
    task = db.session.get(Task, outcome.task_id)
    plan = work_items.create_action_plan(boss, ActionPlanIn(title="Fix the wells", service_area="wash"))
    config = sla_configs.save_config(boss, SlaConfigIn(name="Wash", service_area="wash", resolution_minutes=60))
    rule = automation_rules.save_rule(boss, RuleIn(name="R", event_type="TaskStatusChanged"))
    app.config["WEBHOOK_ALLOWED_HOSTS"] = ["127.0.0.1"]
    endpoint, _ = webhooks.create_endpoint(boss, EndpointIn(name="Receiver", url="http://127.0.0.1:9/hook"))
    delivery = WebhookDelivery(id="5d1b6a1e-0000-4000-8000-000000000001", endpoint_id=endpoint.id,
                               event_id="5d1b6a1e-0000-4000-8000-000000000002", event_type="TaskCreated",
                               payload={"project_id": desk.project_id})
    alert = Alert(project_id=desk.project_id, level="warning", title="Fridge", source="test")
    db.session.add_all([delivery, alert])
    db.session.commit()
    job = enqueue_job("echo", {"message": "mine"}, launcher=coordinator)
    schedule = schedules.save_schedule(coordinator, ScheduleIn(name="Nightly", process_id="echo",
                                                               inputs={"message": "x"}, frequency="daily"))
    batch = ticket_batches.enqueue_batch(boss, TicketBatchIn(tickets=[payload()]))
    run_worker()  # the job succeeds: its results are there for its owner
    dhis2.save_connection(coordinator, Dhis2ConnectionIn(name="HMIS", url="https://dhis2.example.org", username="u",
                                                         password="secret-1"))
    leave = availability.add_leave(boss, desk.agents[0].id, LeaveIn(starts_on=date(2030, 1, 1), ends_on=date(2030, 1, 2)))
    by_name = {
        "planning_id": (planning.id, coordinator), "org_unit_id": (country.country.id, coordinator),
        "type_id": (country.types["REGION"].id, coordinator), "team_id": (country.root_team.id, coordinator),
        "job_id": (job.id, coordinator), "schedule_id": (schedule.id, coordinator),
        "ticket_id": (outcome.ticket_id, boss), "task_id": (task.id, boss), "plan_id": (plan.id, boss),
        "config_id": (config.id, boss), "rule_id": (rule.id, boss), "endpoint_id": (endpoint.id, boss),
        "delivery_id": (delivery.id, boss), "alert_id": (alert.id, boss), "workflow_id": (desk.workflow.id, boss),
        "step_id": (desk.workflow.steps[0].id, boss), "role_id": (desk.intake.id, boss),
        "name": ("payload-preview.json", coordinator), "action": ("start", boss),
        "user_id": (desk.agents[0].id, boss), "leave_id": (leave.id, boss),
    }
    by_endpoint = {("tickets_api.batch", "job_id"): (batch, boss)}
    return by_name, by_endpoint


def _missing(values: dict) -> dict:
    """The same path values with every integer id replaced by one no row has."""
    return {name: 2**31 - 1 if isinstance(value, int) else value for name, value in values.items()}


def _sessions(web_app, login, user):
    client = login(user, test_client=web_app.test_client())
    return client, csrf_token_from(client.get("/").get_data(as_text=True))


def test_every_route_reading_a_row_by_id_answers_another_project_with_404(app, web_app, login, api_token, make_user,
                                                                         rows):
    by_name, by_endpoint = rows
    outsider = make_user("admin", projects=["Project B"], username="outsider")  # every permission, elsewhere
    sessions = {"outsider": _sessions(web_app, login, outsider)}
    checked, unmapped = [], []
    for rule in sorted(web_app.url_map.iter_rules(), key=lambda r: r.rule):
        if (not rule.arguments or rule.endpoint.startswith(OPERATOR_CONSOLE + ".")
                or any(n in NOT_PROJECT_ROWS for n in rule.arguments)):
            continue
        values, owners = {}, set()
        for name in rule.arguments:
            value, owner = by_endpoint.get((rule.endpoint, name)) or by_name.get(name, (None, None))
            if value is None:
                unmapped.append(f"{rule.rule} <{name}>")
            values[name], owners = value, owners | {owner}
        if None in values.values():
            continue
        path = _path(web_app, rule, values)
        api = rule.rule.startswith(("/api/", "/tasks/api/"))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            client, token = sessions["outsider"]
            headers = api_token(outsider) if api else {"X-CSRFToken": token}
            response = client.open(path, method=method, headers=headers, json={} if api and method in WRITES else None)
            checked.append((method, rule.rule))
            if response.status_code == 400 and api:
                # the body is checked before the row is looked up: then the answer must be the very one a
                # missing row gets (nothing tells the row exists)
                missing = client.open(_path(web_app, rule, _missing(values)), method=method, headers=headers,
                                      json={} if method in WRITES else None)
                assert (missing.status_code, missing.get_json()) == (400, response.get_json()), (method, path)
                continue
            assert response.status_code == 404, (method, path, response.status_code,
                                                 response.get_data(as_text=True)[:300])
            if method == "GET" and "name" not in rule.arguments:  # the owner sees the row: the 404 above means something
                # (an echo job writes no artifact, so its owner gets 404 there too)
                owner = next(iter(owners))
                key = owner.username
                if key not in sessions:
                    sessions[key] = _sessions(web_app, login, owner)
                owner_client, _ = sessions[key]
                seen = owner_client.open(path, headers=api_token(owner) if api else {})
                assert seen.status_code != 404, (path, seen.get_data(as_text=True)[:300])
    assert not unmapped, f"routes whose path names a row this test does not know: {unmapped}"
    kinds = {r for _, r in checked}
    for must in ("/plannings/<int:planning_id>", "/teams/<int:team_id>", "/orgunits/<int:org_unit_id>",
                 "/api/workflow/tasks/<int:task_id>", "/tickets/<int:ticket_id>", "/jobs/<job_id>",
                 "/schedules/<int:schedule_id>", "/action-plans/<int:plan_id>", "/sla/configs/<int:config_id>/edit",
                 "/automation/rules/<int:rule_id>", "/automation/webhooks/<int:endpoint_id>/edit"):
        assert must in kinds, must
    assert len(checked) > 80


def test_another_projects_dhis2_connection_is_hidden_on_the_connections_page(app, db, web_app, login, make_user,
                                                                            rows):
    from app.models import Dhis2Connection

    connection = db.session.execute(select(Dhis2Connection)).scalar_one()
    outsider = login(make_user("admin", projects=["Project B"]), test_client=web_app.test_client())
    assert "HMIS" not in outsider.get("/admin/dhis2-connections").get_data(as_text=True)
    assert outsider.get(f"/admin/dhis2-connections?edit={connection.id}").status_code == 404
