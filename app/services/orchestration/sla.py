"""SLA clocks (DESIGN, "SLA"): one record per task and target kind, started when a task is created,
paused, resumed and stopped by its transitions, and scanned for warnings and breaches.

Clocks start in one INSERT however many tasks start together (`start_clocks_many`: an API task,
a batch of ticket tasks). Due times are computed once, on the business calendar snapshotted on the
record, and stored in UTC; so the scan is two set-based UPDATEs on indexed columns, whatever the
calendars. While a clock is paused its `due_at`/`warn_at` are NULL and `remaining_minutes` keeps
the business minutes left. Nothing here commits except `seed_sla_defaults`: clocks change inside the
caller's transaction (task creation, `transitions.transition`). The scan for warnings and breaches is
`sla_scan`; what the pages and the API show of the clocks is `sla_reports`.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from functools import lru_cache
from types import SimpleNamespace
from typing import NamedTuple

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from app.extensions import db
from app.models.base import in_values
from app.models import BusinessCalendarConfig, SlaConfig, SlaRecord, SlaStatus, Task, TaskStatus
from app.services.platform.bulk_insert import Deferred, insert_rows, pipelined, send
from app.services.orchestration.business_calendar import END_OF_DAY, BusinessCalendar, clock_time
from app.services.orchestration.state_machines import DEFAULT_PAUSE_STATES
from app.services.platform.events import CLOCK_KINDS


DEFAULT_CALENDAR_NAME = "Default"
# The seed's targets (resolution minutes) per task type; on the default calendar, around the clock
# (business calendars are opt-in, per config). The same rows are written by migration c4d5e6f7a8b9.
SEED_TARGETS = {"intake": 60, "assessment": 240, "review": 120, "general": 480}
ALL_DAYS = (0, 1, 2, 3, 4, 5, 6)
AROUND_THE_CLOCK = {"name": DEFAULT_CALENDAR_NAME, "timezone": "UTC", "work_start": "00:00", "work_end": END_OF_DAY,
                    "workdays": list(ALL_DAYS), "country": None, "subdivision": None, "extra_holidays": []}
DEFAULT_WARNING_PERCENT = 80
RESPONSE, RESOLUTION = CLOCK_KINDS
CHUNK = 5000


# --- calendars ------------------------------------------------------------------------------------

def calendar_snapshot(config: BusinessCalendarConfig | None) -> dict:
    """The JSON form of a stored calendar, or of a row with its columns (the built-in one, around the
    clock, for None)."""
    if config is None:
        return dict(AROUND_THE_CLOCK, name="built-in")
    return {"name": config.name, "timezone": config.timezone, "work_start": config.work_start,
            "work_end": config.work_end, "workdays": sorted(config.workdays or []), "country": config.country,
            "subdivision": config.subdivision, "extra_holidays": sorted(config.extra_holidays or [])}


def calendar_from_snapshot(snapshot: dict | None) -> BusinessCalendar:
    """The BusinessCalendar a record's snapshot describes (cached: holiday tables are costly)."""
    s = snapshot or calendar_snapshot(None)
    return _calendar(s.get("timezone") or "UTC", s.get("work_start") or "00:00", s.get("work_end") or END_OF_DAY,
                     tuple(sorted(s.get("workdays") or ALL_DAYS)), s.get("country") or None,
                     s.get("subdivision") or None, tuple(sorted(s.get("extra_holidays") or ())))


@lru_cache(maxsize=256)
def _calendar(tz, start, end, workdays, country, subdivision, extra) -> BusinessCalendar:
    return BusinessCalendar(timezone=tz, work_start=clock_time(start), work_end=clock_time(end),
                            workdays=frozenset(workdays), country=country, subdivision=subdivision,
                            extra_holidays=frozenset(date.fromisoformat(d) for d in extra))


def default_calendar() -> BusinessCalendarConfig | None:
    return db.session.execute(select(BusinessCalendarConfig).where(
        BusinessCalendarConfig.name == DEFAULT_CALENDAR_NAME)).scalar_one_or_none()


# --- configs ---------------------------------------------------------------------------------------

def _rank(config) -> tuple:
    """Most specific first: this project's before global ones; within each, (area, type) >
    ("*", type) > (area, "*") > ("*", "*"); the oldest config breaks a tie."""
    return (config.project_id is None, config.task_type == "*", config.service_area == "*", config.id)


def _best_config(configs, project_id: int, service_area: str, task_type: str):
    """The one of `configs` (enabled ones) that applies to a task, ranked by `_rank`."""
    return min((c for c in configs if c.project_id in (None, project_id) and c.service_area in (service_area, "*")
                and c.task_type in (task_type, "*")), key=_rank, default=None)


