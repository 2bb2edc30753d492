"""Words people use: job pages titled by what ran, values and processes in words, rules as sentences, states
and areas without underscores, JSON and event names only behind "For integrators", times in the viewer's zone."""
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
    assert '<pre class="json"' not in before and '<pre class="json" tabindex="0">' in integrators
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


def _shown_text(html: str) -> str:
    """What a person reads on a page: no markup, no scripts, nothing behind "For integrators"."""
    import re

    html = re.sub(r"<script.*?</script>|<details class=\"integrators\".*?</details>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_job_pages_name_what_ran_and_say_what_it_was_given_in_words(client, login, country, planning, run_worker):
    import re

    from app.services.planning.sampling import launch_sampling
    from app.services.processing.jobs import enqueue_job

    sampling = launch_sampling(country.coordinator, planning.id, {
        "org_unit_type_sequence_identifiers": [country.types["REGION"].id], "org_unit_type_quantities": [1], "seed": 3})
    echo = enqueue_job("echo", {"message": "hello", "fail": True}, country.coordinator, project_id=planning.project_id)
    run_worker()
    login(country.coordinator)
    listing = client.get("/jobs").get_data(as_text=True)
    assert f">Sampling for Round 1 — {country.country.name}</a>" in listing and ">lqas-sampling</a>" not in listing

    page = client.get(f"/jobs/{echo.id}").get_data(as_text=True)
    shown = page.partition("For integrators</summary>")[0]
    assert "<strong>Echo</strong>" in shown and "Started: Echo" in shown  # the process by its title
    given = dict(re.findall(r"<dt>([^<]+)</dt>\s*<dd>([^<]*)</dd>", shown.split("What it was given")[1]))
    assert given["Fail"] == "yes" and given["Delay"] == "0" and given["Message"] == "hello"
    assert re.search(r"<time>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", shown)  # the log in the viewer's zone
    client.set_cookie("tz", "Africa/Nairobi")
    assert " EAT</time>" in client.get(f"/jobs/{echo.id}").get_data(as_text=True)

    text = _shown_text(client.get(f"/jobs/{sampling.id}").get_data(as_text=True))
    assert "Org unit type criteria — " in text and "Seed 3 " in text
    for raw in ("None", "[]", "True", "False", "lqas-sampling"):
        assert raw not in text, raw


def test_rules_read_as_sentences_on_their_pages_and_in_their_form(client, login, make_user):
    import re

    from app.schemas.automation import RuleIn
    from app.services.orchestration.automation_rules import save_rule

    coordinator = make_user("coordinator", ["Project A"])
    rule = save_rule(coordinator, RuleIn(
        name="Blocked tasks", event_type="TaskStatusChanged", condition={"field": "payload.to", "op": "eq", "value": "blocked"},
        actions=[{"type": "create_task", "title": "Unblock {payload.task_id}", "task_type": "data_check",
                  "service_area": "it_support", "priority": "high"},
                 {"type": "transition", "to": "in_progress"}]))
    login(coordinator)
    page = client.get(f"/automation/rules/{rule.id}").get_data(as_text=True)
    text = _shown_text(page)
    assert "Create a high data check task “Unblock ‹task id›” in it support" in text and "Move to in progress" in text
    assert "No “task status changed” events yet" in text and "When Task status changed, if the new state is blocked" in text
    for raw in ("TaskStatusChanged", "payload", "in_progress", "it_support", "data_check"):
        assert raw not in text, raw
    assert "payload.to" in page.partition("For integrators</summary>")[2]  # the JSON is still there for integrators

    form = client.get(f"/automation/rules/{rule.id}/edit").get_data(as_text=True)
    assert '<option value="TaskStatusChanged" selected>Task status changed</option>' in form
    assert re.search(r'<option value="not_in"\s*>is none of</option>', form)
    assert re.search(r'<option value="eq"\s*selected>is</option>', form)


def test_a_tickets_events_are_for_integrators(client, login, desk):
    from app.services.helpdesk.intake import receive_ticket
    from tests.ticket_fixtures import payload

    ticket = receive_ticket(desk.project_id, payload("WORDS-1", subject="Laptop will not boot"))
    login(desk.agents[0])
    html = client.get(f"/tickets/{ticket.ticket_id}").get_data(as_text=True)
    before, summary, after = html.partition("For integrators: events sent to automations and webhooks")
    assert summary and "TaskCreated" not in before and "TaskCreated" in after


def test_processes_say_their_steps_and_outputs_in_words(client, login, make_user, web_app):
    login(make_user("admin", ["Project A"]))
    page = client.get("/processes/demo-steps").get_data(as_text=True)
    assert "<li>Validate inputs</li>" in page and '<option value="validate_inputs" >Validate inputs</option>' in page
    assert '<button class="btn btn-primary" type="submit">Run</button>' in page
    assert "validate_inputs</li>" not in page and ">demo-steps</span></nav>" not in page
    sampling = _shown_text(client.get("/processes/lqas-sampling").get_data(as_text=True))
    assert "Assignments created" in sampling and "assignments_created" not in sampling
    listing = client.get("/processes").get_data(as_text=True)
    assert "/openapi.json" not in _shown_text(listing) and "/openapi.json" in listing  # behind "For integrators"
    agent = web_app.test_client()
    login(make_user("agent", ["Project A"]), test_client=agent)
    refused = agent.get("/processes/echo").get_data(as_text=True)
    assert "ask an administrator" in refused and "MANAGE_PIPELINES" not in refused


def test_sla_pages_name_states_and_areas_in_words(client, login, make_user):
    from app.schemas.sla import SlaConfigIn
    from app.services.orchestration.sla_configs import save_config

    admin = make_user("admin", ["Project A"])
    save_config(admin, SlaConfigIn(name="IT fixes", service_area="it_support", resolution_minutes=60,
                                   pause_states=["blocked", "in_progress"]))
    login(admin)
    configs = _shown_text(client.get("/sla/configs").get_data(as_text=True))
    assert "IT fixes Project A it support any " in configs and "blocked, in progress" in configs
    form = client.get("/sla/configs/new").get_data(as_text=True)
    assert 'value="in_progress" > in progress</label>' in form or 'value="in_progress" checked> in progress</label>' in form
    assert "in_progress" not in _shown_text(form)
