"""Words people use: job pages titled by what ran, JSON only for integrators, times in the viewer's zone."""
from tests.planning_fixtures import country, planning  # noqa: F401


def test_a_sampling_job_page_says_what_ran_in_the_viewers_time_zone(client, login, country, planning):
    from app.services.planning.sampling import launch_sampling

    job = launch_sampling(country.coordinator, planning.id, {
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id], "org_unit_type_quantities": [1], "seed": 3})
    login(country.coordinator)
    html = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    title = f"Sampling for Round 1 — {country.country.name}"
    assert f"<h1>{title}</h1>" in html and f"<title>{title} · Fieldflow</title>" in html
    assert "What it was given" in html and "Planning id" in html
    before, _, integrators = html.partition("For integrators</summary>")
    assert '<pre class="json">' not in before and '<pre class="json">' in integrators
    assert " UTC</dd>" in html  # no zone known yet
    client.set_cookie("tz", "Africa/Nairobi")
    assert " EAT</dd>" in client.get(f"/jobs/{job.id}").get_data(as_text=True)
    client.set_cookie("tz", "Mars/Olympus_Mons")  # not a zone: UTC, no error
    assert " UTC</dd>" in client.get(f"/jobs/{job.id}").get_data(as_text=True)


def test_home_page_per_role(client, login, country, planning, make_user, db, web_app):
    from app.services.processing.jobs import enqueue_job
    from app.models import Job
    from app.services.processing import job_status as st

    job = enqueue_job("lqas-sampling", {"planning_id": planning.id, "org_unit_type_sequence_identifiers":
                                        [country.types["REGION"].id], "org_unit_type_quantities": [1]},
                      country.coordinator)
    row = db.session.get(Job, job.id)
    row.status = st.FAILED
    db.session.commit()
    login(country.coordinator)
    home = client.get("/").get_data(as_text=True)
    assert "Round 1" in home and "Failed runs" in home
    assert f'href="/plannings/{planning.id}?rerun={job.id}">Edit and retry' in home
    work = client.get("/home/my-work", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "My tasks" in work and "System health" not in work
    agent_client = web_app.test_client()
    login(make_user("agent", projects=["Demo project"]), test_client=agent_client)
    agent_home = agent_client.get("/").get_data(as_text=True)
    assert "Failed runs" not in agent_home and "Edit and retry" not in agent_home
    admin_client = web_app.test_client()
    login(make_user("admin", projects=["Demo project"]), test_client=admin_client)
    health = admin_client.get("/home/my-work", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "System health" in health and "Database" in health


FORMS = ["/teams/new", "/plannings/new", "/schedules/new", "/action-plans/new", "/automation/rules/new",
         "/automation/webhooks/new", "/sla/configs/new", "/sla/calendars/new", "/admin/dhis2-connections",
         "/admin/openhexa/"]


def test_forms_an_agent_may_not_submit_are_not_offered(client, login, make_user):
    login(make_user("agent", projects=["Demo project"]))
    offered = {url: client.get(url).status_code for url in FORMS}
    assert {url: code for url, code in offered.items() if code != 403} == {}
    processes = client.get("/processes/echo").get_data(as_text=True)
    assert "<form" not in processes.split("<main")[1]  # the execute form needs MANAGE_PIPELINES


def test_rules_read_as_sentences():
    from app.template_helpers import condition_sentence, words

    assert words("TaskStatusChanged") == "task status changed" and words("payload.sub_category") == "sub category"
    assert words("it_support") == "it support"
    condition = {"all": [{"field": "payload.to", "op": "eq", "value": "completed"},
                         {"any": [{"field": "payload.priority", "op": "in", "value": ["high", "critical"]},
                                  {"not": {"field": "payload.service_area", "op": "exists"}}]}]}
    assert condition_sentence(condition) == ("the new state is completed and (the priority is one of high, critical "
                                             "or not (the service area is set))")


def test_a_user_chooses_the_time_zone_of_their_pages(client, login, csrf, country, db):
    from app.models import User

    login(country.coordinator)
    page = client.get("/profile").get_data(as_text=True)
    assert "My browser&#39;s time zone" in page or "My browser's time zone" in page
    bad = client.post("/profile", data={"time_zone": "Mars/Olympus_Mons", "csrf_token": csrf()})
    assert bad.status_code == 400 and "is not a time zone" in bad.get_data(as_text=True)
    assert client.post("/profile", data={"time_zone": "Asia/Kolkata", "csrf_token": csrf()}).status_code == 302
    db.session.expire_all()
    assert db.session.get(User, country.coordinator.id).time_zone == "Asia/Kolkata"
    client.set_cookie("tz", "Africa/Nairobi")  # the user's choice wins over the browser's
    assert 'value="Asia/Kolkata" selected' in client.get("/profile").get_data(as_text=True)
    from app.template_helpers import format_datetime
    from datetime import datetime, timezone
    with client.application.test_request_context():
        from flask_login import login_user
        login_user(db.session.get(User, country.coordinator.id))
        assert format_datetime(datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)) == "2026-01-01 17:30 IST"
