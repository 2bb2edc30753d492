"""Schedules: recurring runs of a process with stored inputs, dispatched once a minute.

Times are DST-safe: cron expressions are evaluated on the schedule's local wall clock (zoneinfo),
then converted to UTC — a time that does not exist (spring forward) runs at the first instant after
the gap, an ambiguous one (fall back) runs once, at its first occurrence.

Dedupe: each run's job id is uuid5(schedule id, scheduled instant); the INSERT of the jobs row is
the guard, so two dispatchers (two `rq cron` processes) never run one period twice.

Catch-up: a schedule with `catch_up` (the default for processes that declare it: EO imports) also
gets, on each tick, one run per period it missed — while paused, or while no dispatcher ran — since
its last successful period, oldest first, at most SCHEDULE_CATCH_UP_MAX_PERIODS back. Those runs are
backfill runs (job id uuid5(schedule id, period start)), so a period is never run twice, however many
ticks or dispatchers see it missing; a period with a failed run is not run again (re-run or retry it).

Tenancy: a schedule belongs to one project; its members with MANAGE_PIPELINES see and change it, and
its runs are jobs of that project started by the schedule itself (no launcher; `external_ref` names it).
"""
from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, time, timedelta, timezone
from typing import get_args
from zoneinfo import ZoneInfo

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from flask import current_app

from app.extensions import db
from app.models import Job, Permission, Schedule, User, utcnow
from app.schemas.processing import Frequency, ScheduleIn
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import DomainError, FieldErrors, NotFound, ValidationFailed
from app.services.platform.permissions import SystemActor, require_permission
from app.services.processing import job_status as st
from app.services.processing.job_access import visible_jobs_filter
from app.services.processing.jobs import enqueue_job
from app.services.processing.registry import authorize_launch, get_process

log = logging.getLogger(__name__)

PRESETS = {"daily": "0 6 * * *", "monthly": "0 6 1 * *", "yearly": "0 6 1 1 *"}
PERIODIC = tuple(PRESETS)  # frequencies with periods (backfill, catch-up); not "cron"
FREQUENCIES = get_args(Frequency)
RUN_NAMESPACE = uuid.UUID("5b0c3c1e-6f1a-4d59-9a53-0f1e1d7a9c42")


def next_run(cron: str, tz: str, after: datetime) -> datetime:
    """The first run strictly after `after` (UTC), evaluating `cron` on the local wall clock of `tz`."""
    zone = ZoneInfo(tz)
    it = croniter(cron, after.astimezone(zone).replace(tzinfo=None))
    while True:
        local = it.get_next(datetime)  # naive wall-clock time: each match exactly once
        at = local.replace(tzinfo=zone).astimezone(timezone.utc)  # fold=0: first occurrence / after a gap
        if at > after:
            return at


def run_job_id(schedule_id: int, at: datetime) -> str:
    return str(uuid.uuid5(RUN_NAMESPACE, f"{schedule_id}:{at.astimezone(timezone.utc).isoformat()}"))


def period_for(frequency: str, at: datetime, tz: str) -> tuple[date, date]:
    """The period a run at `at` covers: the previous local day, month or year."""
    day = at.astimezone(ZoneInfo(tz)).date()
    if frequency == "monthly":
        end = day.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    if frequency == "yearly":
        return date(day.year - 1, 1, 1), date(day.year - 1, 12, 31)
    yesterday = day - timedelta(days=1)
    return yesterday, yesterday


def render_inputs(inputs: dict, frequency: str, at: datetime, tz: str) -> dict:
    """Replace the placeholders {period_start} / {period_end} in string inputs."""
    return with_period(inputs, *period_for(frequency, at, tz))


def with_period(inputs: dict, start: date, end: date) -> dict:
    """`inputs` with {period_start} / {period_end} replaced in its strings."""
    return {k: v.replace("{period_start}", start.isoformat()).replace("{period_end}", end.isoformat())
            if isinstance(v, str) else v for k, v in inputs.items()}


