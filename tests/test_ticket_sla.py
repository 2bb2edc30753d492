"""Ticket tasks get SLA clocks: started by intake (single, bulk, allocation retry) per the matching
config, moved by the board, found by the breach scan and listed on the SLA pages; and the set-based
start (`start_clocks_many`) makes exactly the rows `start_clocks` makes."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from app.models import OutboxEvent, SlaConfig, SlaRecord, Task, Ticket
from app.schemas.helpdesk import CategoryIn, DepartmentIn
from app.services.orchestration import sla, sla_scan
from app.services.orchestration import sla_reports
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk.allocation import ticket_service_area
from app.services.helpdesk.intake import allocate_tickets, receive_ticket, receive_tickets
from tests.test_sla import at, calendar, config
from tests.ticket_fixtures import desk, make_workflow, payload  # noqa: F401

HX = {"HX-Request": "true"}
RECORD_COLUMNS = [c.name for c in SlaRecord.__table__.columns if c.name not in ("id", "task_id")]


def clocks_of(db, task_id) -> dict[str, SlaRecord]:
    db.session.expire_all()
    return {r.kind: r for r in db.session.execute(select(SlaRecord).where(SlaRecord.task_id == task_id)).scalars()}


def clock_count(db) -> int:
    return db.session.scalar(select(func.count()).select_from(SlaRecord))


def received_at(monkeypatch, when) -> None:
    """Intake's clock reads `when` (clocks start at the intake time)."""
    monkeypatch.setattr("app.services.helpdesk.intake.utcnow", lambda: when)


@pytest.fixture
def hr(desk):
    """A second department, "Human Resources" › Payroll, with a deployed workflow."""
    department = catalog.create_department(desk.boss, DepartmentIn(name="Human Resources"))
    payroll = catalog.create_category(desk.boss, CategoryIn(name="Payroll"))
    make_workflow(desk.boss, "Payroll check", department, payroll, steps=[("Check", desk.intake)])
    return lambda external_id: payload(external_id, department="Human Resources", category="Payroll",
                                       sub_category=None)


def test_ticket_service_area_is_the_department_as_a_short_name():
    assert ticket_service_area("IT") == "it"
    assert ticket_service_area(" Human Resources ") == "human_resources"
    assert ticket_service_area("Santé & Sécurité") == "sante_securite"
    assert ticket_service_area("  ") == ticket_service_area(None) == "general"
    assert len(ticket_service_area("x" * 200)) == 80


# --- intake starts the clocks ---------------------------------------------------------------------

def test_a_ticket_received_through_the_api_gets_its_clock_on_the_default_calendar(client, db, desk, api_token,
                                                                                   monkeypatch):
    sla.seed_sla_defaults()
    received_at(monkeypatch, at(2024, 6, 7, 16, 0))  # Friday 16:00 UTC: the default calendar is around the clock
    response = client.post("/api/tickets/", json=payload("TK-1"), headers=api_token(desk.boss))
    assert response.status_code == 201, response.json
    task = db.session.get(Task, response.json["task_id"])
    assert (task.service_area, task.task_type) == ("it", "general")
    [(kind, record)] = clocks_of(db, task.id).items()  # the seed targets have no response clock
    general = db.session.execute(select(SlaConfig).where(SlaConfig.task_type == "general")).scalar_one()
    assert (kind, record.config_id, record.target_minutes, record.status) == ("resolution", general.id, 480, "running")
    assert (record.project_id, record.service_area, record.task_type) == (desk.project_id, "it", "general")
    assert record.started_at == at(2024, 6, 7, 16, 0)
    assert record.due_at == at(2024, 6, 8, 0, 0)  # + 480 min
    assert record.warn_at == at(2024, 6, 7, 22, 24)  # 80 % of 480 = 384 min
    assert record.calendar["name"] == "Default" and record.calendar["workdays"] == [0, 1, 2, 3, 4, 5, 6]
    assert (record.paused_at, record.remaining_minutes, record.warned_at, record.breached_at, record.stopped_at) == (
        None, None, None, None, None)
    created = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "TaskCreated")).scalar_one()
    assert (created.payload["service_area"], created.payload["task_type"]) == ("it", "general")
    detail = client.get(f"/api/workflow/tasks/{task.id}", headers=api_token(desk.boss)).json
    assert detail["sla"]["status"] == "running" and detail["sla"]["target_minutes"] == 480


