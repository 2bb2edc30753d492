"""The job engine: enqueue, run with progress and heartbeats, kill, and reap dead workers' jobs.

The `jobs` row is the truth; RQ only executes. Progress, log lines and heartbeats are written
through their own short transactions so they are visible at once, whatever the process does
with its own session (its work commits or rolls back as one unit).

Work launched elsewhere (an OpenHEXA run) is a process whose `run` returns `Waiting`: the job stays
running and the engine polls it — one short RQ job per poll, through the same entry point
(`app.rq_jobs.runner.run_job`, the job id its only argument) — until `poll` ends it. Between polls no
worker holds the job, so its `heartbeat_at` is set to when the next poll is due: the reaper sees a
chain of polls that stopped (its worker died) as it sees any dead worker, and calls the process's
`resume` hook instead of failing the job. One job has one chain of polls: the id of the RQ job due
next is kept in Redis, and a poll that is not that one (a chain a resume replaced) does nothing.
"""
from __future__ import annotations

import functools
import logging
import os
import threading
import time
import traceback
import uuid
import weakref
from datetime import timedelta

import redis
from flask import current_app
from rq.exceptions import NoSuchJobError
from rq.job import Job as RQJob
from sqlalchemy import JSON, and_, bindparam, func, insert, select, true, update
from sqlalchemy.orm import joinedload, load_only

from app.extensions import db, get_queue, get_redis
from app.models import Job, JobLog, OutboxEvent, User, utcnow
from app.services.platform.outbox import event_values
from app.services.platform.principals import principal_at
from app.services.platform.permissions import SystemActor
from app.services.processing.registry import (
    Ended, Launch, Process, Waiting, authorize_launch, get_process, parse_inputs)
from app.services.processing import job_status as st
from app.services.platform.errors import Conflict, DomainError
from app.services.processing.errors import NoSuchJob, NoSuchProcess

log = logging.getLogger(__name__)

REDACTED = "***"
_jobs = Job.__table__
_logs = JobLog.__table__


class JobDismissed(Exception):
    """Raised inside a running job when its dismissal was requested."""


# --- writing job state outside the caller's transaction ------------------------------------

# A running job's progress, log lines and step records are kept in memory and written at most this often
# (and with the statement that ends the job): a seven-step no-op run is two writes, not forty. A worker that
# dies loses at most this much of them; the job itself is not lost (the reaper ends it).
FLUSH_SECONDS = 0.25

_autocommit_engines: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _connect():
    """A connection whose statements commit each on its own: a job write is one round trip, not BEGIN,
    statement, COMMIT."""
    engine = db.engine
    if engine.dialect.name != "postgresql":
        return engine.begin()
    autocommit = _autocommit_engines.get(engine)
    if autocommit is None:
        autocommit = _autocommit_engines[engine] = engine.execution_options(isolation_level="AUTOCOMMIT")
    return autocommit.connect()


LogLine = tuple  # (at, level, message)


def write_job(job_id: str, values: dict, logs: list[LogLine] = (),
              only_if_status: tuple[str, ...] | None = None, durable: bool = True,
              event: str | None = None) -> tuple[bool, bool]:
    """UPDATE the job row (with `only_if_status`, compare-and-set) and, if it was updated, add `logs` to
    its log — at once, in one statement of its own. Returns (updated, kill_requested).

    Not `durable` (the claim, progress): committed without waiting for the disk, so a crash of PostgreSQL
    itself (not of a worker) may lose the last fraction of a second of them — a job then reads as still
    accepted or running and the reaper ends it. A job's end is always durable.

    With `event` (JobFailed), an outbox event about the job joins the same transaction when the row
    changed (a rare path: a plain transaction, not the one-statement write)."""
    values.setdefault("updated_at", utcnow())
    lines = [(at, level, message[:10_000]) for at, level, message in logs]
    with (db.engine.begin() if event else _connect()) as conn:
        if conn.dialect.name == "postgresql" and not event:
            row = conn.exec_driver_sql(_pg_write(tuple(values), bool(only_if_status), bool(lines), durable),
                                       _pg_params(job_id, values, lines, only_if_status)).first()
        else:
            stmt = update(_jobs).where(_jobs.c.id == job_id).values(**values)
            if only_if_status:
                stmt = stmt.where(_jobs.c.status.in_(only_if_status))
            row = conn.execute(stmt.returning(_jobs.c.id, _jobs.c.kill_requested)).first()
            if row is not None and lines:
                conn.execute(insert(_logs), [{"job_id": job_id, "at": at, "level": level, "message": message}
                                             for at, level, message in lines])
            if row is not None and event:
                conn.execute(insert(OutboxEvent.__table__).values(_job_event(conn, event, job_id)))
    return (row is not None, bool(row and row.kill_requested))