# --- editing ----------------------------------------------------------------------------------

def get_schedule(user: User, schedule_id) -> Schedule:
    """A schedule of one of the user's projects; another project's is NotFound, like a missing one."""
    return get_scoped(Schedule, schedule_id, user, "schedule")


def list_schedules(user: User) -> list[Schedule]:
    """The schedules of the user's projects, by name."""
    return list(db.session.execute(select(Schedule).where(Schedule.project_id.in_(project_scope(user)))
                                   .order_by(Schedule.name, Schedule.id)).scalars())


def _checked_inputs(user: User, process, inputs: dict, frequency: str, tz: str, project_id: int | None) -> None:
    """The inputs as a run would get them (placeholders rendered) must be ones the process's model
    accepts and the editor may launch in the schedule's project; errors name `inputs.<input>`."""
    rendered = render_inputs(inputs, frequency, utcnow(), tz)
    try:
        launch = authorize_launch(process, user, rendered, project_id)
        if process.prepare:
            process.prepare(launch.inputs)
    except ValidationFailed as exc:
        raise ValidationFailed(f"Invalid inputs for {process.id}: {exc.message}",
                               {f"inputs.{k}": v for k, v in exc.details.items()}) from None
    try:  # the dispatcher launches it as the server confined to the project: that must be accepted too
        authorize_launch(process, SystemActor(project_id), rendered, project_id)
    except ValidationFailed as exc:
        raise ValidationFailed(f"{process.id} cannot run on a schedule: {exc.message}",
                               {"process_id": [exc.message]}) from None


def save_schedule(user: User, data: ScheduleIn, schedule_id: int | None = None) -> Schedule:
    """Create (in `project_id`, or the user's only project) or update a schedule of the user's projects.
    Needs MANAGE_PIPELINES; the inputs are checked as if the user launched the process in that project
    (placeholders rendered): rows they name must be ones the user may act on there."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    schedule = get_schedule(user, schedule_id) if schedule_id else Schedule()
    errors = FieldErrors()
    project_id = schedule.project_id if schedule_id else resolve_project(user, data.project_id, errors)
    if db.session.execute(select(Schedule.id).where(Schedule.name == data.name, Schedule.project_id == project_id,
                                                    Schedule.id != (schedule_id or -1))).first():
        errors.add("name", "is already used")
    try:
        process = get_process(data.process_id)
    except NotFound:
        errors.add("process_id", "is not a known process")
    errors.raise_if_any("Invalid schedule")
    _checked_inputs(user, process, data.inputs, data.frequency, data.timezone, project_id)
    schedule.project_id, schedule.name, schedule.process_id = project_id, data.name, process.id
    schedule.inputs, schedule.frequency, schedule.timezone = data.inputs, data.frequency, data.timezone
    schedule.cron = PRESETS.get(data.frequency) or data.cron
    schedule.enabled, schedule.description = data.enabled, data.description
    schedule.catch_up = process.catch_up_default if data.catch_up is None else data.catch_up
    schedule.created_by_id = schedule.created_by_id or user.id
    if data.enabled:  # the next regular run; missed periods are the catch-up's (when on)
        schedule.next_run_at = next_run(schedule.cron, data.timezone, utcnow())
    db.session.add(schedule)
    db.session.commit()
    return schedule


def set_enabled(user: User, schedule_id, enabled: bool) -> Schedule:
    """Pause or enable a schedule of the user's projects (MANAGE_PIPELINES); enabling sets its next run
    from now, and the periods missed while paused are run by the next tick when catch-up is on."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    schedule = get_schedule(user, schedule_id)
    schedule.enabled = enabled
    schedule.next_run_at = next_run(schedule.cron, schedule.timezone, utcnow()) if enabled else schedule.next_run_at
    db.session.commit()
    return schedule