def test_bulk_intake_starts_one_clock_set_per_task_and_updates_start_none(client, db, desk, api_token):
    sla.seed_sla_defaults()
    headers = api_token(desk.boss)
    tickets = [payload(f"B-{i}") for i in range(5)] + [payload("B-x", sub_category="Printer")]  # no workflow
    done = client.post("/api/tickets/bulk/?sync=1", json=tickets, headers=headers)
    assert done.status_code == 200 and done.json["allocation"] == {"allocated": 5, "no_workflow": 1}
    task_ids = set(db.session.execute(select(Task.id)).scalars())
    rows = db.session.execute(select(SlaRecord.task_id, SlaRecord.kind, SlaRecord.target_minutes)).all()
    assert len(task_ids) == 5 and sorted(rows) == sorted((t, "resolution", 480) for t in task_ids)
    started = set(db.session.execute(select(SlaRecord.started_at, SlaRecord.due_at)).all())
    assert len(started) == 1  # one batch, one start time, one due time

    again = client.post("/api/tickets/bulk/?sync=1", json=tickets[:5], headers=headers)  # re-deliveries
    assert again.json["actions"] == {"updated": 5} and clock_count(db) == 5


def test_a_config_for_one_department_times_only_its_tasks(db, desk, hr):
    it_config = config(db, minutes=240, project_id=desk.project_id, area="it", task_type="*", response_minutes=30)
    outcomes = receive_tickets(desk.project_id, [payload("I-1"), hr("H-1"), payload("I-2"), hr("H-2")])
    by_ext = {o.external_id: o.task_id for o in outcomes}
    assert all(by_ext.values())
    for ext in ("I-1", "I-2"):
        clocks = clocks_of(db, by_ext[ext])
        assert {k: (r.target_minutes, r.config_id) for k, r in clocks.items()} == {
            "response": (30, it_config.id), "resolution": (240, it_config.id)}
        assert clocks["response"].due_at < clocks["resolution"].due_at
    for ext in ("H-1", "H-2"):
        assert db.session.get(Task, by_ext[ext]).service_area == "human_resources"
        assert clocks_of(db, by_ext[ext]) == {}
    assert clock_count(db) == 4


def test_a_ticket_allocated_later_gets_its_clock_then(db, desk):
    sla.seed_sla_defaults()
    waiting = receive_ticket(desk.project_id, payload("L-1", category="Network"))
    assert waiting.allocation_status == "no_workflow" and clock_count(db) == 0
    network = catalog.create_category(desk.boss, CategoryIn(name="Network"))
    make_workflow(desk.boss, "Network", desk.it, network, steps=[("Look", desk.technician)])
    [outcome] = allocate_tickets([waiting.ticket_id])
    assert outcome.allocation_status == "allocated"
    assert list(clocks_of(db, outcome.task_id)) == ["resolution"]


# --- the clocks move with the task ------------------------------------------------------------------