def _job_event(conn, event_type: str, job_id: str) -> dict:
    """JobFailed: which job, process, project and schedule, the message and the step that failed
    (webhooks subscribe to it; the built-in rule raises an alert)."""
    row = conn.execute(select(_jobs.c.process_id, _jobs.c.project_id, _jobs.c.external_ref, _jobs.c.message,
                              _jobs.c.steps).where(_jobs.c.id == job_id)).one()
    ref = row.external_ref or ""
    failed_step = next((s.get("name") for s in row.steps or [] if s.get("status") == st.FAILED), None)
    return event_values(event_type, "job", job_id, {
        "job_id": job_id, "process_id": row.process_id, "project_id": row.project_id, "status": st.FAILED,
        "message": row.message, "failed_step": failed_step,
        "schedule_id": int(ref.split(":", 1)[1]) if ref.startswith("schedule:") and ref[9:].isdigit() else None})


_JSON_COLUMNS = frozenset(name for name, column in _jobs.c.items() if isinstance(column.type, JSON))


@functools.lru_cache(maxsize=256)
def _pg_write(columns: tuple[str, ...], compare: bool, with_logs: bool, durable: bool) -> str:
    """The SQL of write_job on PostgreSQL for these columns, built once (a job's writes are the hot path).
    A CTE of the same statement INSERTs the log lines, for the row the UPDATE returned; another, unless
    `durable`, lets this one commit without waiting for its WAL flush (synchronous_commit off for this
    transaction only: 0.3 ms instead of 1–5 ms here)."""
    unknown = set(columns) - set(_jobs.c.keys())
    if unknown:
        raise ValueError(f"no such job columns: {sorted(unknown)}")
    sets = ", ".join(f"{name} = %({name})s" for name in columns)
    sql = (f"UPDATE jobs SET {sets} WHERE id = %(job_id)s" + (" AND status = ANY(%(statuses)s)" if compare else "")
           + " RETURNING id, kill_requested")
    if durable and not with_logs:
        return sql
    ctes = [f"job AS ({sql})"]
    if with_logs:
        ctes.append("logged AS (INSERT INTO job_logs (job_id, at, level, message) "
                    "SELECT job.id, line.at, line.level, line.message FROM job, "
                    "unnest(%(log_at)s::timestamptz[], %(log_level)s::varchar[], %(log_message)s::text[]) "
                    "WITH ORDINALITY AS line(at, level, message, n) ORDER BY line.n)")
    if not durable:
        ctes.append("lazy AS (SELECT set_config('synchronous_commit', 'off', true))")
    return f"WITH {', '.join(ctes)} SELECT job.id, job.kill_requested FROM job" + ("" if durable else ", lazy")


def _pg_params(job_id: str, values: dict, lines: list[LogLine], only_if_status) -> dict:
    from psycopg.types.json import Jsonb

    params = {name: Jsonb(value) if name in _JSON_COLUMNS else value for name, value in values.items()}
    params["job_id"] = job_id
    if only_if_status:
        params["statuses"] = list(only_if_status)
    if lines:
        params.update(log_at=[at for at, _, _ in lines], log_level=[level for _, level, _ in lines],
                      log_message=[message for _, _, message in lines])
    return params


def update_job(job_id: str, only_if_status: tuple[str, ...] | None = None, **values) -> bool:
    """UPDATE the job row at once (its own statement); with `only_if_status`, compare-and-set."""
    return write_job(job_id, values, only_if_status=only_if_status)[0]


