"""Property-based: every declared operation of /openapi.json, fed generated bodies, queries and path ids
(schemathesis, in-process over WSGI, on the test database): never a 5xx, and every answer matches the
document (status, content type, body schema)."""
import re

import pytest

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance, response_schema_conformance, status_code_conformance,
)

from tests.test_openapi import PENDING

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _document() -> dict:
    """The document as the app generates it (no database needed to describe the routes)."""
    from app import create_app

    with create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "TESTING": True}).test_request_context():
        from app.blueprints.ogc.openapi import openapi_document

        return openapi_document()


# The JSON API's declared operations: Iaso-style, workflow and OGC API – Processes.
schema = schemathesis.openapi.from_dict(_document()).include(
    path_regex="^/(api|tasks/api)/|^/(processes|jobs|ogc|conformance)(/|$)").exclude(
    operation_id_regex="|".join(f"^{re.escape(endpoint)}[.]" for endpoint in PENDING))


@pytest.fixture
def bearer(make_user, api_token):
    """A coordinator of one project with a little data, so generated ids sometimes hit real rows."""
    from app.schemas.orgunits import OrgUnitIn, OrgUnitTypeIn
    from app.services.planning.orgunits import create_org_unit, create_org_unit_type

    user = make_user("coordinator")
    kind = create_org_unit_type(user, OrgUnitTypeIn(name="Country"))
    create_org_unit(user, OrgUnitIn(name="Testland", org_unit_type_id=kind.id))
    return api_token(user)


@schema.parametrize()
@settings(max_examples=25, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_no_input_makes_a_5xx_and_answers_match_the_document(case, bearer, web_app):
    if case.path.endswith("/execution"):
        # Run generated jobs asynchronously: a synchronous run executes the job in the request, where
        # echo's `fail` is the documented 500 of a failed job and a generated delay would stall the run.
        case.headers = {**(case.headers or {}), "Prefer": "respond-async"}
        if isinstance(case.body, dict) and case.body.get("mode") == "sync":
            case.body = {**case.body, "mode": "async"}
    case.call_and_validate(app=web_app, headers=bearer, checks=CHECKS)