def test_the_board_moves_the_ticket_tasks_clocks(client, login, csrf, db, desk):
    sla.seed_sla_defaults()
    config(db, minutes=240, project_id=desk.project_id, area="it", task_type="*", response_minutes=30)
    task_id = receive_ticket(desk.project_id, payload("M-1")).task_id
    login(desk.agents[0])
    headers = {**HX, "X-CSRFToken": csrf()}

    def act(action, data=None, **extra):
        response = client.post(f"/tasks/{task_id}/actions/{action}", data=data, headers={**headers, **extra})
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        return response.get_data(as_text=True).split(f'data-task-id="{task_id}"')[1].split("</article>")[0]

    act("start")
    clocks = clocks_of(db, task_id)
    assert (clocks["response"].status, clocks["resolution"].status) == ("met", "running")
    card = act("block", **{"HX-Prompt": "waiting for parts"})
    resolution = clocks_of(db, task_id)["resolution"]
    assert resolution.status == "paused" and resolution.due_at is None and resolution.paused_at is not None
    assert 0 < resolution.remaining_minutes <= 240
    assert 'data-deadline="ok"' in card and 'title="due date' in card  # the clock waits; the due date does not
    act("resume")
    resolution = clocks_of(db, task_id)["resolution"]
    assert resolution.status == "running" and resolution.due_at is not None and resolution.remaining_minutes is None
    act("complete", {"skip_remaining_steps": "true"})  # at step 1 of 3: what the button's confirmation sends
    clocks = clocks_of(db, task_id)
    assert clocks["resolution"].status == "met" and clocks["resolution"].stopped_at is not None
    assert db.session.get(Task, task_id).status == "completed"


def test_the_breach_scan_finds_an_overdue_ticket_task_once(db, desk, monkeypatch):
    sla.seed_sla_defaults()
    received_at(monkeypatch, at(2024, 6, 3, 8, 0))  # Monday 08:00: 480 min → due 16:00
    outcome = receive_ticket(desk.project_id, payload("O-1"))
    assert sla_scan.scan_sla_breaches(at(2024, 6, 4, 8, 0)) == {"warned": 0, "breached": 1}
    assert sla_scan.scan_sla_breaches(at(2024, 6, 4, 9, 0)) == {"warned": 0, "breached": 0}
    [event] = db.session.execute(select(OutboxEvent).where(OutboxEvent.event_type == "SlaBreached")).scalars().all()
    assert event.correlation_id == f"ticket:{outcome.ticket_id}" and event.aggregate_id == str(outcome.task_id)
    assert {k: event.payload[k] for k in ("task_id", "kind", "service_area", "task_type", "due_at")} == {
        "task_id": outcome.task_id, "kind": "resolution", "service_area": "it", "task_type": "general",
        "due_at": "2024-06-03T16:00:00Z"}
    assert clocks_of(db, outcome.task_id)["resolution"].status == "breached"


def test_the_sla_pages_list_the_ticket_task(client, login, db, desk, monkeypatch):
    sla.seed_sla_defaults()
    received_at(monkeypatch, at(2024, 6, 3, 8, 0))
    task_id = receive_ticket(desk.project_id, payload("P-1", subject="Printer on fire")).task_id
    login(desk.boss)
    sla_scan.scan_sla_breaches(at(2024, 6, 3, 15, 0))  # past the warning (14:24), before due (16:00)
    risky = client.get("/sla/at-risk").get_data(as_text=True)
    row = risky.split(f'data-task-id="{task_id}"')[1].split("</tr>")[0]
    assert "2024-06-03 16:00 UTC" in row and "it · general" in row
    assert f'data-task-id="{task_id}"' in client.get("/sla/at-risk", headers=HX).get_data(as_text=True)
    assert sla_reports.record_rows(db.session.execute(select(SlaRecord)).scalars().all())[0]["title"] == "Printer on fire"

    sla_scan.scan_sla_breaches(at(2024, 6, 4, 8, 0))
    breached = client.get("/sla/breached").get_data(as_text=True)
    assert "<h1>Breached tasks</h1>" in breached and f'data-task-id="{task_id}"' in breached
    assert f'data-task-id="{task_id}"' not in client.get("/sla/at-risk").get_data(as_text=True)
    assert 'data-area="it"' in client.get("/sla/").get_data(as_text=True)


# --- one way clocks start ---------------------------------------------------------------------------