def _closed(steps: list | None, status: str) -> dict:
    """When a job ends other than successfully: its open steps, closed — as extra values for the same
    UPDATE that ends the job, so nobody sees the end without them."""
    if not steps or not any(s.get("status") in ("pending", "running") for s in steps):
        return {}
    ended = "failed" if status == st.FAILED else "dismissed"
    closed = []
    for step in steps:
        step = dict(step)
        if step.get("status") == "running":
            step["status"] = ended
        elif step.get("status") == "pending":
            step["status"] = "skipped"
        closed.append(step)
    return {"steps": closed}


def _closed_steps(job_id: str, status: str) -> dict:
    """`_closed` for a job ended outside its worker (reaped, dismissed before it ran): the steps it stored."""
    with db.engine.connect() as conn:
        steps = conn.execute(select(_jobs.c.steps).where(_jobs.c.id == job_id)).scalar()
    return _closed(steps, status)


def append_log(job_id: str, message: str, level: str = "info") -> None:
    """Add a line to the job's log (its own transaction)."""
    with db.engine.begin() as conn:
        conn.execute(insert(_logs).values(job_id=job_id, at=utcnow(), level=level, message=message[:10_000]))


def _set_rq_meta(**meta) -> None:
    """Mirror progress into the RQ job's meta, which the RQ dashboard shows."""
    from rq import get_current_job

    rq_job = get_current_job()
    if rq_job is None:
        return
    try:
        rq_job.meta.update(meta)
        rq_job.save_meta()
    except redis.RedisError:
        log.warning("could not save RQ meta for %s", rq_job.id)


# --- enqueueing -----------------------------------------------------------------------------

def redact(inputs: dict, secret_names: frozenset[str]) -> dict:
    return {k: (REDACTED if k in secret_names else v) for k, v in inputs.items()}


def create_job(
    process_id: str,
    inputs: dict,
    launcher: User | None = None,
    project_id: int | None = None,
    job_id: str | None = None,
    external_ref: str | None = None,
) -> Job:
    """Read the inputs with the process's model, authorize the launch and write the job row (accepted),
    without queueing it. `inputs` are JSON values, as a JSON client sends them; nothing is written on
    bad input (ValidationFailed naming each input).

    The launcher must hold the process's permission and may name only rows it may act on; the job
    belongs to their project (`project_id`, else the rows', else the launcher's first). Without a
    launcher (a schedule's run) the server acts, confined to `project_id`. With a given `job_id` that
    already exists, the INSERT fails (IntegrityError): the schedule dispatcher relies on this to never
    run one period twice.
    """
    process = get_process(process_id)
    launch = authorize_launch(process, launcher or SystemActor(project_id), inputs, project_id)
    # Checked after authorization: these checks' messages may describe the rows the inputs name.
    clean = process.prepare(launch.inputs) if process.prepare else launch.inputs
    job = Job(
        id=job_id or str(uuid.uuid4()),
        process_id=process.id,
        status=st.ACCEPTED,
        progress=0,
        message="Queued",
        inputs=redact(clean.model_dump(mode="json"), process.secret_inputs),
        launcher_id=launcher.id if launcher else None,
        project_id=launch.project_id,
        external_ref=external_ref,
    )
    db.session.add(job)
    db.session.commit()
    return job


def enqueue_job(
    process_id: str,
    inputs: dict,
    launcher: User | None = None,
    project_id: int | None = None,
    job_id: str | None = None,
    external_ref: str | None = None,
) -> Job:
    """Check the inputs (JSON values), create the job row (accepted) and queue it. Nothing is queued on
    bad input."""
    # The id is ours before the row is written: queueing it does not read back the row the commit expired
    # (the caller's first look at the returned job does, once the job is queued).
    job_id = job_id or str(uuid.uuid4())
    job = create_job(process_id, inputs, launcher, project_id, job_id, external_ref)
    process = get_process(process_id)
    timeout = process.timeout_seconds or current_app.config["JOB_DEFAULT_TIMEOUT_SECONDS"]
    try:
        with get_redis().pipeline() as pipe:  # one round trip: RQ registers the queue and pushes the job
            get_queue().enqueue_call(
                "app.rq_jobs.runner.run_job",
                args=(job_id,),
                job_id=job_id,
                timeout=timeout + 30,  # our own limits fire first; RQ's is the backstop
                result_ttl=24 * 3600,
                failure_ttl=7 * 24 * 3600,
                description=f"{process.id} {job_id}",
                meta={"process_id": process.id, "progress": 0},
                pipeline=pipe,
            )
            pipe.execute()
    except redis.RedisError as exc:
        update_job(job_id, status=st.FAILED, message=f"Could not queue the job: {exc}", finished_at=utcnow())
        db.session.refresh(job)
        raise DomainError("The job queue is unreachable; the job was not started.") from exc
    return job


