"""Schedules: recurring runs of a process with stored inputs, dispatched once a minute.

Times are DST-safe: cron expressions are evaluated on the schedule's local wall clock (zoneinfo),
then converted to UTC — a time that does not exist (spring forward) runs at the first instant after
the gap, an ambiguous one (fall back) runs once, at its first occurrence.

Dedupe: each run's job id is uuid5(schedule id, scheduled instant); the INSERT of the jobs row is
the guard, so two dispatchers (two `rq cron` processes) never run one period twice.
"""
from __future__ import annotations

import logging
import uuid
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Job, Schedule, User, utcnow
from app.services.processing.registry import get_process
from app.services.platform.errors import DomainError, FieldErrors, NotFound, ValidationFailed
from app.services.processing.jobs import enqueue_job

log = logging.getLogger(__name__)

PRESETS = {"daily": "0 6 * * *", "monthly": "0 6 1 * *", "yearly": "0 6 1 1 *"}
FREQUENCIES = (*PRESETS, "cron")
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
    start, end = period_for(frequency, at, tz)
    return {k: v.replace("{period_start}", start.isoformat()).replace("{period_end}", end.isoformat())
            if isinstance(v, str) else v for k, v in inputs.items()}


# --- editing ----------------------------------------------------------------------------------

def get_schedule(schedule_id: int) -> Schedule:
    schedule = db.session.get(Schedule, schedule_id)
    if schedule is None:
        raise NotFound(f"No schedule {schedule_id}")
    return schedule


def list_schedules() -> list[Schedule]:
    return list(db.session.execute(select(Schedule).order_by(Schedule.name)).scalars())


def save_schedule(data: dict, user: User | None = None, schedule_id: int | None = None) -> Schedule:
    """Create or update a schedule; inputs are checked by the process (placeholders rendered)."""
    schedule = get_schedule(schedule_id) if schedule_id else Schedule()
    errors = FieldErrors()
    name = (data.get("name") or "").strip()
    if not name:
        errors.add("name", "is required")
    elif db.session.execute(select(Schedule.id).where(Schedule.name == name, Schedule.id != (schedule_id or -1))).first():
        errors.add("name", "is already used")
    frequency = data.get("frequency") or "daily"
    cron = PRESETS.get(frequency) or (data.get("cron") or "").strip()
    if frequency not in FREQUENCIES:
        errors.add("frequency", f"must be one of {', '.join(FREQUENCIES)}")
    elif not croniter.is_valid(cron):
        errors.add("cron", "is not a valid cron expression (minute hour day month weekday)")
    tz = (data.get("timezone") or "UTC").strip()
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors.add("timezone", "is not a known time zone (e.g. Africa/Bangui, Europe/Brussels, UTC)")
    inputs = data.get("inputs") or {}
    if not isinstance(inputs, dict):
        errors.add("inputs", "must be a JSON object")
    process_id = data.get("process_id")
    try:
        process = get_process(process_id)
    except NotFound:
        errors.add("process_id", "is not a known process")
        process = None
    errors.raise_if_any("Invalid schedule")
    try:
        process.validate(render_inputs(inputs, frequency, utcnow(), tz))
    except ValidationFailed as exc:
        raise ValidationFailed(f"Invalid inputs for {process.id}: {exc.message}",
                               {f"inputs.{k}": v for k, v in exc.details.items()}) from None
    enabled = bool(data.get("enabled"))
    schedule.name, schedule.process_id, schedule.inputs = name, process.id, inputs
    schedule.frequency, schedule.cron, schedule.timezone, schedule.enabled = frequency, cron, tz, enabled
    schedule.description = data.get("description") or ""
    if schedule.created_by_id is None and user is not None:
        schedule.created_by_id = user.id
        schedule.project_id = user.project_ids[0] if user.project_ids else None
    if enabled:
        schedule.next_run_at = next_run(cron, tz, utcnow())  # no catch-up burst after a pause
    db.session.add(schedule)
    db.session.commit()
    return schedule


