"""Schedules: DST-safe times, one run per schedule and period whatever the number of dispatchers,
placeholders, pages, and the seeded EO schedules."""
import threading
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from app.extensions import get_queue
from app.models import Job, Schedule
from app.schemas.parsing import validate_data
from app.schemas.processing import ScheduleIn
from app.services.processing import schedules as svc
from app.services.platform.errors import ValidationFailed

UTC = timezone.utc
BRUSSELS = ZoneInfo("Europe/Brussels")


def _runs(cron, tz, start, n):
    out, at = [], start
    for _ in range(n):
        at = svc.next_run(cron, tz, at)
        out.append(at)
    return out


def test_daily_runs_across_spring_forward_and_fall_back_happen_once_a_day():
    # 02:30 does not exist on 2025-03-30 in Brussels, and happens twice on 2025-10-26.
    spring = _runs("30 2 * * *", "Europe/Brussels", datetime(2025, 3, 28, 12, tzinfo=UTC), 4)
    assert [r.astimezone(BRUSSELS).strftime("%m-%d %H:%M") for r in spring] == \
        ["03-29 02:30", "03-30 03:30", "03-31 02:30", "04-01 02:30"]
    autumn = _runs("30 2 * * *", "Europe/Brussels", datetime(2025, 10, 24, 12, tzinfo=UTC), 4)
    assert [r.astimezone(BRUSSELS).strftime("%m-%d %H:%M") for r in autumn] == \
        ["10-25 02:30", "10-26 02:30", "10-27 02:30", "10-28 02:30"]
    assert autumn[1] == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)  # the first of the two 02:30s
    assert autumn[2] - autumn[1] == timedelta(hours=25)
    # 09:00 local stays 09:00 local across the change (07:00 UTC in summer, 08:00 UTC in winter).
    nine = _runs("0 9 * * *", "Europe/Brussels", datetime(2025, 10, 25, 12, tzinfo=UTC), 2)
    assert [r.hour for r in nine] == [8, 8] and nine[0].astimezone(BRUSSELS).hour == 9
    assert svc.next_run("0 9 * * *", "Europe/Brussels", datetime(2025, 10, 25, 6, tzinfo=UTC)).hour == 7


@pytest.fixture
def editor(make_user):
    return make_user(projects=["Project A"], username="planner")


def _schedule(editor, **extra):
    data = {"name": "Echo daily", "process_id": "echo", "inputs": {"message": "for {period_start}"},
            "frequency": "daily", "timezone": "Africa/Bangui", "enabled": True, **extra}
    return svc.save_schedule(editor, validate_data(ScheduleIn, data))


def test_dispatcher_enqueues_due_runs_once_with_period_inputs(app, db, editor):
    schedule = _schedule(editor)
    due = schedule.next_run_at
    assert svc.dispatch_due_schedules(now=due - timedelta(seconds=1)) == []
    created = svc.dispatch_due_schedules(now=due + timedelta(seconds=5))
    assert len(created) == 1 and created[0] == svc.run_job_id(schedule.id, due)
    job = db.session.get(Job, created[0])
    yesterday = (due.astimezone(ZoneInfo("Africa/Bangui")).date() - timedelta(days=1)).isoformat()
    assert job.inputs["message"] == f"for {yesterday}" and job.external_ref == f"schedule:{schedule.id}"
    # started by the schedule itself (no launcher), in the schedule's project
    assert job.launcher_id is None and job.project_id == schedule.project_id == editor.project_ids[0]
    assert job.launched_by == f"schedule {schedule.id}"
    db.session.expire_all()
    assert schedule.next_run_at == due + timedelta(days=1) and schedule.last_job_id == job.id
    assert svc.dispatch_due_schedules(now=due + timedelta(seconds=30)) == []


def test_two_dispatchers_never_double_run_a_period(app, db, editor):
    schedule = _schedule(editor)
    due = schedule.next_run_at
    # A second dispatcher that read the schedule before the first advanced it:
    assert svc.dispatch_schedule(schedule, due, due) is not None
    assert svc.dispatch_schedule(db.session.get(Schedule, schedule.id), due, due) is None
    # Two at the same time, each with its own app context and session:
    second = _schedule(editor, name="Echo daily 2")
    due2 = second.next_run_at
    results, barrier = [], threading.Barrier(2)

    def dispatcher():
        with app.app_context():
            barrier.wait()
            try:
                results.append(svc.dispatch_due_schedules(now=due2 + timedelta(seconds=1)))
            finally:
                from app.extensions import db as _db

                _db.session.remove()

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    [t.start() for t in threads]
    [t.join(30) for t in threads]
    made = [job_id for batch in results for job_id in batch if job_id == svc.run_job_id(second.id, due2)]
    assert len(made) == 1
    assert db.session.query(Job).filter(Job.external_ref == f"schedule:{second.id}").count() == 1
    assert db.session.query(Job).count() == 2 and get_queue().count == 2