def run_job_now(process_id: str, inputs: dict, launcher: User | None = None, project_id: int | None = None) -> Job:
    """Synchronous execution (OGC sync-execute): the job row is written and run in this process."""
    job = create_job(process_id, inputs, launcher, project_id)
    execute_job(job.id)
    db.session.expire_all()
    return db.session.get(Job, job.id)


# --- running --------------------------------------------------------------------------------

class JobContext:
    """What a running process sees: progress, log, cooperative kill checks.

    Progress, log lines and step records are kept and written together at most every FLUSH_SECONDS —
    when reported after that long, before a sleep, at a kill check, and with the end of the job; each write
    reads the kill flag too."""

    def __init__(self, job_id: str, logs: list[LogLine] = ()):
        self.job_id = job_id
        self._last_kill_check = self._last_write = time.monotonic()  # the claim has just read the flag
        self._values: dict = {}
        self._logs: list[LogLine] = list(logs)
        self._meta: dict | None = None

    def progress(self, value: int | float, message: str | None = None) -> None:
        """Report progress (0–100) and optionally a message; raises JobDismissed if asked to stop."""
        value = max(0, min(100, int(value)))
        self._values["progress"] = value
        if message is not None:
            self._values["message"] = message[:2000]
        if message:
            self._logs.append((utcnow(), "info", message))
        self._meta = {"progress": value, "message": message}
        self.check_kill()

    def log(self, message: str, level: str = "info") -> None:
        self._logs.append((utcnow(), level, message))
        if time.monotonic() - self._last_write >= FLUSH_SECONDS:
            self.flush()

    def set_steps(self, steps: list[dict]) -> None:
        """Per-step state (the step runner's records), written with the next write."""
        self._values["steps"] = [dict(step) for step in steps]
        if time.monotonic() - self._last_write >= FLUSH_SECONDS:
            self.flush()

    def pending(self) -> tuple[dict, list[LogLine]]:
        """What is not written yet (the job's end writes it); forgotten here."""
        values, logs, self._values, self._logs, self._meta = self._values, self._logs, {}, [], None
        return values, logs

    def flush(self) -> bool:
        """Write what is pending (with a heartbeat) in one statement; returns whether a kill was requested."""
        values, logs = self.pending()
        meta = self._meta
        self._last_write = self._last_kill_check = time.monotonic()
        updated, killed = write_job(self.job_id, {**values, "heartbeat_at": utcnow()}, logs,
                                    only_if_status=(st.RUNNING,), durable=False)
        _BEATS.wrote(self.job_id)
        if meta:
            _set_rq_meta(**meta)
        return killed if updated else self.kill_requested()

    def kill_requested(self) -> bool:
        """Whether a dismissal was requested (read now)."""
        with db.engine.connect() as conn:
            return bool(conn.execute(select(_jobs.c.kill_requested).where(_jobs.c.id == self.job_id)).scalar())

    def check_kill(self, force: bool = False) -> None:
        """Raise JobDismissed if a kill was requested (reads at most every FLUSH_SECONDS unless forced, writing
        what is pending with the read)."""
        now = time.monotonic()
        if not force and now - self._last_kill_check < FLUSH_SECONDS:
            return
        self._last_kill_check = now
        if self._values or self._logs:
            killed = self.flush()
        else:
            killed = self.kill_requested()
        if killed:
            raise JobDismissed()

    def sleep(self, seconds: float) -> None:
        """Sleep, checking for a kill request while waiting."""
        if seconds <= 0:
            self.check_kill()
            return
        deadline = time.monotonic() + seconds
        while True:
            self.check_kill(force=True)
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(FLUSH_SECONDS, left))