def _rows(db, task_id) -> list[dict]:
    db.session.expire_all()
    table = SlaRecord.__table__
    found = db.session.execute(select(table).where(table.c.task_id == task_id).order_by(table.c.id)).mappings()
    return [{name: row[name] for name in RECORD_COLUMNS} for row in found]


@pytest.mark.parametrize("status", ["new", "blocked"])
def test_start_clocks_many_and_start_clocks_make_identical_rows(db, desk, status):
    berlin = calendar(db, "Berlin", timezone="Europe/Berlin", extra_holidays=["2024-06-04"])
    config(db, minutes=240, area="nutrition", cal=berlin, response_minutes=45, warning_percent=75)
    now = at(2024, 3, 29, 15, 0)
    task = Task(project_id=desk.project_id, kind="work_item", title="t", task_type="assessment",
                service_area="nutrition", status=status, created_at=now, updated_at=now)
    db.session.add(task)
    db.session.flush()
    sla.start_clocks(task, now)
    sla.start_clocks(task, now)  # kinds it has are skipped
    one = _rows(db, task.id)
    db.session.execute(delete(SlaRecord).where(SlaRecord.task_id == task.id))
    sla.start_clocks_many([sla.NewTask(task.id, task.project_id, "nutrition", "assessment", status)], now)
    many = _rows(db, task.id)
    db.session.commit()
    assert [r["kind"] for r in one] == ["response", "resolution"] and one == many
    expected = "paused" if status == "blocked" else "running"
    assert {r["status"] for r in one} == {expected}
    if status == "blocked":
        assert [r["remaining_minutes"] for r in one] == [45.0, 240.0] and one[0]["due_at"] is None
    else:
        assert one[1]["due_at"] == at(2024, 4, 1, 9, 0)  # across the DST change (test_sla)


def test_start_clocks_many_ranks_configs_like_match_config(db, desk, make_user):
    other = make_user("coordinator", projects=("Project B",)).project_ids[0]
    pid = desk.project_id
    for project_id, area, task_type in ((None, "*", "*"), (None, "*", "assessment"), (None, "nutrition", "*"),
                                        (None, "nutrition", "assessment"), (pid, "nutrition", "*"),
                                        (pid, "*", "assessment")):
        config(db, project_id=project_id, area=area, task_type=task_type)
    config(db, project_id=pid, area="nutrition", task_type="assessment", enabled=False)
    combos = [(p, a, t) for p in (pid, other) for a in ("nutrition", "wash") for t in ("assessment", "review")]
    tasks = [sla.NewTask(1000 + i, p, a, t, "new") for i, (p, a, t) in enumerate(combos)]
    chosen = {row["task_id"]: row["config_id"] for row in sla.clock_rows(tasks, at(2024, 6, 3, 8, 0))}
    assert chosen == {task.id: sla.match_config(task.project_id, task.service_area, task.task_type).id
                      for task in tasks}
    assert len(set(chosen.values())) == 6


def test_a_config_without_a_calendar_uses_the_default_one_else_the_built_in_one(db, desk):
    now = at(2024, 6, 3, 8, 0)
    config(db, area="wash")
    config(db, area="nutrition", cal=calendar(db, "Berlin", timezone="Europe/Berlin"))
    tasks = [sla.NewTask(n, desk.project_id, area, "assessment", "new") for n, area in enumerate(("wash", "nutrition"))]
    assert [r["calendar"]["name"] for r in sla.clock_rows(tasks, now)] == ["built-in", "Berlin"]
    sla.seed_sla_defaults()
    assert [r["calendar"]["name"] for r in sla.clock_rows(tasks, now)] == ["Default", "Berlin"]


def test_ticket_tasks_without_any_config_start_no_clock(db, desk):
    outcome = receive_ticket(desk.project_id, payload("N-1"))
    assert outcome.task_id and clock_count(db) == 0
    assert db.session.get(Ticket, outcome.ticket_id).is_task_allocated is True