@pytest.mark.parametrize("extra, field", [
    ({"frequency": "cron", "cron": "every day"}, "cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"process_id": "nope"}, "process_id"),
    ({"inputs": {"message": 5}}, "inputs.message"),
    ({"name": ""}, "name"),
])
def test_bad_schedules_are_refused(app, db, editor, extra, field):
    with pytest.raises(ValidationFailed) as caught:
        _schedule(editor, **extra)
    assert field in caught.value.details
    assert db.session.query(Schedule).count() == 0


def test_seeded_eo_schedules_are_disabled_dry_runs(app, db, editor):
    project_id = editor.project_ids[0]
    seeded = svc.seed_eo_schedules(project_id)
    assert svc.seed_eo_schedules(project_id)[0].id == seeded[0].id  # idempotent
    assert [s.frequency for s in seeded] == ["daily", "daily", "yearly"]
    assert all(not s.enabled and s.inputs["dryRun"] is True and s.process_id == "eo-aggregate-import" for s in seeded)
    assert {s.inputs["datasetId"] for s in seeded} == {"era5-land-temperature", "chirps-daily", "worldpop-population"}
    assert {s.project_id for s in seeded} == {project_id}
    enabled = svc.set_enabled(editor, seeded[2].id, True)
    assert enabled.next_run_at.astimezone(ZoneInfo("Africa/Bangui")).strftime("%m-%d %H:%M") == "01-01 06:00"
    year = enabled.next_run_at.year - 1  # the run on 1 January covers the previous year
    job_id = svc.dispatch_schedule(enabled, enabled.next_run_at, enabled.next_run_at)
    job = db.session.get(Job, job_id)
    assert (job.inputs["start"], job.inputs["end"]) == (f"{year}-01-01", f"{year}-12-31")


def test_schedule_pages_create_edit_pause_and_list_runs(app, db, client, make_user, login, csrf):
    login(make_user())
    token = csrf()
    assert client.get("/schedules/new").status_code == 200
    bad = client.post("/schedules/new", data={"csrf_token": token, "name": "S", "process_id": "echo",
                                             "inputs": "{not json", "frequency": "daily", "timezone": "UTC"})
    assert bad.status_code == 400
    created = client.post("/schedules/new", data={"csrf_token": token, "name": "Nightly echo", "process_id": "echo",
                                                 "inputs": '{"message": "hi"}', "frequency": "cron", "cron": "15 3 * * *",
                                                 "timezone": "Europe/Brussels", "enabled": "on"})
    assert created.status_code == 302
    schedule = db.session.query(Schedule).one()
    assert schedule.enabled and schedule.cron == "15 3 * * *"
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "Nightly echo" in page and "No runs yet" in page
    client.post(f"/schedules/{schedule.id}/toggle", data={"csrf_token": token, "enabled": "0"})
    db.session.expire_all()
    assert not db.session.get(Schedule, schedule.id).enabled
    svc.dispatch_schedule(schedule, schedule.next_run_at, schedule.next_run_at)
    assert "No runs yet" not in client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    edit = client.post(f"/schedules/{schedule.id}/edit", data={"csrf_token": token, "name": "Nightly echo", "process_id": "echo",
                                                               "inputs": '{"message": "bye"}', "frequency": "monthly",
                                                               "timezone": "UTC"})
    assert edit.status_code == 302
    db.session.expire_all()
    assert db.session.get(Schedule, schedule.id).cron == svc.PRESETS["monthly"]
    assert "Nightly echo" in client.get("/schedules").get_data(as_text=True)


# --- operable EO schedules: out of the box, run now, backfill, re-run, retry, alerts -------------

@pytest.fixture
def eo_project(app, db, editor):
    """The editor's project with country → region → four districts (level 3) over the sample country."""
    from app.models import OrgUnit, OrgUnitType

    project_id = editor.project_ids[0]
    types = [OrgUnitType(project_id=project_id, name=n, depth=d) for d, n in enumerate(("Country", "Region", "District"))]
    db.session.add_all(types)
    db.session.flush()
    parent = None
    for depth, name in ((0, "Demo"), (1, "North")):
        unit = OrgUnit(project_id=project_id, name=name, org_unit_type_id=types[depth].id, parent_id=parent, path="",
                       depth=depth, geometry=_square(18, 3, 4))
        db.session.add(unit)
        db.session.flush()
        parent = unit.id
    for i, (x, y) in enumerate(((18, 3), (20, 3), (18, 5), (20, 5))):
        db.session.add(OrgUnit(project_id=project_id, name=f"District {i}", org_unit_type_id=types[2].id, parent_id=parent,
                               path="", depth=2, geometry=_square(x, y, 2), source_ref=f"dhis2:DiStRiCt00{i}"))
    db.session.commit()
    return project_id


def _square(x, y, size):
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def test_the_seeded_eo_schedules_run_out_of_the_box_on_the_sample_data(app, db, editor, eo_project, run_worker, tmp_path):
    app.config["EO_CACHE_DIR"] = str(tmp_path)
    seeded = svc.seed_eo_schedules(eo_project)
    jobs = []
    for schedule in seeded:
        enabled = svc.set_enabled(editor, schedule.id, True)
        jobs.append(svc.dispatch_schedule(enabled, enabled.next_run_at, enabled.next_run_at))
    run_worker()
    for job_id in jobs:
        job = db.session.get(Job, job_id)
        assert job.status == "successful", (job.inputs["datasetId"], job.message)
        assert job.results["rowCount"] == 4 and job.results["sampleData"] is True
        assert job.results["importSummary"]["status"] == "SKIPPED"  # dry run without a connection


def test_run_now_and_an_idempotent_backfill_with_its_runs_listed(app, db, client, editor, eo_project, run_worker,
                                                                 login, csrf, tmp_path):
    app.config["EO_CACHE_DIR"] = str(tmp_path)
    chirps = svc.seed_eo_schedules(eo_project)[1]
    login(editor)
    token = csrf()
    now = client.post(f"/schedules/{chirps.id}/run-now", data={"csrf_token": token})
    assert now.status_code == 302
    job = db.session.query(Job).one()
    assert job.external_ref == f"schedule:{chirps.id}" and job.launcher_id == editor.id and job.inputs["start"] == job.inputs["end"]
    response = client.post(f"/schedules/{chirps.id}/backfill", data={"csrf_token": token, "start": "2024-03-01",
                                                                      "end": "2024-03-03"})
    assert response.status_code == 302
    backfilled = {svc.period_job_id(chirps.id, datetime(2024, 3, d).date()) for d in (1, 2, 3)}
    assert {j.id for j in db.session.query(Job).filter(Job.id.in_(backfilled))} == backfilled
    assert sorted(db.session.get(Job, i).inputs["start"] for i in backfilled) == ["2024-03-01", "2024-03-02", "2024-03-03"]
    again = svc.backfill(editor, chirps.id, datetime(2024, 3, 2).date(), datetime(2024, 3, 4).date())
    assert len(again["created"]) == 1 and len(again["existing"]) == 2  # one run per period, ever
    run_worker()
    page = client.get(f"/schedules/{chirps.id}").get_data(as_text=True)
    assert page.count("successful") >= 5 and "Backfill" in page
    bad = client.post(f"/schedules/{chirps.id}/backfill", data={"csrf_token": token, "start": "2024-03-05", "end": "x"})
    assert bad.status_code == 400
    monthly = svc.periods_between("monthly", datetime(2024, 1, 15).date(), datetime(2024, 4, 1).date())
    assert [p[0].isoformat() for p in monthly] == ["2024-02-01", "2024-03-01", "2024-04-01"]


def test_a_failed_run_raises_an_event_and_an_alert_and_is_retried_from_its_failed_step(
        app, db, client, editor, eo_project, run_worker, login, csrf, tmp_path):
    from app.models import Alert, OutboxEvent
    from app.services.orchestration.relay import relay_outbox

    app.config.update(EO_CACHE_DIR=str(tmp_path), EO_SAMPLE_DATA=False)
    chirps = svc.seed_eo_schedules(eo_project)[1]
    failed_id = svc.backfill(editor, chirps.id, datetime(2024, 3, 1).date(), datetime(2024, 3, 1).date())["created"][0]
    run_worker()
    failed = db.session.get(Job, failed_id)
    assert failed.status == "failed" and "2024-03-01" in failed.message
    event = db.session.query(OutboxEvent).filter(OutboxEvent.event_type == "JobFailed").one()
    assert event.payload["job_id"] == failed_id and event.payload["schedule_id"] == chirps.id
    assert event.payload["failed_step"] == "extract_source_data" and event.payload["project_id"] == eo_project
    relay_outbox()
    alert = db.session.query(Alert).filter(Alert.title == "Job failed: eo-aggregate-import").one()
    assert alert.project_id == eo_project and failed_id in alert.message
    login(editor)
    token = csrf()
    panel = client.get(f"/jobs/{failed_id}").get_data(as_text=True)
    assert 'data-retry-step="extract_source_data"' in panel and ">Re-run<" in panel
    app.config["EO_SAMPLE_DATA"] = True  # the data is there now
    retried = client.post(f"/jobs/{failed_id}/retry", data={"csrf_token": token})
    assert retried.status_code == 302
    run_worker()
    retry = db.session.query(Job).filter(Job.id != failed_id).one()
    assert retry.status == "successful", retry.message
    assert [s["message"] for s in retry.steps[:2]] == [f"reused from job {failed_id}"] * 2
    assert retry.external_ref == f"schedule:{chirps.id}" and retry.results["rowCount"] == 4
    rerun = client.post(f"/jobs/{failed_id}/rerun", data={"csrf_token": token})
    assert rerun.status_code == 302
    run_worker()
    assert db.session.query(Job).filter(Job.status == "successful").count() == 2
    assert client.post(f"/jobs/{retry.id}/rerun", data={"csrf_token": token}).status_code == 409  # only failed jobs


def test_api_clients_rerun_and_retry_failed_jobs(app, db, client, editor, eo_project, run_worker, api_token, tmp_path):
    app.config.update(EO_CACHE_DIR=str(tmp_path), EO_SAMPLE_DATA=False)
    chirps = svc.seed_eo_schedules(eo_project)[1]
    failed_id = svc.backfill(editor, chirps.id, datetime(2024, 3, 1).date(), datetime(2024, 3, 1).date())["created"][0]
    run_worker()
    headers = api_token(editor)
    assert client.post(f"/jobs/{failed_id}/retry", headers={"Accept": "application/json"}).status_code == 401
    assert client.post(f"/jobs/{failed_id}/retry").status_code == 302  # a browser: to the login page
    app.config["EO_SAMPLE_DATA"] = True
    retried = client.post(f"/jobs/{failed_id}/retry", headers=headers)
    assert retried.status_code == 201 and retried.headers["Location"].endswith(f"/jobs/{retried.get_json()['jobID']}")
    rerun = client.post(f"/jobs/{failed_id}/rerun", headers=headers)
    assert rerun.status_code == 201 and rerun.get_json()["status"] == "accepted"
    run_worker()
    done = client.get(f"/jobs/{retried.get_json()['jobID']}", headers=headers).get_json()
    assert done["status"] == "successful" and done["steps"][0]["message"] == f"reused from job {failed_id}"
    again = client.post(f"/jobs/{done['jobID']}/rerun", headers=headers)
    assert again.status_code == 409 and "only a failed job" in again.get_json()["detail"]


# --- catch-up: missed periods run once each, oldest first -----------------------------------------

BANGUI = ZoneInfo("Africa/Bangui")


def _day(d):
    return datetime(2025, 6, d).date()


def _paused_since(app, db, editor, run_worker, name, last_day, **extra):
    """A daily echo schedule made a month before 20 June 2025, whose last run covered `last_day` June
    (dispatched at its due time, successful), then paused and enabled again."""
    schedule = _schedule(editor, name=name, **extra)
    schedule.created_at = datetime(2025, 5, 20, tzinfo=UTC)
    db.session.commit()
    last = svc.dispatch_schedule(schedule, svc.period_due_at(schedule, _day(last_day)), datetime(2025, 6, 1, tzinfo=UTC))
    run_worker()
    assert db.session.get(Job, last).status == "successful"
    svc.set_enabled(editor, schedule.id, False)
    return svc.set_enabled(editor, schedule.id, True)


NOW = datetime(2025, 6, 20, 7, 0, tzinfo=BANGUI).astimezone(UTC)  # 19 June's run was due at 06:00


def test_a_schedule_whose_last_run_was_3_periods_ago_gets_exactly_3_runs_once(
        app, db, client, editor, run_worker, login):
    schedule = _paused_since(app, db, editor, run_worker, "Caught", 16, catch_up=True)
    plain = _paused_since(app, db, editor, run_worker, "Not caught", 16)  # echo's default: no catch-up
    assert schedule.catch_up is True and plain.catch_up is False
    queue = get_queue()
    created = svc.dispatch_due_schedules(now=NOW)
    assert created == [svc.period_job_id(schedule.id, _day(d)) for d in (17, 18, 19)]  # oldest first
    assert [db.session.get(Job, i).inputs["message"] for i in created] == [
        "for 2025-06-17", "for 2025-06-18", "for 2025-06-19"]
    assert queue.job_ids == created  # queued oldest first, started by the schedule itself
    assert all(db.session.get(Job, i).launcher_id is None for i in created)
    assert svc.dispatch_due_schedules(now=NOW) == []  # a second tick: nothing twice
    assert svc.dispatch_due_schedules(now=NOW + timedelta(minutes=1)) == []
    assert db.session.query(Job).filter(Job.external_ref == f"schedule:{schedule.id}").count() == 4
    assert db.session.query(Job).filter(Job.external_ref == f"schedule:{plain.id}").count() == 1
    run_worker()
    login(editor)
    page = client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
    assert "Caught up" in page and "on: missed periods are run, up to 12 back" in page
    assert [f'data-caught-up="2025-06-{d}"' in page for d in (16, 17, 18, 19)] == [False, True, True, True]
    assert "older missed periods need a backfill" not in page
    # a failed catch-up run is not run again by later ticks (re-run or retry it from its job)
    db.session.get(Job, created[1]).status = "failed"
    db.session.commit()
    assert svc.dispatch_due_schedules(now=NOW + timedelta(hours=1)) == []


def test_catch_up_after_the_dispatcher_was_down_and_its_cap(app, db, editor, run_worker):
    schedule = _paused_since(app, db, editor, run_worker, "Down", 15, catch_up=True)
    # no dispatcher since 17 June: the run due then (for 16 June) is still the next one
    schedule.next_run_at = svc.period_due_at(schedule, _day(16))
    db.session.commit()
    created = svc.dispatch_due_schedules(now=NOW)
    assert created == [svc.run_job_id(schedule.id, svc.period_due_at(schedule, _day(16)))] + [
        svc.period_job_id(schedule.id, _day(d)) for d in (17, 18, 19)]
    assert svc.dispatch_due_schedules(now=NOW) == []
    db.session.expire_all()
    assert db.session.get(Schedule, schedule.id).next_run_at > NOW
    app.config["SCHEDULE_CATCH_UP_MAX_PERIODS"] = 2
    capped = _paused_since(app, db, editor, run_worker, "Capped", 10, catch_up=True)
    assert svc.catch_up(capped, NOW) == [svc.period_job_id(capped.id, _day(d)) for d in (18, 19)]
    assert db.session.get(Schedule, capped.id).caught_up[0]["capped"] is True


def test_catch_up_is_on_for_eo_imports_and_set_on_the_form(app, db, client, editor, login, csrf):
    assert all(s.catch_up for s in svc.seed_eo_schedules(editor.project_ids[0]))
    login(editor)
    token = csrf()
    form = {"csrf_token": token, "name": "Echo", "process_id": "echo", "inputs": '{"message": "x"}',
            "frequency": "daily", "timezone": "UTC", "catch_up": "on"}
    assert client.post("/schedules/new", data=form).status_code == 302
    schedule = db.session.query(Schedule).filter(Schedule.name == "Echo").one()
    assert schedule.catch_up is True
    assert '<option value="on" selected>' in client.get(f"/schedules/{schedule.id}/edit").get_data(as_text=True)
    assert client.post(f"/schedules/{schedule.id}/edit", data={**form, "catch_up": "off"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Schedule, schedule.id).catch_up is False
    assert "<dt>Catch-up</dt><dd>off" in client.get(f"/schedules/{schedule.id}").get_data(as_text=True)