class _Beats:
    """Stamps heartbeat_at of the jobs running in this process, so a dead worker is noticed by the reaper:
    one thread per process, one UPDATE per beat for all of them, and none for a job that wrote since
    its last beat (its write stamped it)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._jobs: dict[str, tuple[object, float]] = {}  # job id → (app, when its row was last stamped)
        self._thread: threading.Thread | None = None
        self._pid = None

    def start(self, app, job_id: str) -> None:
        with self._lock:
            self._jobs[job_id] = (app, time.monotonic())
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="job-heartbeats", daemon=True)
                self._thread.start()

    def wrote(self, job_id: str) -> None:
        with self._lock:
            if job_id in self._jobs:
                self._jobs[job_id] = (self._jobs[job_id][0], time.monotonic())

    def stop(self, job_id: str) -> None:
        """Stop beating for the job; a beat in flight ends first (it must not land after what the job
        writes next)."""
        with self._lock:
            self._jobs.pop(job_id, None)

    def _run(self) -> None:
        while True:
            time.sleep(0.5)
            with self._lock:  # held while beating: stop() waits for a beat in flight
                now = time.monotonic()
                due: dict = {}
                for job_id, (app, stamped) in self._jobs.items():
                    if now - stamped >= app.config["JOB_HEARTBEAT_SECONDS"]:
                        due.setdefault(app, []).append(job_id)
                for app, ids in due.items():
                    try:
                        with app.app_context():
                            with _connect() as conn:
                                conn.execute(update(_jobs).where(_jobs.c.id.in_(ids), _jobs.c.status == st.RUNNING)
                                             .values(heartbeat_at=utcnow()))
                        for job_id in ids:
                            self._jobs[job_id] = (app, now)
                    except Exception:  # a missed beat is not fatal; the next one may get through
                        log.exception("heartbeat failed for jobs %s", ids)


_BEATS = _Beats()


def execute_job(job_id: str) -> str | None:
    """Run the job's process in this worker — or, for a running job waiting on work done elsewhere, poll
    it. Returns the job's status after it (None if nothing was done)."""
    now = utcnow()
    job, killed = _claim(job_id, now)
    if job is None:
        return _unclaimed(job_id)
    # Claimed: from here on, whatever happens ends the job (a refusal too, from running).
    try:
        process = get_process(job.process_id)
    except NoSuchProcess as exc:
        db.session.rollback()
        return finish_job(job_id, st.FAILED, exc.message)
    # Written with the job's first write: a launch refused now has nothing to take back.
    started = [(now, "info", f"Started: {process.title}")]
    if killed:
        # asked before our claim landed: to whoever asked, it was running — same words as later
        db.session.rollback()
        return finish_job(job_id, st.DISMISSED, "Dismissed on request", pending=({}, started))
    launch, refusal = _launch_as_stored(job)
    db.session.rollback()
    if refusal:
        return finish_job(job_id, st.FAILED, refusal)
    return _run_step(job_id, process, process.run, launch.inputs, started)


# What the worker reads of a job to check its launch again: the job's own columns that the check needs, its
# launcher, their role and projects — not its results, steps or messages.
_LAUNCH_READ = (load_only(Job.id, Job.process_id, Job.inputs, Job.launcher_id, Job.project_id, Job.external_ref),
                joinedload(Job.launcher).joinedload(User.projects))
_RUNNING = {"status": st.RUNNING, "message": "Running"}


@functools.cache
def _claim_and_read():
    """PostgreSQL: the claim (accepted → running, compare-and-set) returning what the launch is checked on,
    with the launcher's principal_version (while active), in one statement that commits on its own without
    waiting for its WAL flush (as write_job's claim did). Core, not the ORM: the launcher comes from the
    principal cache (`principals.principal_at`)."""
    now = bindparam("now", type_=_jobs.c.started_at.type)
    claim = (update(_jobs).where(_jobs.c.id == bindparam("job_id"), _jobs.c.status == st.ACCEPTED)
             .values(started_at=now, heartbeat_at=now, updated_at=now, **_RUNNING)
             .returning(*(_jobs.c[name] for name in _CLAIMED), _jobs.c.kill_requested).cte("claim"))
    lazy = select(func.set_config("synchronous_commit", "off", True).label("off")).cte("lazy")
    users = User.__table__
    return (select(claim, users.c.principal_version)
            .select_from(claim.outerjoin(users, and_(users.c.id == claim.c.launcher_id, users.c.active.is_(True))))
            .join(lazy, true()))