def _candidates_statement():
    """Enabled configs that may apply to tasks of some projects, areas and types, each with the
    calendar it names or else the default one (the columns `calendar_snapshot` reads; `calendar_row_id`
    is NULL when there is neither). Built once: intake runs it for every ticket it allocates."""
    c, k = SlaConfig.__table__.c, BusinessCalendarConfig.__table__.c
    named = BusinessCalendarConfig.__table__.alias("named_default")
    default_id = select(named.c.id).where(named.c.name == DEFAULT_CALENDAR_NAME).scalar_subquery().correlate(None)
    return (select(c.id, c.project_id, c.service_area, c.task_type, c.response_minutes, c.resolution_minutes,
                   c.warning_percent, c.pause_states, k.id.label("calendar_row_id"), k.name, k.timezone, k.work_start,
                   k.work_end, k.workdays, k.country, k.subdivision, k.extra_holidays)
            .select_from(SlaConfig.__table__)
            .outerjoin(BusinessCalendarConfig.__table__, k.id == func.coalesce(c.calendar_id, default_id))
            .where(c.enabled.is_(True),
                   or_(in_values(c.project_id, "project_ids"), c.project_id.is_(None)),
                   in_values(c.service_area, "areas"),
                   in_values(c.task_type, "types")))


_CANDIDATES = _candidates_statement()


def send_candidate_configs(project_ids, service_areas, task_types) -> Deferred:
    """Rows of `_CANDIDATES` for tasks of these projects, areas and types, in one query, read later
    (see `Deferred`: intake sends it with its other reads)."""
    return send(_CANDIDATES, {"project_ids": sorted(set(project_ids)), "areas": sorted({*service_areas, "*"}),
                              "types": sorted({*task_types, "*"})})


def _candidate_configs(project_ids, service_areas, task_types) -> list:
    return send_candidate_configs(project_ids, service_areas, task_types).all()


def match_config(project_id: int, service_area: str, task_type: str) -> SlaConfig | None:
    """The enabled config that applies, most specific first (see `_rank`): the one whose clocks a
    task of this project, service area and type starts."""
    best = _best_config(_candidate_configs((project_id,), (service_area,), (task_type,)), project_id,
                        service_area, task_type)
    return db.session.get(SlaConfig, best.id) if best is not None else None


def _pause_states(clock) -> tuple:
    """The states that pause an open clock (a row of `_OPEN_CLOCKS`): its config's, else the defaults."""
    return tuple(clock.pause_states or ()) if clock.config_row_id is not None else DEFAULT_PAUSE_STATES


def _warning_percent(clock) -> int:
    return clock.warning_percent if clock.config_row_id is not None else DEFAULT_WARNING_PERCENT


# --- clocks ---------------------------------------------------------------------------------------

def _due_and_warn(calendar: BusinessCalendar, now: datetime, remaining: float, target_minutes: int,
                  warning_percent: int) -> tuple[datetime, datetime]:
    """Due and warning times `remaining` business minutes from now (overdue clocks are due now)."""
    due = calendar.add_business_minutes(now, remaining) if remaining > 0 else now
    warn_left = remaining - target_minutes * (100 - warning_percent) / 100
    return due, calendar.add_business_minutes(now, warn_left) if warn_left > 0 else now


def _schedule(record, calendar: BusinessCalendar, now: datetime, remaining: float,
              warning_percent: int) -> None:
    record.due_at, record.warn_at = _due_and_warn(calendar, now, remaining, record.target_minutes, warning_percent)


class NewTask(NamedTuple):
    """What starts a task's clocks (a `Task` has these attributes too)."""

    id: int
    project_id: int
    service_area: str
    task_type: str
    status: str


def clock_rows(tasks, now: datetime, skip_existing: bool = False, configs: Deferred | None = None) -> list[dict]:
    """The `sla_records` rows (plain dicts, every column but the id) that start the response and
    resolution clocks of new tasks at `now`: each task's clocks come from the config that matches its
    project, service area and type (none if none matches). One query for the configs and their
    calendars; the calendar snapshot and the due/warning times are computed once per config, kind and
    paused-or-not, since every task starts at `now`.
    `skip_existing`: leave out the kinds a task already has a clock for (one more query). `configs`:
    the configs already sent (`send_candidate_configs`) for these tasks' projects, areas and types."""
    tasks = list(tasks)
    if not tasks:
        return []
    configs = configs.all() if configs is not None else _candidate_configs(
        {t.project_id for t in tasks}, {t.service_area for t in tasks}, {t.task_type for t in tasks})
    if not configs:
        return []
    existing = set()
    if skip_existing:
        existing = {(task_id, kind) for task_id, kind in db.session.execute(
            select(SlaRecord.task_id, SlaRecord.kind).where(SlaRecord.task_id.in_(sorted({t.id for t in tasks}))))}
    matched: dict[tuple, object] = {}
    snapshots: dict[int, dict] = {}
    timings: dict[tuple, dict] = {}
    rows = []
    for task in tasks:
        key = (task.project_id, task.service_area, task.task_type)
        if key not in matched:
            matched[key] = _best_config(configs, *key)
        config = matched[key]
        if config is None:
            continue
        if config.id not in snapshots:
            snapshots[config.id] = calendar_snapshot(config if config.calendar_row_id is not None else None)
        paused = task.status in (config.pause_states or ())
        for kind, minutes in ((RESPONSE, config.response_minutes), (RESOLUTION, config.resolution_minutes)):
            if not minutes or (task.id, kind) in existing:
                continue
            timing = timings.get((config.id, kind, paused))
            if timing is None:
                timing = timings[(config.id, kind, paused)] = _start_timing(config, minutes, snapshots[config.id],
                                                                            paused, now)
            rows.append({"task_id": task.id, "config_id": config.id, "project_id": task.project_id,
                         "service_area": task.service_area, "task_type": task.task_type, "kind": kind,
                         "target_minutes": minutes, "started_at": now, "calendar": snapshots[config.id],
                         "warned_at": None, "breached_at": None, "stopped_at": None, **timing})
    return rows