def schedule_runs(user: User, schedule: Schedule, limit: int = 50) -> list[Job]:
    """The schedule's latest runs (jobs of its project the user may see)."""
    return list(db.session.execute(select(Job).where(Job.external_ref == f"schedule:{schedule.id}",
                                                     Job.project_id == schedule.project_id, visible_jobs_filter(user))
                                   .order_by(Job.created_at.desc()).limit(limit)).scalars())


# --- dispatching ------------------------------------------------------------------------------

def dispatch_schedule(schedule: Schedule, at: datetime, now: datetime) -> str | None:
    """Enqueue the run of `schedule` scheduled at `at`, unless another dispatcher already did;
    then advance next_run_at (compare-and-set). Returns the new job id, or None.

    The run has no launcher: the schedule starts it, and the job engine authorizes it as the server
    confined to the schedule's project (a planning or connection the inputs name must still be there)."""
    schedule_id, frequency, tz, cron = schedule.id, schedule.frequency, schedule.timezone, schedule.cron
    job_id, created = run_job_id(schedule_id, at), None
    # a period that already has its backfill or catch-up run is not run again
    covered = frequency in PERIODIC and db.session.get(Job, period_job_id(schedule_id, period_for(frequency, at, tz)[0]))
    try:
        if not covered:
            enqueue_job(schedule.process_id, render_inputs(schedule.inputs or {}, frequency, at, tz),
                        project_id=schedule.project_id, job_id=job_id, external_ref=f"schedule:{schedule_id}")
            created = job_id
    except IntegrityError:
        db.session.rollback()  # the run of this period exists: another dispatcher made it
    except DomainError as exc:
        db.session.rollback()
        log.warning("schedule %s could not start its run at %s: %s", schedule_id, at, exc.message)
    db.session.execute(update(Schedule).where(Schedule.id == schedule_id, Schedule.next_run_at == at).values(
        next_run_at=next_run(cron, tz, max(at, now)), last_run_at=at, last_job_id=covered.id if covered else job_id))
    db.session.commit()
    return created


def dispatch_due_schedules(now: datetime | None = None) -> list[str]:
    """One tick: enqueue every due run (one per schedule), then catch up the missed periods of the
    schedules that catch up. Returns the new jobs' ids."""
    now = now or utcnow()
    due = db.session.execute(select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
                             .order_by(Schedule.next_run_at)).scalars().all()
    created = []
    for schedule in due:
        job_id = dispatch_schedule(schedule, schedule.next_run_at, now)
        if job_id:
            created.append(job_id)
    catching_up = db.session.execute(select(Schedule).where(Schedule.enabled.is_(True), Schedule.catch_up.is_(True),
                                                            Schedule.frequency.in_(PERIODIC))
                                     .order_by(Schedule.id)).scalars().all()
    for schedule in catching_up:
        created.extend(catch_up(schedule, now))
    return created


def period_due_at(schedule: Schedule, end: date) -> datetime:
    """When the dispatcher runs the period ending on `end`: the schedule's first time on or after the
    local midnight that ends it (the presets run at 06:00 the day after)."""
    midnight = datetime.combine(end + timedelta(days=1), time.min, tzinfo=ZoneInfo(schedule.timezone))
    return next_run(schedule.cron, schedule.timezone, midnight.astimezone(timezone.utc) - timedelta(seconds=1))