_CLAIMED = ("id", "process_id", "inputs", "launcher_id", "project_id", "external_ref")


def _claim(job_id: str, now) -> tuple[Job | None, bool]:
    """Claim an accepted job for this worker and read it with its launcher: (the job, whether a kill was
    requested), or (None, False) when it was not accepted (ended, running, or no row).

    One round trip in a worker (its session has no transaction under way: the statement runs outside one,
    autocommit), the job returned as a transient `Job` (never added to the session) with the columns the
    launch is checked on; a job run inside a request or a test (whose session has a transaction under
    way) is claimed on a connection of its own — the claim must not wait for the caller's commit — and
    then read in the caller's session."""
    if db.engine.dialect.name == "postgresql" and not db.session().in_transaction():
        db.session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        row = db.session.execute(_claim_and_read(), {"job_id": job_id, "now": now}).first()
        if row is None:
            return None, False
        job = Job(**{name: getattr(row, name) for name in _CLAIMED})
        if row.launcher_id is not None:
            job.launcher = (principal_at(row.launcher_id, row.principal_version) if row.principal_version is not None
                            else db.session.get(User, row.launcher_id))  # inactive: refused by name
        return job, bool(row.kill_requested)
    claimed, killed = write_job(job_id, {"started_at": now, "heartbeat_at": now, **_RUNNING},
                                only_if_status=(st.ACCEPTED,), durable=False)
    if not claimed:
        return None, False
    return db.session.get(Job, job_id, options=_LAUNCH_READ), killed


def _unclaimed(job_id: str) -> str | None:
    """A delivery of a job that was not accepted: a running job waiting on outside work is polled; any other
    (ended, running elsewhere, dismissed before it started) is left as it is."""
    job = db.session.get(Job, job_id)
    if job is None:
        log.warning("job %s has no row; nothing to run", job_id)
        return None
    try:
        process = get_process(job.process_id)
    except NoSuchProcess:
        return None
    if job.status == st.RUNNING and process.poll is not None:
        return _poll(job, process)
    return None


def _poll(job: Job, process: Process) -> str | None:
    """One poll of a job waiting on outside work, unless this RQ job is not the one its chain expects."""
    if not _is_due_poll(job.id):
        return None
    inputs = parse_inputs(process, job.inputs or {})
    db.session.rollback()
    return _run_step(job.id, process, process.poll, inputs)


def _run_step(job_id: str, process: Process, step, inputs, logs: list[LogLine] = ()) -> str:
    """Call `run` or `poll` with a heartbeat, and end (or keep waiting) the job by what it returns or raises;
    what the process reported and is not written yet (and `logs`) is written with the job's next write."""
    ctx = JobContext(job_id, logs)
    _BEATS.start(current_app._get_current_object(), job_id)
    try:
        outcome = step(ctx, inputs)
    except JobDismissed:
        db.session.rollback()
        return finish_job(job_id, st.DISMISSED, "Dismissed on request", pending=ctx.pending())
    except DomainError as exc:
        db.session.rollback()
        return finish_job(job_id, st.FAILED, exc.message, pending=ctx.pending())
    except Exception:  # any failure of the process ends the job failed; the cause goes to the log
        db.session.rollback()
        log.exception("job %s (%s) failed", job_id, process.id)
        values, logs = ctx.pending()
        logs.append((utcnow(), "trace", traceback.format_exc(limit=8)))
        return finish_job(job_id, st.FAILED, UNEXPECTED_FAILURE, pending=(values, logs))
    finally:
        _BEATS.stop(job_id)
    if isinstance(outcome, Waiting):
        ctx.flush()
        return _wait(job_id, process, outcome)
    if isinstance(outcome, Ended):
        return finish_job(job_id, outcome.status, outcome.message, results=outcome.results or {},
                          pending=ctx.pending())
    return finish_job(job_id, st.SUCCESSFUL, "Completed", results=outcome or {}, pending=ctx.pending())


