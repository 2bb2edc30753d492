"""Health check and the admin-only RQ dashboard."""


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_reports_unreachable_redis(app_config, _migrated):
    from app import create_app

    broken = create_app({**app_config, "REDIS_URL": "redis://127.0.0.1:1/0"})
    response = broken.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {"database": "ok", "redis": "unreachable"}


def test_rq_dashboard_is_for_the_platform_operator_only(client, make_user, login, web_app):
    """It shows every project's queue: an admin of a project is not enough, the operator flag is."""
    assert client.get("/admin/rq/").status_code == 302  # to the login page
    login(make_user(role="coordinator"))
    assert client.get("/admin/rq/").status_code == 403
    project_admin = login(make_user(role="admin"), test_client=web_app.test_client())
    assert project_admin.get("/admin/rq/").status_code == 403
    admin_client = web_app.test_client()
    login(make_user(role="admin", platform_operator=True), test_client=admin_client)
    page = admin_client.get("/admin/rq/")
    assert page.status_code == 200 and b"RQ" in page.data


def test_every_rq_dashboard_page_leads_back_to_fieldflow(make_user, login, web_app):
    from app.services.processing.jobs import enqueue_job

    operator = make_user(role="admin", platform_operator=True)
    job = enqueue_job("echo", {"message": "hello"}, operator)
    admin_client = web_app.test_client()
    login(operator, test_client=admin_client)
    for path in ("/admin/rq/", "/admin/rq/0/view/queues", "/admin/rq/0/view/workers", "/admin/rq/0/view/jobs",
                 f"/admin/rq/0/view/job/{job.id}"):
        html = admin_client.get(path, follow_redirects=True).get_data(as_text=True)
        body = html.split("<body", 1)[1]
        assert body.index('<a href="/" id="back-to-fieldflow">← Back to Fieldflow</a>') < body.index("navbar-dashboard"), path
    assert "Fieldflow" in admin_client.get("/").get_data(as_text=True)  # where it leads
    data = admin_client.get("/admin/rq/0/data/queues.json")  # its data calls stay JSON
    assert data.status_code == 200 and "Back to Fieldflow" not in data.get_data(as_text=True) and "queues" in data.get_json()


def test_errors_have_one_shape_per_family(client, make_user, login, api_token):
    user = make_user()
    api = client.get("/api/orgunits/999999/", headers=api_token(user))
    assert api.status_code == 404 and set(api.get_json()) == {"error", "details"}
    ogc = client.get("/jobs/nope?f=json", headers=api_token(user))
    assert ogc.mimetype == "application/problem+json" and ogc.get_json()["status"] == 404
    login(user)
    page = client.get("/orgunits/999999")
    assert page.status_code == 404 and b"<html" in page.data
    partial = client.get("/orgunits/999999/children", headers={"HX-Request": "true"})
    assert partial.status_code == 404 and partial.headers["HX-Retarget"] == "#toasts" and b"<html" not in partial.data