def _start_timing(config, minutes: int, snapshot: dict, paused: bool, now: datetime) -> dict:
    """A new clock's status and times: paused (no due time, all its minutes left) or running."""
    if paused:
        return {"status": SlaStatus.PAUSED.value, "due_at": None, "warn_at": None, "paused_at": now,
                "remaining_minutes": float(minutes)}
    due, warn = _due_and_warn(calendar_from_snapshot(snapshot), now, minutes, minutes, config.warning_percent)
    return {"status": SlaStatus.RUNNING.value, "due_at": due, "warn_at": warn, "paused_at": None,
            "remaining_minutes": None}


def start_clocks_many(tasks, now: datetime, skip_existing: bool = False) -> list[dict]:
    """Start the clocks of many new (inserted) tasks — `NewTask`s or `Task`s — in one INSERT; returns
    the rows inserted (see `clock_rows`). No commit."""
    rows = clock_rows(tasks, now, skip_existing)
    insert_rows(SlaRecord.__table__, rows)
    return rows


def start_clocks(task: Task, now: datetime) -> list[dict]:
    """Start the response and resolution clocks of a new (flushed) task, but not those it already
    has; returns the rows inserted. No commit."""
    return start_clocks_many([task], now, skip_existing=True)


def remaining_at(record, at: datetime) -> float:
    """Business minutes left on a clock (an SlaRecord, or a row with its columns) at `at` (negative once
    overdue)."""
    if record.due_at is None:
        return record.remaining_minutes or 0.0
    calendar = calendar_from_snapshot(record.calendar)
    if at <= record.due_at:
        return calendar.business_minutes_between(at, record.due_at)
    return -calendar.business_minutes_between(record.due_at, at)


def _pause(record: SimpleNamespace, now: datetime) -> None:
    record.remaining_minutes = remaining_at(record, now)
    record.status, record.paused_at, record.due_at, record.warn_at = SlaStatus.PAUSED.value, now, None, None


def _resume(record: SimpleNamespace, now: datetime) -> None:
    _schedule(record, calendar_from_snapshot(record.calendar), now, record.remaining_minutes or 0.0,
              _warning_percent(record))
    record.status = SlaStatus.BREACHED.value if record.breached_at else SlaStatus.RUNNING.value
    record.paused_at, record.remaining_minutes = None, None


def _stop(record: SimpleNamespace, now: datetime, cancelled: bool = False) -> None:
    if cancelled:
        record.status = SlaStatus.CANCELLED.value
    else:
        late = record.breached_at is not None or remaining_at(record, now) < 0
        record.status = SlaStatus.MISSED.value if late else SlaStatus.MET.value
    record.stopped_at = now


def _open_clocks_statement():
    """The open clocks of some tasks, oldest first, with what their config says about pausing and warning
    (`config_row_id` NULL: no config, the defaults apply). Built once."""
    r, c = SlaRecord.__table__.c, SlaConfig.__table__.c
    return (select(r.id, r.task_id, r.kind, r.status, r.target_minutes, r.due_at, r.warn_at, r.paused_at,
                   r.remaining_minutes, r.breached_at, r.stopped_at, r.calendar, c.id.label("config_row_id"),
                   c.pause_states, c.warning_percent)
            .select_from(SlaRecord.__table__).outerjoin(SlaConfig.__table__, c.id == r.config_id)
            .where(in_values(r.task_id, "task_ids"), r.stopped_at.is_(None)).order_by(r.id))


_OPEN_CLOCKS = _open_clocks_statement()
# What a transition changes on a clock (the scan alone writes warned_at and breached_at).
CLOCK_CHANGES = ("status", "due_at", "warn_at", "paused_at", "remaining_minutes", "stopped_at")


