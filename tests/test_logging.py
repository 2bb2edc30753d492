"""Structured logs: JSON lines carrying the request's correlation id, the text format with `[cid=…]`,
correlation ids from headers (validated) and from `correlation_scope`, and secrets redacted."""
from __future__ import annotations

import json
import logging
import re

import pytest
from flask import g

from app import create_app
from app.logging_setup import correlation_scope, current_correlation_id


@pytest.fixture
def log_app(app_config, _migrated, capsys):
    """An app configured as a fresh process would be: the root logger has no handlers while it is
    created, so ours (on stderr, captured by capsys) is installed; pytest's own come back at once."""
    root = logging.getLogger()
    level = root.level
    made = []

    def _make(log_format: str):
        others = root.handlers[:]
        for handler in others:
            root.removeHandler(handler)
        try:
            application = create_app({**app_config, "LOG_FORMAT": log_format})
        finally:
            for handler in others:
                root.addHandler(handler)
        made.append(application)
        return application

    def _lines() -> list[str]:
        return [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    _make.lines = _lines
    yield _make
    for handler in root.handlers[:]:
        if getattr(handler, "fieldflow", False):
            root.removeHandler(handler)
    root.setLevel(level)
    from app.extensions import db

    for application in made:
        with application.app_context():
            for engine in db.engines.values():
                engine.dispose()


def test_json_lines_carry_the_correlation_id_sent_by_the_client(log_app):
    application = log_app("json")
    response = application.test_client().get("/healthz", headers={"X-Correlation-ID": "req-42.a:b"})
    assert response.status_code == 200
    assert response.headers["X-Correlation-ID"] == "req-42.a:b"
    entries = [json.loads(line) for line in log_app.lines()]  # every line is one JSON object
    access = [e for e in entries if e["logger"] == "app.request"]
    assert len(access) == 1
    entry = access[0]
    assert entry["correlation_id"] == "req-42.a:b"
    assert (entry["method"], entry["path"], entry["status"], entry["level"]) == ("GET", "/healthz", 200, "INFO")
    assert re.fullmatch(r"[0-9a-f]{32}", entry["request_id"])
    assert response.headers["X-Request-ID"] == entry["request_id"]
    assert entry["ts"].endswith("+00:00") and "duration_ms" in entry


def test_json_logs_of_background_work_use_the_scope_and_extra_fields(log_app):
    log_app("json")
    log = logging.getLogger("tests.background_job")  # a logger no earlier fileConfig() disabled
    with correlation_scope("task:17") as cid:
        log.warning("event %s failed: token=%s", "e-1", "s3cr3t-value", extra={"event_id": "e-1"})
        log.info("explicit id wins", extra={"correlation_id": "other"})
    log.info("outside any scope")
    first, second, third = (json.loads(line) for line in log_app.lines())
    assert cid == "task:17"
    assert first["correlation_id"] == "task:17" and first["event_id"] == "e-1"
    assert "s3cr3t-value" not in json.dumps(first) and first["message"] == "event e-1 failed: token=***"
    assert second["correlation_id"] == "other"
    assert third["correlation_id"] is None and third["message"] == "outside any scope"
    assert "path" not in third and "user_id" not in third  # request fields only when known


def test_json_exceptions_are_redacted_and_stay_one_line(log_app):
    log_app("json")
    try:
        raise RuntimeError('upstream said "Authorization: Bearer abc.def.ghi"')
    except RuntimeError:
        logging.getLogger("app.test").exception("call failed")
    (line,) = log_app.lines()
    entry = json.loads(line)
    assert "abc.def.ghi" not in line and "Bearer ***" in entry["exc_info"]


def test_text_format_appends_the_correlation_id_and_redacts(log_app):
    application = log_app("text")
    application.test_client().get("/healthz", headers={"X-Request-ID": "lb-7"})
    logging.getLogger("app.test").warning("login with password=hunter2")
    access, warning = log_app.lines()
    assert re.fullmatch(r"\S+ \S+ INFO app\.request: GET /healthz 200 \[cid=lb-7\]", access)
    assert warning.endswith("WARNING app.test: login with password=***")  # no id outside a request


@pytest.mark.parametrize("header, value", [
    ("X-Correlation-ID", "has spaces in it"),
    ("X-Correlation-ID", "a" * 65),
    ("X-Correlation-ID", "semi;colon"),
    ("X-Request-ID", "<script>"),
])
def test_invalid_ids_are_replaced_with_a_fresh_one(client, header, value):
    response = client.get("/healthz", headers={header: value})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Correlation-ID"])


def test_request_id_serves_as_correlation_id_when_none_is_given(client):
    response = client.get("/healthz", headers={"X-Request-ID": "x" * 64})
    assert response.headers["X-Correlation-ID"] == "x" * 64
    fresh = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["X-Correlation-ID"])
    assert fresh.headers["X-Correlation-ID"] != client.get("/healthz").headers["X-Correlation-ID"]


def test_current_correlation_id_in_requests_and_scopes(app):
    assert current_correlation_id() is None
    with correlation_scope("outer"):
        with correlation_scope(None) as inner:
            assert re.fullmatch(r"[0-9a-f]{32}", inner) and current_correlation_id() == inner
        assert current_correlation_id() == "outer"
    assert current_correlation_id() is None
    with app.test_request_context("/", headers={"X-Correlation-ID": "from-header"}):
        app.preprocess_request()
        assert g.correlation_id == "from-header" == current_correlation_id()
        with correlation_scope("job-1"):  # an explicit scope inside a request is more specific
            assert current_correlation_id() == "job-1"


def test_json_lines_name_the_logged_in_user(log_app, make_user, login):
    application = log_app("json")
    user = make_user()
    browser_client = application.test_client()
    login(user, test_client=browser_client)
    log_app.lines()
    assert browser_client.get("/").status_code == 200
    (access,) = [json.loads(line) for line in log_app.lines() if '"app.request"' in line]
    assert (access["path"], access["user_id"]) == ("/", user.id)