def _wait(job_id: str, process: Process, waiting: Waiting) -> str:
    """The work goes on elsewhere: keep the job running and schedule its next poll."""
    if process.poll is None:
        raise TypeError(f"process {process.id} returned Waiting but has no poll")
    values = {}
    if waiting.message is not None:
        values["message"] = waiting.message[:2000]
    if waiting.external_ref is not None:
        values["external_ref"] = waiting.external_ref
    if values and not update_job(job_id, only_if_status=(st.RUNNING,), **values):
        return db.session.get(Job, job_id).status  # ended meanwhile (reaped): no more polls
    schedule_poll(job_id, process, waiting.poll_in)
    return st.RUNNING


# --- polling work done elsewhere ----------------------------------------------------------------

def _poll_key(job_id: str) -> str:
    return f"fieldflow:job-poll:{job_id}"


def schedule_poll(job_id: str, process: Process, delay: float) -> None:
    """Queue the job's next poll in `delay` seconds (RQ's scheduler, run by `worker.py`, moves it onto the
    queue) as the one its chain expects, and vouch for the job until then (`heartbeat_at`)."""
    rq_id = f"{job_id}-poll-{uuid.uuid4().hex[:12]}"
    timeout = (process.timeout_seconds or current_app.config["JOB_DEFAULT_TIMEOUT_SECONDS"]) + 30
    get_redis().set(_poll_key(job_id), rq_id, ex=int(delay) + 24 * 3600)  # before the poll can run
    kwargs = {"job_id": rq_id, "result_ttl": 3600, "failure_ttl": 7 * 24 * 3600,
              "description": f"{process.id} {job_id} poll", "meta": {"process_id": process.id}}
    if delay <= 0:
        get_queue().enqueue_call("app.rq_jobs.runner.run_job", args=(job_id,), timeout=timeout, **kwargs)
    else:
        get_queue().enqueue_in(timedelta(seconds=delay), "app.rq_jobs.runner.run_job", job_id,
                               job_timeout=timeout, **kwargs)
    update_job(job_id, only_if_status=(st.RUNNING,), heartbeat_at=utcnow() + timedelta(seconds=delay))


def _is_due_poll(job_id: str) -> bool:
    """Whether the running RQ job is the poll the job's chain expects (a direct call, outside RQ, is)."""
    from rq import get_current_job

    current = get_current_job()
    if current is None:
        return True
    try:
        expected = get_redis().get(_poll_key(job_id))
    except redis.RedisError:
        return True
    if expected is not None and expected.decode() != current.id:
        log.info("poll %s of job %s was replaced; not polling", current.id, job_id)
        return False
    return True


def resume_polling(job: Job) -> bool:
    """A `resume` hook for processes that poll: poll the job again now (a new chain replaces the dead one)."""
    try:
        schedule_poll(job.id, get_process(job.process_id), 0)
    except redis.RedisError:
        log.warning("could not resume polling for %s", job.id)
        return False
    append_log(job.id, "Polling resumed after a worker restart", "warning")
    return True


def _launch_as_stored(job: Job) -> tuple[Launch | None, str | None]:
    """The job's launch checked again in the worker on what the row stores (its launcher, or the server
    confined to its project, and its inputs), as at enqueue time: (the launch, None) when it may still
    run, else (None, why not)."""
    if job.launcher is not None and not job.launcher.is_active:
        return None, f"Not started: its launcher {job.launcher.username} is no longer active."
    try:
        return authorize_launch(get_process(job.process_id), job.launcher or SystemActor(job.project_id),
                                job.inputs or {}, job.project_id), None
    except DomainError as exc:
        return None, f"Not started: {job.launched_by} may no longer run it ({exc.message})"


UNEXPECTED_FAILURE = ("The job stopped on an unexpected error. Nothing more was done; an administrator can read "
                      "the details in this job's log.")


