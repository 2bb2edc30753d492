"""Property-based: every declared operation of /openapi.json, fed generated bodies, queries and path ids
(schemathesis, in-process over WSGI, on the test database): never a 5xx, and every answer matches the
document (status, content type, body schema)."""
import os

import pytest

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

# Examples per operation: 25 in the suite; FUZZ_EXAMPLES=400 for a longer hunt.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _document() -> dict:
    """The document as the app generates it (no database needed to describe the routes)."""
    from app import create_app

    with create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True}).test_request_context():
        from app.blueprints.ogc.openapi import openapi_document

        return openapi_document()


# The declared operations: Iaso-style, workflow and OGC API – Processes.
schema = schemathesis.openapi.from_dict(_document()).include(
    path_regex="^/(api|tasks/api)/|^/(processes|jobs|ogc|conformance)(/|$)")


@pytest.fixture
def bearer(make_user, api_token):
    """A coordinator of one project with a little data, so generated ids sometimes hit real rows."""
    from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn
    from app.services.planning.orgunits import create_org_unit, create_org_unit_type

    user = make_user("coordinator")
    kind = create_org_unit_type(user, OrgUnitTypeIn(name="Country"))
    create_org_unit(user, OrgUnitIn(name="Testland", org_unit_type_id=kind.id))
    _work(user)
    return api_token(user)


def _work(user) -> None:
    """An action plan with a task, and a help desk with a ticket allocated to a two-step workflow (task 2)."""
    from app.schemas.workflow import ActionPlanIn, TaskIn
    from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleIn
    from app.services.helpdesk import staff_roles as catalog
    from app.services.helpdesk.intake import receive_ticket
    from app.services.orchestration.work_items import create_action_plan, create_task
    from tests.ticket_fixtures import make_workflow, payload

    plan = create_action_plan(user, ActionPlanIn(title="Plan"))
    create_task(user, TaskIn(title="Task", action_plan_id=plan.id))
    desk = catalog.create_department(user, DepartmentIn(name="IT"))
    hardware = catalog.create_category(user, CategoryIn(name="Hardware"))
    role = catalog.create_staff_role(user, StaffRoleIn(name="Desk", user_ids=[user.id]))
    make_workflow(user, "Desk", desk, hardware, steps=[("Triage", role), ("Fix", role)])
    receive_ticket(user.project_ids[0], payload("FUZZ-1", sub_category=None))


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_input_makes_a_5xx_and_answers_match_the_document(case, bearer, web_app):
    if case.path.endswith("/execution"):
        # Run generated jobs asynchronously: a synchronous run executes the job in the request, where
        # echo's `fail` is the documented 500 of a failed job and a generated delay would stall the run.
        case.headers = {**(case.headers or {}), "Prefer": "respond-async"}
        if isinstance(case.body, dict) and case.body.get("mode") == "sync":
            case.body = {**case.body, "mode": "async"}
    # Schemathesis' WSGI transport asks for gzip/br but does not decode them (HTTP clients do);
    # compression itself is checked in test_web_delivery.py.
    case.call_and_validate(app=web_app, headers={**bearer, "Accept-Encoding": "identity"}, checks=CHECKS)
