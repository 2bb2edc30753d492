"""Errors: one shape per family of clients (all built in app/errors.py), and on OGC paths the RFC 7807
`type` chosen by what the error is about, never by its status alone."""
import pytest

from app.services.processing.jobs import enqueue_job

EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
JSON = {"Accept": "application/json"}
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def _problem(response, status: int, problem_type: str) -> dict:
    assert response.status_code == status and response.mimetype == "application/problem+json", response.data
    body = response.get_json()
    assert body["type"] == problem_type and body["status"] == status
    return body


# --- OGC problem types --------------------------------------------------------------------------

def test_unknown_process_is_no_such_process(client, make_user, api_token):
    headers = {**api_token(make_user()), **JSON}
    body = _problem(client.get("/processes/nope", headers=headers), 404, EXC + "no-such-process")
    assert set(body) == PROBLEM_KEYS | {"details"} and body["details"] == {"processID": "nope"}
    executed = client.post("/processes/nope/execution", json={"inputs": {}}, headers=headers)
    _problem(executed, 404, EXC + "no-such-process")


def test_unknown_job_is_no_such_job(client, make_user, api_token):
    headers = {**api_token(make_user()), **JSON}
    _problem(client.get("/jobs/nope", headers=headers), 404, EXC + "no-such-job")
    _problem(client.get("/jobs/nope/results", headers=headers), 404, EXC + "no-such-job")
    _problem(client.delete("/jobs/nope", headers=headers), 404, EXC + "no-such-job")


def test_results_of_an_unfinished_job_are_not_ready(app, client, make_user, api_token):
    user = make_user()
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    body = _problem(client.get(f"/jobs/{job.id}/results", headers=api_token(user)), 404, EXC + "result-not-ready")
    assert job.id in body["detail"] and body["details"] == {"jobID": job.id}


def test_bad_input_is_invalid_parameter_value(client, make_user, api_token):
    response = client.post("/processes/echo/execution", json={"inputs": {"message": "x", "delay": "soon"}},
                           headers=api_token(make_user()))
    body = _problem(response, 400, EXC + "invalid-parameter-value")
    assert "delay" in body["details"]


def test_other_errors_on_ogc_paths_are_generic_problems(app, client, make_user, api_token):
    user = make_user()
    headers = {**api_token(user), **JSON}
    job = enqueue_job("echo", {"message": "x"}, launcher=user)
    # a missing artifact of a job that exists: a 404, but not "no such job"
    _problem(client.get(f"/jobs/{job.id}/artifacts/missing.json", headers=headers), 404, "about:blank")
    _problem(client.put(f"/jobs/{job.id}", headers=headers), 405, "about:blank")
    unauthenticated = _problem(client.get("/processes", headers=JSON), 401, "about:blank")
    assert set(unauthenticated) == PROBLEM_KEYS
    assert client.get("/processes", headers=JSON).headers["WWW-Authenticate"] == "Bearer"


def test_browsers_on_ogc_paths_get_pages(client, make_user, login):
    login(make_user())
    page = client.get("/processes/nope", headers={"Accept": "text/html"})
    assert page.status_code == 404 and page.mimetype == "text/html" and b"<html" in page.data


# --- one shape per family -----------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/workflow/tasks/999999", "/tasks/api/tasks/999999/"])
def test_workflow_family_shape(client, make_user, api_token, path):
    response = client.get(path, headers=api_token(make_user()))
    assert response.status_code == 404 and response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"success", "message", "error_code", "details"}
    assert body["success"] is False and body["error_code"] == "NOT_FOUND" and body["details"] == {}


def test_iaso_family_shape(client, make_user, api_token):
    missing = client.get("/api/orgunits/999999/", headers=api_token(make_user()))
    assert missing.status_code == 404 and set(missing.get_json()) == {"error", "details"}
    refused = client.post("/api/auth/token", json={"username": "nobody", "password": "wrong"})
    assert refused.status_code == 401
    assert refused.get_json() == {"error": "Invalid username or password", "details": {"code": "UNAUTHORIZED"}}


def test_htmx_toast_and_page_shapes(client, make_user, login):
    login(make_user())
    toast = client.get("/orgunits/999999/children", headers={"HX-Request": "true"})
    assert toast.status_code == 404 and toast.headers["HX-Retarget"] == "#toasts"
    assert toast.headers["HX-Reswap"] == "beforeend" and b'class="toast toast-error"' in toast.data
    assert b"<html" not in toast.data and "HX-Request" in toast.headers["Vary"]
    page = client.get("/orgunits/999999")
    assert page.status_code == 404 and page.mimetype == "text/html" and b"<html" in page.data


def test_metrics_refusals_are_plain_text(client, web_app, monkeypatch):
    monkeypatch.setitem(web_app.config, "METRICS_TOKEN", "a-metrics-token")
    refused = client.get("/metrics", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401 and refused.mimetype == "text/plain"
    assert refused.get_data(as_text=True) == "Invalid metrics token.\n"
    assert refused.headers["WWW-Authenticate"] == 'Bearer realm="metrics"'