def set_enabled(schedule_id: int, enabled: bool) -> Schedule:
    schedule = get_schedule(schedule_id)
    schedule.enabled = enabled
    schedule.next_run_at = next_run(schedule.cron, schedule.timezone, utcnow()) if enabled else schedule.next_run_at
    db.session.commit()
    return schedule


def schedule_runs(schedule: Schedule, limit: int = 50) -> list[Job]:
    return list(db.session.execute(select(Job).where(Job.external_ref == f"schedule:{schedule.id}")
                                   .order_by(Job.created_at.desc()).limit(limit)).scalars())


# --- dispatching ------------------------------------------------------------------------------

def dispatch_schedule(schedule: Schedule, at: datetime, now: datetime) -> str | None:
    """Enqueue the run of `schedule` scheduled at `at`, unless another dispatcher already did;
    then advance next_run_at (compare-and-set). Returns the new job id, or None."""
    schedule_id, frequency, tz, cron = schedule.id, schedule.frequency, schedule.timezone, schedule.cron
    job_id, created = run_job_id(schedule_id, at), None
    try:
        enqueue_job(schedule.process_id, render_inputs(schedule.inputs or {}, frequency, at, tz),
                    launcher=schedule.created_by, project_id=schedule.project_id, job_id=job_id,
                    external_ref=f"schedule:{schedule_id}")
        created = job_id
    except IntegrityError:
        db.session.rollback()  # the run of this period exists: another dispatcher made it
    except DomainError as exc:
        db.session.rollback()
        log.warning("schedule %s could not start its run at %s: %s", schedule_id, at, exc.message)
    db.session.execute(update(Schedule).where(Schedule.id == schedule_id, Schedule.next_run_at == at).values(
        next_run_at=next_run(cron, tz, max(at, now)), last_run_at=at, last_job_id=job_id))
    db.session.commit()
    return created


def dispatch_due_schedules(now: datetime | None = None) -> list[str]:
    """Enqueue every due run (one per schedule: missed periods while no dispatcher ran are skipped)."""
    now = now or utcnow()
    due = db.session.execute(select(Schedule).where(Schedule.enabled.is_(True), Schedule.next_run_at <= now)
                             .order_by(Schedule.next_run_at)).scalars().all()
    created = []
    for schedule in due:
        job_id = dispatch_schedule(schedule, schedule.next_run_at, now)
        if job_id:
            created.append(job_id)
    return created


def seed_eo_schedules() -> list[Schedule]:
    """The seed's three EO schedules (daily ERA5-Land, daily CHIRPS, yearly WorldPop): dry runs,
    disabled, ready to enable. Idempotent (matched by name)."""
    seeds = [
        ("Daily ERA5-Land temperature", "daily", "era5-land-temperature", "eoEra5Temp1"),
        ("Daily CHIRPS precipitation", "daily", "chirps-daily", "eoChirpsPr1"),
        ("Yearly WorldPop population", "yearly", "worldpop-population", "eoWorldPop1"),
    ]
    out = []
    for name, frequency, dataset, element in seeds:
        schedule = db.session.execute(select(Schedule).where(Schedule.name == name)).scalar_one_or_none()
        if schedule is None:
            schedule = Schedule(name=name, process_id="eo-aggregate-import", frequency=frequency,
                                cron=PRESETS[frequency], timezone="Africa/Bangui", enabled=False,
                                description="Seeded: a dry run over the previous period; set a connection and enable.",
                                inputs={"datasetId": dataset, "start": "{period_start}", "end": "{period_end}",
                                        "orgUnitLevel": 3, "aggregation": "sum" if dataset != "era5-land-temperature" else "mean",
                                        "dataElement": element, "dryRun": True})
            db.session.add(schedule)
        out.append(schedule)
    db.session.commit()
    return out
