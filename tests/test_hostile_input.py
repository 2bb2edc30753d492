"""Inputs that used to end in a 5xx: each gets a clear 4xx in its family's shape, and writes nothing."""
import json

import pytest
from sqlalchemy import func, select, text

from app.models import OrgUnit, Task

HUGE_ID = 11732071955294736


@pytest.fixture
def coordinator(make_user):
    return make_user(role="coordinator", projects=["Project A"])


def test_ids_beyond_the_column_range_are_not_found(client, api_token, login, coordinator):
    headers = api_token(coordinator)
    api = client.get(f"/api/orgunits/{HUGE_ID}/", headers=headers)
    assert api.status_code == 404 and "error" in api.get_json()
    workflow = client.get(f"/api/workflow/tasks/{2**31}", headers=headers)
    assert workflow.status_code == 404 and workflow.get_json()["error_code"] == "NOT_FOUND"
    assert client.get(f"/api/orgunits/{2**31 - 1}/", headers=headers).status_code == 404  # the largest id: a plain miss
    login(coordinator)
    assert client.get(f"/plannings/{HUGE_ID}").status_code == 404


def test_a_body_over_the_limit_is_413_in_the_family_shape(client, api_token, coordinator, web_app, db, monkeypatch):
    monkeypatch.setitem(web_app.config, "MAX_CONTENT_LENGTH", 4096)
    blob = {"title": "Big", "task_type": "intake", "service_area": "it", "data": {"x": "a" * 10_000}}
    response = client.post("/api/workflow/tasks", json=blob, headers=api_token(coordinator))
    assert response.status_code == 413
    assert response.get_json()["success"] is False and response.get_json()["error_code"] == "PAYLOAD_TOO_LARGE"
    assert db.session.scalar(select(func.count()).select_from(Task)) == 0


def _nested(depth: int, leaf: str = "1") -> str:
    return '{"a": ' * depth + leaf + "}" * depth


@pytest.mark.parametrize("raw,field,message", [
    ('{"name": "a\\u0000b", "org_unit_type_id": 1}', "name", "must not contain a NUL character"),
    ('{"name": "\\ud800", "org_unit_type_id": 1}', "body", "is not valid JSON"),
    ('{"name": "x", "org_unit_type_id": 1, "geometry": ' + "[" * 1000 + "]" * 1000 + "}", "body", "recursion limit"),
    ('{"name": "x", "org_unit_type_id": 1, "geometry": ' + _nested(70) + "}", "geometry", "nested more than 64 levels"),
    ('{"name": "x", "org_unit_type_id": 1, "geometry": {"type": "a\\u0000"}}', "geometry",
     "the value.type contains a NUL character"),
])
def test_json_that_cannot_be_stored_is_a_400_naming_where(client, api_token, coordinator, db, raw, field, message):
    response = client.post("/api/orgunits/", data=raw, content_type="application/json",
                           headers=api_token(coordinator))
    assert response.status_code == 400, response.get_data(as_text=True)[:300]
    assert message in response.get_json()["details"][field][0]
    assert db.session.scalar(select(func.count()).select_from(OrgUnit)) == 0


def test_flask_json_refuses_the_same_for_routes_reading_json_themselves(web_app):
    """`request.get_json()` (forms posting JSON, callbacks not yet on a schema) applies the same limits."""
    with web_app.test_request_context("/", method="POST", data='{"a": "x\\u0000"}', content_type="application/json"):
        from flask import request
        from werkzeug.exceptions import BadRequest

        with pytest.raises(BadRequest, match="body.a contains a NUL character"):
            request.get_json()
    with web_app.test_request_context("/", method="POST", data=_nested(70), content_type="application/json"):
        with pytest.raises(BadRequest, match="nested more than 64 levels"):
            request.get_json()


def test_json_that_is_not_utf8_is_a_400(client, api_token, coordinator):
    response = client.post("/api/workflow/tasks", data=b'{"title": "\xff\xfe"}', content_type="application/json",
                           headers=api_token(coordinator))
    assert response.status_code == 400 and response.get_json()["success"] is False


def test_nul_in_a_search_box_or_form_field_is_a_400_naming_it(client, api_token, login, csrf, coordinator):
    api = client.get("/api/orgunits/?search=a%00b", headers=api_token(coordinator))
    assert api.status_code == 400 and "'search' contains a NUL character" in api.get_json()["error"]
    login(coordinator)
    page = client.get("/orgunits/?q=%00")
    assert page.status_code == 400 and "contains a NUL character" in page.get_data(as_text=True)
    form = client.post("/plannings/new", data={"name": "a\x00b", "csrf_token": csrf()})
    assert form.status_code == 400 and "&#39;name&#39; contains a NUL character" in form.get_data(as_text=True)


def test_the_500_handler_survives_a_failed_transaction(app_config, make_user, api_token):
    """A view that breaks the session and then raises: the client still gets the family's JSON,
    never the server's bare HTML page (the handler rolls back before logging or rendering)."""
    from app import create_app
    from app.extensions import db as _db
    from app.security import api_user

    broken = create_app({**app_config, "PROPAGATE_EXCEPTIONS": False, "TESTING": False})

    @broken.get("/api/broken/")
    def _broken():
        api_user()
        try:
            _db.session.execute(text("SELECT 1/0"))
        except Exception:  # noqa: BLE001 — leave the session needing a rollback, then fail
            pass
        raise RuntimeError("boom")

    with broken.app_context():
        headers = api_token(make_user())
    response = broken.test_client().get("/api/broken/", headers=headers)
    assert response.status_code == 500
    assert response.get_json() == {"error": "Something went wrong on our side; it has been logged.", "details": {"code": "INTERNAL_ERROR"}}
    with broken.app_context():
        for engine in _db.engines.values():
            engine.dispose()


def test_errors_in_json_bodies_keep_working_for_valid_documents(client, api_token, coordinator):
    body = json.dumps({"title": "Fine ünïcødé ✓", "task_type": "intake", "service_area": "it"})
    response = client.post("/api/workflow/tasks", data=body, content_type="application/json",
                           headers=api_token(coordinator))
    assert response.status_code == 201 and response.get_json()["task"]["title"] == "Fine ünïcødé ✓"


def test_absurd_page_numbers_on_pages_are_a_400_not_a_500(client, login, make_user, db):
    """Every paged HTML list (and the JSON lists, through the same `page_of`)."""
    operator = make_user("admin", platform_operator=True)
    login(operator)
    for path in ("/plannings/", "/action-plans/", "/sla/at-risk", "/sla/breached", "/automation/alerts", "/automation/webhooks", "/jobs",
                 "/tickets/", "/admin/outbox"):
        for page in ("9223372036854775807", "1000001"):
            response = client.get(f"{path}?page={page}")
            assert response.status_code == 400, (path, page, response.status_code)
            assert "page" in response.get_data(as_text=True)
        assert client.get(f"{path}?page=2").status_code == 200, path  # a page past the end is just empty