def send_open_clocks(task_ids) -> Deferred:
    """The open clocks of these tasks (`_OPEN_CLOCKS`), read later (see `Deferred`): a transition sends it
    with its compare-and-set, after it, so the clocks are read with the task locked."""
    return send(_OPEN_CLOCKS, {"task_ids": sorted(set(task_ids))})


def write_clocks(writes: list) -> None:
    """`send_clock_writes` in a round trip of their own (none if there are none)."""
    if writes:
        with pipelined():
            send_clock_writes(writes)


def clock_writes(changes: list[tuple[Task, str, str]], now: datetime, clocks: Deferred | None = None) -> list:
    """What tasks' state changes, (task, from, to) in order, do to their open clocks, for
    `send_clock_writes`: entering one of the config's pause states pauses them, leaving it resumes them
    with the business minutes they had left; in_progress stops the response clock, completed stops every
    clock (met or missed), cancelled cancels them. One query for all the tasks' clocks (`clocks`: already
    sent with `send_open_clocks`). Returns (clock id, {column: value}) for each clock that changes, with
    the columns that change (what the ORM's flush wrote), in id order."""
    rows = (clocks if clocks is not None else send_open_clocks({task.id for task, _, _ in changes})).all()
    read = [(row, SimpleNamespace(**row._asdict())) for row in rows]  # as read, and as changed here
    open_clocks: dict[int, list[SimpleNamespace]] = {}
    for _row, clock in read:
        open_clocks.setdefault(clock.task_id, []).append(clock)
    for task, _before, to_state in changes:
        for clock in open_clocks.get(task.id, ()):
            if clock.stopped_at is None:  # an earlier change in `changes` may have stopped it
                _apply(clock, to_state, now)
    writes = []
    for row, clock in read:
        changed = {name: getattr(clock, name) for name in CLOCK_CHANGES if getattr(clock, name) != getattr(row, name)}
        if changed:
            writes.append((clock.id, changed))
    return writes


def send_clock_writes(writes: list) -> None:
    """Send `clock_writes`' UPDATEs, one per clock (inside the caller's `pipelined()`: a transition sends
    them with its COMMIT); a clock loaded in the session is kept in step."""
    for clock_id, changed in writes:
        send(_clock_update(tuple(changed)), {"clock_id": clock_id, **{f"new_{k}": v for k, v in changed.items()}})
        loaded = db.session.identity_map.get(identity_key(SlaRecord, clock_id))
        if loaded is not None:
            for name, value in changed.items():
                set_committed_value(loaded, name, value)


@lru_cache(maxsize=32)
def _clock_update(columns: tuple[str, ...]):
    t = SlaRecord.__table__
    return update(t).where(t.c.id == bindparam("clock_id")).values(
        {name: bindparam(f"new_{name}", type_=t.c[name].type) for name in columns})


def _apply(record: SimpleNamespace, to_state: str, now: datetime) -> None:
    paused = record.status == SlaStatus.PAUSED.value
    should_pause = to_state in _pause_states(record)
    if paused and not should_pause:
        _resume(record, now)
    elif should_pause and not paused:
        _pause(record, now)
    if to_state == TaskStatus.CANCELLED:
        _stop(record, now, cancelled=True)
    elif to_state == TaskStatus.COMPLETED or (to_state == TaskStatus.IN_PROGRESS and record.kind == RESPONSE):
        _stop(record, now)


def iso_z(value: datetime) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- seed -----------------------------------------------------------------------------------------

def seed_sla_defaults() -> None:
    """Create the default calendar (around the clock: every day 00:00–24:00 UTC, no holidays) and the four
    global configs of the seed targets, keyed by task type, if missing. Idempotent; commits only when it
    adds something."""
    calendar = default_calendar()
    added = False
    if calendar is None:
        calendar = BusinessCalendarConfig(**{k: v for k, v in AROUND_THE_CLOCK.items() if k != "name"},
                                          name=DEFAULT_CALENDAR_NAME)
        db.session.add(calendar)
        db.session.flush()
        added = True
    have = set(db.session.execute(select(SlaConfig.task_type).where(
        SlaConfig.project_id.is_(None), SlaConfig.service_area == "*")).scalars())
    for task_type, minutes in SEED_TARGETS.items():
        if task_type not in have:
            db.session.add(SlaConfig(project_id=None, name=f"{task_type.capitalize()} (default)", service_area="*",
                                     task_type=task_type, response_minutes=None, resolution_minutes=minutes,
                                     warning_percent=DEFAULT_WARNING_PERCENT, pause_states=list(DEFAULT_PAUSE_STATES),
                                     calendar_id=calendar.id, enabled=True))
            added = True
    if added:
        db.session.commit()
