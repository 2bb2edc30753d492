"""OWSLib's OGC API – Processes client against our live server: list, describe, execute async,
then status, results and dismiss. OWSLib's `Processes` has no job methods; it reaches them through
its own request helper (`_request`), the same way it reaches every other path."""
import pytest

owslib_processes = pytest.importorskip("owslib.ogcapi.processes")


@pytest.fixture
def ows(live_server, make_user, api_token):
    import owslib.ogcapi as ogcapi

    saved = dict(ogcapi.REQUEST_HEADERS)  # OWSLib keeps headers in a module-level dict
    client = owslib_processes.Processes(live_server.url, headers=api_token(make_user()))
    yield client
    ogcapi.REQUEST_HEADERS.clear()
    ogcapi.REQUEST_HEADERS.update(saved)


def test_owslib_lists_describes_executes_and_reads_the_job(app, db, ows, run_worker):
    assert any(link["rel"] == "service-desc" for link in ows.links)
    assert {"echo", "eo-aggregate-import"} <= {p["id"] for p in ows.processes()}
    description = ows.process("echo")
    assert description["inputs"]["message"]["schema"]["type"] == "string"
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in ows.conformance()["conformsTo"]

    status = ows.execute("echo", inputs={"message": "from owslib"}, async_=True)
    job_id = status["jobID"]
    assert status["status"] == "accepted"
    assert ows.response_headers["Location"].endswith(f"/jobs/{job_id}")
    run_worker()
    assert ows._request(path=f"jobs/{job_id}")["status"] == "successful"
    assert ows._request(path=f"jobs/{job_id}/results") == {"echo": "from owslib"}

    sync = ows.execute("echo", inputs={"message": "sync"}, async_=False)
    assert sync == {"echo": "sync"}

    queued = ows.execute("echo", inputs={"message": "to dismiss"}, async_=True)["jobID"]
    assert ows._request(method="DELETE", path=f"jobs/{queued}")["status"] == "dismissed"
    assert ows._request(path=f"jobs/{queued}")["status"] == "dismissed"
    with pytest.raises(RuntimeError, match="no-such-process"):
        ows.process("nope")