def _periods_back(frequency: str, start: date, count: int) -> date:
    """The start of the period `count` periods before the one starting on `start`."""
    if frequency == "daily":
        return start - timedelta(days=count)
    if frequency == "monthly":
        months = start.year * 12 + start.month - 1 - count
        return date(months // 12, months % 12 + 1, 1)
    return date(start.year - count, 1, 1)


def missed_periods(schedule: Schedule, now: datetime) -> tuple[list[tuple[date, date]], bool]:
    """The periods of `schedule` due by `now`, in the last SCHEDULE_CATCH_UP_MAX_PERIODS, after its last
    successful run and after it was created, that have no run at all — oldest first; and whether older
    ones may be missing too (the window was all missed: a backfill reaches further)."""
    limit = current_app.config["SCHEDULE_CATCH_UP_MAX_PERIODS"]
    frequency = schedule.frequency
    latest = period_for(frequency, now, schedule.timezone)
    if period_due_at(schedule, latest[1]) > now:  # today's run is not due yet
        latest = periods_between(frequency, _periods_back(frequency, latest[0], 1), latest[0])[0]
    window = periods_between(frequency, _periods_back(frequency, latest[0], limit - 1), latest[0])
    periods = [p for p in window if period_due_at(schedule, p[1]) > schedule.created_at]
    # a period's run is its backfill/catch-up run, or the dispatcher's run at the period's due time
    ids = {p: (period_job_id(schedule.id, p[0]), run_job_id(schedule.id, period_due_at(schedule, p[1])))
           for p in periods}
    statuses = dict(db.session.execute(select(Job.id, Job.status).where(
        Job.id.in_([i for pair in ids.values() for i in pair]))).all())
    succeeded = [p for p in periods if any(statuses.get(i) == st.SUCCESSFUL for i in ids[p])]
    since = succeeded[-1][0] if succeeded else date.min
    missed = [p for p in periods if p[0] > since and not any(i in statuses for i in ids[p])]
    capped = len(periods) == len(window) == limit and bool(missed) and missed[0] == window[0]
    return missed, capped


def catch_up(schedule: Schedule, now: datetime) -> list[str]:
    """Enqueue one run per missed period of `schedule` (see missed_periods), oldest first, as backfill
    runs started by the schedule itself; note them on the schedule. Returns the new jobs' ids."""
    missed, capped = missed_periods(schedule, now)
    schedule_id, process_id, project_id = schedule.id, schedule.process_id, schedule.project_id
    inputs, earlier = schedule.inputs or {}, list(schedule.caught_up or [])
    created, notes = [], []
    for start, end in missed:
        job_id = period_job_id(schedule_id, start)
        try:
            enqueue_job(process_id, with_period(inputs, start, end), project_id=project_id, job_id=job_id,
                        external_ref=f"schedule:{schedule_id}")
        except IntegrityError:  # another dispatcher (or a backfill) made it meanwhile
            db.session.rollback()
            continue
        except DomainError as exc:
            db.session.rollback()
            log.warning("schedule %s could not catch up %s: %s", schedule_id, start, exc.message)
            continue
        created.append(job_id)
        notes.append({"period": start.isoformat(), "end": end.isoformat(), "job_id": job_id,
                      "at": now.isoformat(), "capped": capped})
    if notes:
        log.info("schedule %s caught up %d missed period(s) from %s", schedule_id, len(notes), notes[0]["period"])
        db.session.execute(update(Schedule).where(Schedule.id == schedule_id)
                           .values(caught_up=(notes[::-1] + earlier)[:50]))
        db.session.commit()
    return created


# --- running by hand: now, and over past periods -------------------------------------------------

MAX_BACKFILL_RUNS = 400


def period_job_id(schedule_id: int, start: date) -> str:
    """The id of a backfill run: one per schedule and period, so a backfill run twice adds nothing."""
    return str(uuid.uuid5(RUN_NAMESPACE, f"{schedule_id}:period:{start.isoformat()}"))


def periods_between(frequency: str, first: date, last: date) -> list[tuple[date, date]]:
    """The schedule's periods (days, months or years) that start within first..last."""
    out, day = [], first
    if frequency == "monthly":
        day = first.replace(day=1) if first.day == 1 else (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    elif frequency == "yearly":
        day = first if (first.month, first.day) == (1, 1) else date(first.year + 1, 1, 1)
    while day <= last and len(out) <= MAX_BACKFILL_RUNS:
        if frequency == "monthly":
            nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        elif frequency == "yearly":
            nxt = date(day.year + 1, 1, 1)
        else:
            nxt = day + timedelta(days=1)
        out.append((day, nxt - timedelta(days=1)))
        day = nxt
    return out


def run_now(user: User, schedule_id) -> Job:
    """Start the schedule's run for the latest period now (as the dispatcher would at this instant),
    launched by the user (MANAGE_PIPELINES), whether the schedule is enabled or not."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    schedule = get_schedule(user, schedule_id)
    at = utcnow()
    return enqueue_job(schedule.process_id, render_inputs(schedule.inputs or {}, schedule.frequency, at, schedule.timezone),
                       launcher=user, project_id=schedule.project_id, external_ref=f"schedule:{schedule.id}")


def backfill(user: User, schedule_id, first: date, last: date) -> dict:
    """One run per period of the schedule starting within first..last (daily: each day; monthly: each
    month; yearly: each year). Idempotent: a period that already has its backfill run is not run
    again (re-run or retry a failed one from its job). Returns {"created": [...], "existing": [...]}
    — the runs' progress is the schedule's run list."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    schedule = get_schedule(user, schedule_id)
    if last < first:
        raise ValidationFailed("Invalid backfill", {"end": ["must not be before start"]})
    if schedule.frequency not in PERIODIC:
        raise ValidationFailed("Invalid backfill", {"frequency": ["a backfill needs a daily, monthly or yearly schedule"]})
    periods = periods_between(schedule.frequency, first, last)
    if len(periods) > MAX_BACKFILL_RUNS:
        raise ValidationFailed("Invalid backfill", {"end": [f"at most {MAX_BACKFILL_RUNS} periods at once"]})
    if not periods:
        raise ValidationFailed("Invalid backfill", {"end": [f"no whole {schedule.frequency} period starts in the range"]})
    created, existing = [], []
    for start, end in periods:
        job_id = period_job_id(schedule.id, start)
        if db.session.get(Job, job_id) is not None:
            existing.append(job_id)
            continue
        try:
            enqueue_job(schedule.process_id, with_period(schedule.inputs or {}, start, end), launcher=user,
                        project_id=schedule.project_id, job_id=job_id, external_ref=f"schedule:{schedule.id}")
            created.append(job_id)
        except IntegrityError:  # a concurrent backfill made it
            db.session.rollback()
            existing.append(job_id)
    return {"created": created, "existing": existing}


def seed_eo_schedules(project_id: int) -> list[Schedule]:
    """The seed's three EO schedules (daily ERA5-Land, daily CHIRPS, yearly WorldPop) in this project:
    dry runs, disabled, ready to enable. Idempotent (matched by project and name)."""
    seeds = [
        ("Daily ERA5-Land temperature", "daily", "era5-land-temperature", "eoEra5Temp1"),
        ("Daily CHIRPS precipitation", "daily", "chirps-daily", "eoChirpsPr1"),
        ("Yearly WorldPop population", "yearly", "worldpop-population", "eoWorldPop1"),
    ]
    out = []
    for name, frequency, dataset, element in seeds:
        schedule = db.session.execute(select(Schedule).where(Schedule.project_id == project_id,
                                                             Schedule.name == name)).scalar_one_or_none()
        if schedule is None:
            schedule = Schedule(project_id=project_id, name=name, process_id="eo-aggregate-import", frequency=frequency,
                                cron=PRESETS[frequency], timezone="Africa/Bangui", enabled=False, catch_up=True,
                                description="Seeded: a dry run over the previous period; set a connection and enable.",
                                inputs={"datasetId": dataset, "start": "{period_start}", "end": "{period_end}",
                                        "orgUnitLevel": 3, "dataElement": element, "dryRun": True})
            db.session.add(schedule)
        out.append(schedule)
    db.session.commit()
    return out
