"""SLA clocks: due times across a weekend, a holiday and a DST change; pause/resume; response and
resolution clocks stopped by transitions; the scan emitting each warning and breach once; config
precedence; validation naming the bad fields."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from app.models import BusinessCalendarConfig, OutboxEvent, SlaConfig, SlaRecord, Task
from app.services.orchestration import sla, sla_scan
from app.services.orchestration import sla_reports
from app.services.orchestration import sla_configs as cfg
from app.services.platform.errors import ValidationFailed
from app.schemas.parsing import validate_data
from app.schemas.sla import CalendarIn, SlaConfigChanges, SlaConfigIn
from app.schemas.workflow import TaskIn

UTC = timezone.utc


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def coord(make_user):
    return make_user("coordinator", projects=("Project A",))


@pytest.fixture
def project_id(coord):
    return coord.project_ids[0]


def calendar(db, name="Office", **fields) -> BusinessCalendarConfig:
    row = BusinessCalendarConfig(name=name, **{"timezone": "UTC", "work_start": "08:00", "work_end": "17:00",
                                                "workdays": [0, 1, 2, 3, 4], "extra_holidays": [], **fields})
    db.session.add(row)
    db.session.commit()
    return row


def config(db, minutes=240, project_id=None, area="*", task_type="assessment", cal=None, **fields) -> SlaConfig:
    row = SlaConfig(name=f"{area}/{task_type}/{project_id}", project_id=project_id, service_area=area,
                    task_type=task_type, resolution_minutes=minutes, calendar_id=cal.id if cal else None,
                    **{"warning_percent": 80, "pause_states": ["blocked"], "enabled": True, **fields})
    db.session.add(row)
    db.session.commit()
    return row


def new_task(db, project_id, now, task_type="assessment", area="nutrition") -> Task:
    task = Task(project_id=project_id, kind="work_item", title=f"{task_type} in {area}", task_type=task_type,
                service_area=area, status="new", created_at=now, updated_at=now)
    db.session.add(task)
    db.session.flush()
    sla.start_clocks(task, now)
    db.session.commit()
    return task


def move(db, task, to_state, now) -> None:
    """What `transitions.transition` does to the clocks, with an explicit time."""
    before, task.status = task.status, to_state
    sla.write_clocks(sla.clock_writes([(task, before, to_state)], now))
    db.session.commit()


def clock(db, task, kind="resolution") -> SlaRecord:
    db.session.expire_all()
    return db.session.execute(select(SlaRecord).where(SlaRecord.task_id == task.id, SlaRecord.kind == kind)).scalar_one()


def events(db, event_type) -> list[OutboxEvent]:
    return db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == event_type)).scalars().all()


# --- due times ------------------------------------------------------------------------------------

def test_seed_defaults_are_idempotent_and_around_the_clock(db, project_id):
    sla.seed_sla_defaults()
    sla.seed_sla_defaults()
    seeded = {c.task_type: c for c in db.session.execute(select(SlaConfig)).scalars()}
    assert {t: c.resolution_minutes for t, c in seeded.items()} == {"intake": 60, "assessment": 240, "review": 120,
                                                                     "general": 480}
    assert all(c.project_id is None and c.service_area == "*" and c.pause_states == ["blocked"]
               for c in seeded.values())
    default = db.session.execute(select(BusinessCalendarConfig)).scalar_one()
    assert (default.name, default.timezone, default.work_start, default.work_end, default.workdays) == (
        "Default", "UTC", "00:00", "24:00", [0, 1, 2, 3, 4, 5, 6])

    task = new_task(db, project_id, at(2024, 6, 7, 16, 0))  # Friday 16:00: the weekend counts (the seed's targets)
    record = clock(db, task)
    assert record.due_at == at(2024, 6, 7, 20, 0)  # + 240 minutes
    assert record.warn_at == at(2024, 6, 7, 19, 12)  # 80 % of 240 = 192 min
    assert (record.status, record.target_minutes, record.calendar["timezone"]) == ("running", 240, "UTC")


def test_country_and_extra_holidays_are_skipped(db, project_id):
    nairobi = calendar(db, "Nairobi", timezone="Africa/Nairobi", country="KE", extra_holidays=["2024-12-13"])
    config(db, cal=nairobi)
    # Wednesday 11 Dec 16:00 Nairobi (13:00 UTC): 60 min; Thu 12 Dec is Jamhuri Day, Fri 13 Dec an extra
    # holiday, then the weekend: the remaining 180 min run Monday 16 Dec 08:00–11:00 Nairobi.
    task = new_task(db, project_id, at(2024, 12, 11, 13, 0))
    assert clock(db, task).due_at == at(2024, 12, 16, 8, 0)


def test_due_time_across_the_spring_dst_change(db, project_id):
    berlin = calendar(db, "Berlin", timezone="Europe/Berlin")
    config(db, cal=berlin)
    # Friday 29 Mar 2024 16:00 CET (15:00 UTC); clocks go forward on Sunday 31 Mar. The 180 minutes
    # left end Monday 11:00 CEST, which is 09:00 UTC (10:00 UTC had the offset stayed +1).
    task = new_task(db, project_id, at(2024, 3, 29, 15, 0))
    assert clock(db, task).due_at == at(2024, 4, 1, 9, 0)


def test_no_matching_config_starts_no_clock(db, project_id):
    config(db, task_type="review")
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake")
    assert db.session.execute(select(func.count()).select_from(SlaRecord)).scalar_one() == 0
    assert sla_reports.task_sla_summary([task.id]) == {}


# --- transitions ------------------------------------------------------------------------------------

def test_pause_and_resume_move_the_due_time_by_the_paused_business_time(db, project_id):
    config(db, minutes=240)
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0))  # Monday 08:00, due 12:00
    assert clock(db, task).due_at == at(2024, 6, 3, 12, 0)
    move(db, task, "blocked", at(2024, 6, 3, 9, 0))
    paused = clock(db, task)
    assert (paused.status, paused.due_at, paused.warn_at, paused.remaining_minutes) == ("paused", None, None, 180)
    assert sla_reports.task_sla_summary([task.id])[task.id]["paused"] is True
    move(db, task, "in_progress", at(2024, 6, 4, 10, 0))  # Tuesday 10:00: 180 business minutes left
    resumed = clock(db, task)
    assert (resumed.status, resumed.due_at, resumed.remaining_minutes, resumed.paused_at) == (
        "running", at(2024, 6, 4, 13, 0), None, None)
    assert resumed.warn_at == at(2024, 6, 4, 12, 12)  # 132 of the 180 minutes: warn at 80 % of 240
    move(db, task, "completed", at(2024, 6, 4, 12, 30))
    done = clock(db, task)
    assert (done.status, done.stopped_at) == ("met", at(2024, 6, 4, 12, 30))
    assert sla_reports.task_sla_summary([task.id])[task.id]["percent_used"] == pytest.approx(100 * 210 / 240, abs=0.1)


def test_a_clock_loaded_in_the_session_follows_the_change_before_the_commit(db, project_id):
    """Clocks change by UPDATE statements, not through ORM objects; one already loaded is kept in step."""
    config(db, minutes=240)
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0))
    loaded = clock(db, task)
    before, task.status = task.status, "blocked"
    sla.write_clocks(sla.clock_writes([(task, before, "blocked")], at(2024, 6, 3, 9, 0)))
    assert (loaded.status, loaded.due_at, loaded.paused_at, loaded.remaining_minutes) == (
        "paused", None, at(2024, 6, 3, 9, 0), 180)
    db.session.commit()
    assert clock(db, task).remaining_minutes == 180


def test_response_clock_stops_at_in_progress_and_resolution_at_completed(db, project_id):
    config(db, minutes=240, response_minutes=30)
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0))
    assert clock(db, task, "response").due_at == at(2024, 6, 3, 8, 30)
    move(db, task, "in_progress", at(2024, 6, 3, 8, 45))  # late for the response target
    assert clock(db, task, "response").status == "missed"
    assert clock(db, task).status == "running"
    summary = sla_reports.task_sla_summary([task.id])[task.id]
    assert (summary["kind"], summary["status"], summary["due_at"]) == ("resolution", "running", "2024-06-03T12:00:00Z")
    move(db, task, "completed", at(2024, 6, 3, 11, 0))
    assert clock(db, task).status == "met"


def test_cancel_cancels_open_clocks_even_paused_ones(db, project_id):
    config(db)
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0))
    move(db, task, "blocked", at(2024, 6, 3, 9, 0))
    move(db, task, "cancelled", at(2024, 6, 3, 10, 0))
    record = clock(db, task)
    assert (record.status, record.stopped_at) == ("cancelled", at(2024, 6, 3, 10, 0))
    assert sla_scan.scan_sla_breaches(at(2024, 7, 1, 9, 0)) == {"warned": 0, "breached": 0}


def test_clocks_follow_the_real_transition_service(db, coord):
    from app.services.orchestration.transitions import transition
    from app.services.orchestration.work_items import create_task

    sla.seed_sla_defaults()
    task = create_task(coord, TaskIn(title="Screen the children", task_type="intake", service_area="nutrition"))
    record = clock(db, task)
    assert (record.status, record.target_minutes) == ("running", 60)
    transition(coord, "task", task.id, "blocked", reason="No scales", now=record.started_at)
    assert clock(db, task).status == "paused"
    transition(coord, "task", task.id, "in_progress", now=record.started_at)
    assert clock(db, task).status == "running"


# --- the scan -------------------------------------------------------------------------------------

def test_warning_then_breach_are_each_emitted_once(db, project_id):
    config(db, minutes=60, task_type="intake")
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake")  # warn 08:48, due 09:00
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 8, 47)) == {"warned": 0, "breached": 0}
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 8, 50)) == {"warned": 1, "breached": 0}
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 8, 55)) == {"warned": 0, "breached": 0}
    assert clock(db, task).status == "running" and sla_reports.task_sla_summary([task.id])[task.id]["warned"]
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 9, 1)) == {"warned": 0, "breached": 1}
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 9, 30)) == {"warned": 0, "breached": 0}
    assert len(events(db, "SlaWarning")) == 1
    [breach] = events(db, "SlaBreached")
    record = clock(db, task)
    assert breach.payload == {"task_id": task.id, "sla_record_id": record.id, "kind": "resolution",
                              "project_id": project_id, "service_area": "nutrition", "task_type": "intake",
                              "due_at": "2024-06-03T09:00:00Z", "target_minutes": 60}
    assert (breach.aggregate_type, breach.aggregate_id, breach.correlation_id) == ("task", str(task.id), f"task:{task.id}")
    assert (record.status, record.breached_at) == ("breached", at(2024, 6, 3, 9, 1))
    move(db, task, "in_progress", at(2024, 6, 3, 10, 0))
    move(db, task, "completed", at(2024, 6, 3, 10, 30))
    assert clock(db, task).status == "missed"


def test_a_clock_found_past_due_gets_the_breach_only(db, project_id):
    config(db, minutes=60, task_type="intake")
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake")
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 12, 0)) == {"warned": 0, "breached": 1}
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 12, 5)) == {"warned": 0, "breached": 0}
    assert events(db, "SlaWarning") == [] and len(events(db, "SlaBreached")) == 1
    # paused while breached, it stays breached when it resumes
    move(db, task, "blocked", at(2024, 6, 3, 13, 0))
    move(db, task, "in_progress", at(2024, 6, 3, 14, 0))
    record = clock(db, task)
    assert record.status == "breached" and record.due_at == at(2024, 6, 3, 14, 0)
    assert sla_scan.scan_sla_breaches(at(2024, 6, 3, 15, 0)) == {"warned": 0, "breached": 0}


def test_breach_of_a_ticket_task_carries_the_ticket_correlation(db, project_id):
    from app.models import Ticket

    config(db, minutes=60, task_type="intake")
    ticket = Ticket(project_id=project_id, external_id="HD-1", subject="No vaccines")
    db.session.add(ticket)
    db.session.flush()
    task = Task(project_id=project_id, kind="ticket_task", ticket_id=ticket.id, title="Ticket task", task_type="intake",
                service_area="nutrition", status="new")
    db.session.add(task)
    db.session.flush()
    sla.start_clocks(task, at(2024, 6, 3, 8, 0))
    db.session.commit()
    assert sla_scan.scan_sla_breaches(at(2024, 6, 4, 8, 0)) == {"warned": 0, "breached": 1}
    [event] = events(db, "SlaBreached")
    assert (event.correlation_id, event.payload["task_id"], event.status) == (f"ticket:{ticket.id}", task.id, "pending")


def test_paused_clocks_are_not_scanned(db, project_id):
    config(db, minutes=60, task_type="intake")
    task = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake")
    move(db, task, "blocked", at(2024, 6, 3, 8, 10))
    assert sla_scan.scan_sla_breaches(at(2024, 6, 5, 12, 0)) == {"warned": 0, "breached": 0}


def test_cron_job_runs_the_scan(app, db, project_id):
    from app.rq_jobs.sla import scan_sla_breaches_job

    config(db, minutes=60, task_type="intake")
    new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake")
    assert scan_sla_breaches_job() == {"warned": 0, "breached": 1}  # "now" is long after 2024
    assert len(events(db, "SlaBreached")) == 1


def test_compliance_summary_per_area(db, coord, project_id):
    config(db, minutes=60, task_type="*")
    now = datetime.now(UTC).replace(microsecond=0)
    ok = new_task(db, project_id, now, task_type="intake", area="nutrition")
    move(db, ok, "in_progress", now)
    move(db, ok, "completed", now)
    late = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="intake", area="nutrition")
    open_late = new_task(db, project_id, at(2024, 6, 3, 8, 0), task_type="review", area="wash")
    sla_scan.scan_sla_breaches()
    move(db, late, "in_progress", now)
    move(db, late, "completed", now)
    summary = sla_reports.compliance_summary(coord)
    areas = {a["service_area"]: a for a in summary["areas"]}
    assert areas["nutrition"] == {"service_area": "nutrition", "met": 1, "missed": 1, "breached_open": 0,
                                  "compliance_percent": 50.0}
    assert areas["wash"]["breached_open"] == 1 and areas["wash"]["compliance_percent"] == 0.0
    assert (summary["breached"], summary["at_risk"]) == (1, 0)
    assert sla_reports.task_sla_summary([open_late.id])[open_late.id]["breached"] is True


# --- configs -------------------------------------------------------------------------------------

def test_most_specific_config_wins(db, project_id, make_user):
    other = make_user("coordinator", projects=("Project B",)).project_ids[0]
    any_any = config(db, task_type="*")
    global_type = config(db, task_type="assessment")
    global_area = config(db, area="nutrition", task_type="*")
    global_both = config(db, area="nutrition", task_type="assessment")
    assert sla.match_config(project_id, "nutrition", "assessment") == global_both
    assert sla.match_config(project_id, "wash", "assessment") == global_type
    assert sla.match_config(project_id, "nutrition", "review") == global_area
    assert sla.match_config(project_id, "wash", "review") == any_any
    project_area = config(db, project_id=project_id, area="nutrition", task_type="*")
    assert sla.match_config(project_id, "nutrition", "assessment") == project_area  # project beats global
    project_type = config(db, project_id=project_id, task_type="assessment")
    assert sla.match_config(project_id, "nutrition", "assessment") == project_type  # type before area
    project_both = config(db, project_id=project_id, area="nutrition", task_type="assessment")
    assert sla.match_config(project_id, "nutrition", "assessment") == project_both
    assert sla.match_config(other, "nutrition", "assessment") == global_both
    project_both.enabled = False
    db.session.commit()
    assert sla.match_config(project_id, "nutrition", "assessment") == project_type


def test_config_validation_names_each_bad_field(db, coord, project_id, make_user):
    with pytest.raises(ValidationFailed) as bad:  # the schema: each field on its own
        validate_data(SlaConfigIn, {"name": "", "service_area": "Nutrition!", "task_type": "", "resolution_minutes": "x",
                                    "response_minutes": 0, "warning_percent": 150, "pause_states": ["completed"],
                                    "calendar_id": 2**31})
    assert set(bad.value.details) == {"service_area", "resolution_minutes", "response_minutes",  # a blank name: made up
                                      "warning_percent", "pause_states", "calendar_id"}
    with pytest.raises(ValidationFailed) as bad:  # the service: what needs the database or the user
        cfg.save_config(coord, SlaConfigIn(name="x", resolution_minutes=60, response_minutes=90, calendar_id=999))
    assert set(bad.value.details) == {"response_minutes", "calendar_id"}
    with pytest.raises(ValidationFailed) as bad:
        cfg.save_config(coord, SlaConfigIn(name="Everywhere", project_id=None, resolution_minutes=60))
    assert "only the platform operator" in bad.value.details["project_id"][0]
    saved = cfg.save_config(coord, validate_data(SlaConfigIn, {
        "name": "Nutrition assessments", "service_area": "nutrition", "task_type": "assessment",
        "resolution_minutes": "120", "pause_states": "blocked"}))
    assert (saved.project_id, saved.resolution_minutes, saved.pause_states) == (project_id, 120, ["blocked"])
    with pytest.raises(ValidationFailed) as bad:
        cfg.save_config(coord, SlaConfigIn(name="Again", service_area="nutrition", task_type="assessment",
                                           resolution_minutes=60))
    assert "already sets targets" in bad.value.details["task_type"][0]
    patched = cfg.save_config(coord, SlaConfigChanges(warning_percent=90), saved.id)
    assert (patched.warning_percent, patched.resolution_minutes) == (90, 120)


def test_calendar_validation_names_each_bad_field(db, coord):
    with pytest.raises(ValidationFailed) as bad:
        cfg.save_calendar(coord, validate_data(CalendarIn, {
            "name": "", "timezone": "Mars/Olympus", "work_start": "17:00", "work_end": "08:00", "workdays": [],
            "country": "XX", "extra_holidays": "2024-02-30"}))
    assert set(bad.value.details) == {"name", "timezone", "work_end", "workdays", "country", "extra_holidays"}
    with pytest.raises(ValidationFailed) as bad:
        cfg.save_calendar(coord, validate_data(CalendarIn, {
            "name": "Bavaria", "timezone": "Europe/Berlin", "work_start": "8:00", "work_end": "16:00",
            "workdays": ["0", "7"], "country": "DE", "subdivision": "ZZ"}))
    assert set(bad.value.details) == {"work_start", "workdays", "subdivision"}
    saved = cfg.save_calendar(coord, validate_data(CalendarIn, {
        "name": "Bavaria", "timezone": "Europe/Berlin", "work_start": "08:00", "work_end": "16:00",
        "workdays": ["0", "1", "2", "3"], "country": "de", "subdivision": "by",
        "extra_holidays": "2024-12-24\n2024-12-31"}))
    assert (saved.country, saved.subdivision, saved.workdays, saved.extra_holidays) == (
        "DE", "BY", [0, 1, 2, 3], ["2024-12-24", "2024-12-31"])
