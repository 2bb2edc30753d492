"""An OpenHEXA double on loopback: answers the documented queries and mutations, validates every
document against the schema excerpt, and can be told to fail, be slow, or end runs in any status."""
from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

import pytest
from flask import Flask, jsonify, request
from graphql import parse, validate
from werkzeug.serving import make_server

from tests.openhexa_schema import openhexa_schema

TOKEN = "openhexa-test-token-0123456789"
PIPELINE_ID = "3f1f5a1e-8d2b-4f7a-9a59-0c1f2b3c4d5e"
VERSION_ID = "9b2c6d7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"


@dataclass
class Double:
    statuses: list = field(default_factory=lambda: ["queued", "running", "success"])
    run_errors: list | None = None          # runPipeline answers success: false with these codes
    graphql_error: str | None = None        # every answer carries a GraphQL error
    fail_polls: int = 0                     # the next N pipelineRun calls answer HTTP 500
    slow_polls: int = 0                     # the next N pipelineRun calls sleep `slow_seconds`
    slow_seconds: float = 1.0
    latency: float = 0.0                    # every answer waits this long (documents are counted first)
    runs: dict = field(default_factory=dict)
    stopped: list = field(default_factory=list)
    documents: list = field(default_factory=list)
    invalid: list = field(default_factory=list)
    url: str = ""

    def last_run(self) -> dict:
        return list(self.runs.values())[-1]


PIPELINE = {
    "id": PIPELINE_ID, "code": "fieldflow-lqas", "name": "Fieldflow LQAS", "description": "test double",
    "currentVersion": {"id": VERSION_ID, "versionNumber": 3, "versionName": "v3", "parameters": [
        {"code": c, "name": c, "type": t, "multiple": m, "required": r, "default": None, "help": None, "choices": None}
        for c, t, m, r in [("connection_host", "str", False, True), ("connection_token", "str", False, True),
                           ("task_id", "str", False, True), ("planning_id", "int", False, True),
                           ("org_unit_type_sequence_identifiers", "int", True, True),
                           ("org_unit_type_quantities", "int", True, True), ("seed", "int", False, False)]]},
}


def make_app(state: Double) -> Flask:
    app = Flask("openhexa-double")

    @app.post("/graphql/")
    def graphql():
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return jsonify({"errors": [{"message": "Unauthorized"}]}), 401
        body = request.get_json()
        document = parse(body["query"])
        errors = validate(openhexa_schema(), document)
        state.documents.append(body["query"])
        time.sleep(state.latency)
        if errors:
            state.invalid.append([str(e) for e in errors])
            return jsonify({"errors": [{"message": str(e)} for e in errors]}), 400
        if state.graphql_error:
            return jsonify({"data": None, "errors": [{"message": state.graphql_error}]})
        variables = body.get("variables") or {}
        field_name = document.definitions[0].selection_set.selections[0].name.value
        return jsonify({"data": {field_name: answer(state, field_name, variables)}})

    return app


def answer(state: Double, field_name: str, variables: dict):
    if field_name == "runPipeline":
        if state.run_errors:
            return {"success": False, "errors": state.run_errors, "run": None}
        run_id = str(uuid.uuid4())
        state.runs[run_id] = {"id": run_id, "config": variables["input"]["config"], "input": variables["input"],
                              "statuses": list(state.statuses), "polls": 0}
        return {"success": True, "errors": [], "run": {"id": run_id, "status": "queued"}}
    if field_name == "pipelineRun":
        if state.fail_polls:
            state.fail_polls -= 1
            raise _Http500()
        if state.slow_polls:
            state.slow_polls -= 1
            time.sleep(state.slow_seconds)
        run = state.runs.get(variables["id"])
        if run is None:
            return None
        run["polls"] += 1
        status = run["statuses"].pop(0) if len(run["statuses"]) > 1 else run["statuses"][0]
        messages = [{"message": f"poll {i + 1}", "priority": "INFO", "timestamp": None} for i in range(run["polls"])]
        return {"id": run["id"], "status": status, "progress": min(90, 30 * run["polls"]), "duration": 1,
                "messages": messages}
    if field_name == "stopPipeline":
        state.stopped.append(variables["input"]["runId"])
        return {"success": True, "errors": []}
    if field_name == "pipelines":
        return {"pageNumber": 1, "totalPages": 1, "totalItems": 1, "items": [PIPELINE]}
    if field_name == "pipeline":
        return PIPELINE if variables.get("id") == PIPELINE_ID else None
    raise AssertionError(f"the double does not answer {field_name}")


class _Http500(Exception):
    pass


def serve(state: Double):
    app = make_app(state)

    @app.errorhandler(_Http500)
    def _fail(_):
        return "boom", 500

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/graphql/"
    return server


@pytest.fixture
def double():
    openhexa_schema()  # built once per process, now: not inside the first answer, against a client's timeout
    state = Double()
    server = serve(state)
    yield state
    server.shutdown()
    assert state.invalid == [], f"documents that do not match the schema: {state.invalid}"


# A timeout no answer of the double reaches, even on a loaded machine (a launch that times out fails its job:
# it is not retried); tests of slow answers shorten it with `short_http_timeout`.
HTTP_TIMEOUT = 5.0
SHORT_HTTP_TIMEOUT = 0.5


@pytest.fixture
def configured(app, web_app, double, make_user):
    """OpenHEXA configured to use the double (in the tests' and the web app)."""
    from app.schemas.openhexa import OpenHexaSettingsIn
    from app.services.planning import openhexa

    admin = make_user(role="admin", projects=["Demo project"], platform_operator=True)
    app.config["OPENHEXA_HTTP_TIMEOUT"] = web_app.config["OPENHEXA_HTTP_TIMEOUT"] = HTTP_TIMEOUT
    openhexa.save_config(admin, OpenHexaSettingsIn(openhexa_url=double.url, openhexa_token=TOKEN, workspace_slug="demo",
                                                   lqas_pipeline_code="fieldflow-lqas", poll_delay_seconds=0,
                                                   timeout_minutes=10))
    return admin


@pytest.fixture
def short_http_timeout(app, web_app, configured):
    """A 0.5 s HTTP timeout, for tests of slow answers (the double's `slow_seconds`, `latency`)."""
    app.config["OPENHEXA_HTTP_TIMEOUT"] = web_app.config["OPENHEXA_HTTP_TIMEOUT"] = SHORT_HTTP_TIMEOUT