def finish_job(job_id: str, status: str, message: str, results: dict | None = None,
               from_statuses: tuple[str, ...] = (st.RUNNING,),
               pending: tuple[dict, list[LogLine]] = ({}, [])) -> str:
    """End a job (compare-and-set from `from_statuses`) in one statement: status, message, results, closed
    steps, log — with what its run reported and had not written yet (`pending`, from JobContext.pending)."""
    reported, logs = pending
    values = {**reported, "status": status, "message": message[:2000], "finished_at": utcnow()}
    if status == st.SUCCESSFUL:
        values["progress"] = 100
        values["results"] = results
    else:
        values.update(_closed(reported["steps"], status) if "steps" in reported else _closed_steps(job_id, status))
    logs = [*logs, (utcnow(), "error" if status == st.FAILED else "info", message)]
    if write_job(job_id, values, logs, only_if_status=from_statuses,
                 event="JobFailed" if status == st.FAILED else None)[0]:
        _set_rq_meta(status=status, progress=values.get("progress") if status == st.SUCCESSFUL else None)
    return status


# --- kill and reaper ------------------------------------------------------------------------

def request_kill(job_id: str) -> Job:
    """Dismiss a job: a queued one at once, a running one when it next checks (it honours a flag)."""
    job = db.session.get(Job, job_id)
    if job is None:
        raise NoSuchJob(f"No job '{job_id}'")
    if job.status in st.TERMINAL:
        raise Conflict(f"Job {job_id} is already {job.status}; it cannot be dismissed.")
    update_job(job_id, kill_requested=True)
    if update_job(job_id, only_if_status=(st.ACCEPTED,), status=st.DISMISSED,
              message="Dismissed before it started", finished_at=utcnow()):
        append_log(job_id, "Dismissed before it started")
        try:
            RQJob.fetch(job_id, connection=get_redis()).cancel()
        except (NoSuchJobError, redis.RedisError):
            pass
    else:
        append_log(job_id, "Dismissal requested")
        update_job(job_id, only_if_status=(st.RUNNING,), message="Dismissal requested")
    db.session.expire_all()
    return db.session.get(Job, job_id)


def _rq_status(job_id: str) -> str | None:
    """RQ's status for the job, None if RQ no longer knows it, 'unknown' if Redis is down."""
    try:
        return RQJob.fetch(job_id, connection=get_redis()).get_status(refresh=True)
    except NoSuchJobError:
        return None
    except redis.RedisError:
        return "unknown"


def _stale_reason(job: Job, now) -> str | None:
    stale_after = timedelta(seconds=current_app.config["JOB_STALE_SECONDS"])
    if job.status == st.RUNNING:
        rq_status = _rq_status(job.id)
        if rq_status in ("failed", "stopped", "canceled"):
            return f"The worker ended this job unexpectedly (RQ status: {rq_status})."
        beat = job.heartbeat_at or job.started_at or job.created_at
        if beat < now - stale_after:
            return (f"The worker running this job stopped responding (last heartbeat "
                    f"{beat:%Y-%m-%d %H:%M:%S} UTC); it was probably killed or restarted.")
    elif job.status == st.ACCEPTED and job.created_at < now - max(stale_after, timedelta(seconds=60)):
        rq_status = _rq_status(job.id)
        if rq_status is None or rq_status in ("failed", "stopped", "canceled"):
            return "The job was lost from the queue before a worker started it."
    return None


def _resume_hook(process_id: str):
    try:
        return get_process(process_id).resume
    except NoSuchProcess:  # a row of a process this server no longer has: nothing can resume it
        return None


def reap_job_if_stale(job: Job) -> bool:
    """Fail this job if its worker died (used when a job is read), unless its process resumes it. True
    if it was reaped."""
    if job.status not in st.ACTIVE:
        return False
    reason = _stale_reason(job, utcnow())
    resume = _resume_hook(job.process_id) if reason and job.status == st.RUNNING else None
    if resume is not None and resume(job):
        return False
    if reason and update_job(job.id, only_if_status=(job.status,), status=st.FAILED, message=reason,
                         finished_at=utcnow(), **_closed_steps(job.id, st.FAILED)):
        append_log(job.id, reason, "error")
        db.session.refresh(job)
        return True
    return False


def reap_stale_jobs() -> int:
    """Fail every active job whose worker died or whose queue entry vanished. Returns the count."""
    jobs = db.session.execute(select(Job).where(Job.status.in_(st.ACTIVE))).scalars().all()
    return sum(1 for job in jobs if reap_job_if_stale(job))
