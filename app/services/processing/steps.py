"""The step runner: a process as a named sequence of steps, each with retries, backoff, a timeout,
a slice of the progress bar, log lines and a status stored on the job row (`jobs.steps`).

One RQ job runs the whole sequence (DESIGN: chaining RQ jobs costs 8x and strands dependents).

Timeouts: the job runs in the main thread of its RQ work horse (and of a SimpleWorker in tests),
so a step's limit is a SIGALRM timer (`setitimer`), which interrupts pure-Python loops and
blocking calls alike. RQ's own job timeout uses the same timer: we save it, arm ours only when it
is the earlier of the two, and re-arm RQ's remaining time afterwards. Off the main thread (a
synchronous run inside a threaded web server) signals are unavailable and the limit is
cooperative: it fires at the step's next `progress`, `log`, `sleep` or `check_kill` call.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import threading
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable

import requests
from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.models import Job, utcnow
from app.schemas.parsing import Input
from app.services.platform.errors import DomainError
from app.services.processing import job_status as st
from app.services.processing.registry import Process

PENDING, RUNNING, SUCCESSFUL, FAILED, DISMISSED, SKIPPED = (
    "pending", "running", "successful", "failed", "dismissed", "skipped")


class StepTimeout(Exception):
    """A step ran past its time limit."""


class StepFailed(DomainError):
    """A step failed for good; the message says which and why, in words fit for the job page."""

    status = 500
    code = "step_failed"
    title = "A step failed"


class PermanentError(DomainError):
    """A failure that retrying cannot fix (bad credentials, refused payload, missing source data): no
    further attempts; its message is what the job shows, so it says what to do in plain words."""

    status = 422
    code = "permanent_failure"
    title = "The job cannot go on"


class SkipRemaining(Exception):
    """Raised by a step to end the run successfully, skipping later steps (e.g. already imported)."""

    def __init__(self, reason: str, results: dict | None = None):
        super().__init__(reason)
        self.reason, self.results = reason, results or {}


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[["StepContext", dict], Any]  # run(sctx, state) -> value stored as state[name]
    title: str = ""
    retries: int = 0
    backoff_seconds: float = 1.0  # before retry n: backoff * 2**(n-1)
    timeout_seconds: float | None = None
    weight: float = 1.0  # share of the progress bar


class StepContext:
    """What a step sees: progress within its own slice, log lines tagged with its name."""

    def __init__(self, job_ctx, step: Step, lo: float, hi: float, deadline: float | None):
        self.job_ctx, self.step, self.lo, self.hi, self.deadline = job_ctx, step, lo, hi, deadline
        self.job_id = job_ctx.job_id

    def _check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise StepTimeout(f"step {self.step.name} timed out after {self.step.timeout_seconds:g} s")

    def progress(self, fraction: float, message: str | None = None) -> None:
        self._check_deadline()
        fraction = max(0.0, min(1.0, fraction))
        self.job_ctx.progress(self.lo + (self.hi - self.lo) * fraction,
                              f"{self.step.name}: {message}" if message else None)

    def log(self, message: str, level: str = "info") -> None:
        self._check_deadline()
        self.job_ctx.log(f"[{self.step.name}] {message}", level)

    def check_kill(self) -> None:
        self._check_deadline()
        self.job_ctx.check_kill()

    def sleep(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            self._check_deadline()
            self.job_ctx.sleep(min(left, 0.25))


@contextmanager
def time_limit(seconds: float | None, name: str):
    """Raise StepTimeout in the main thread after `seconds` (no-op off the main thread)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:
        yield  # the outer (RQ) limit fires first anyway
        return

    def _on_alarm(signum, frame):
        raise StepTimeout(f"step {name} timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, _on_alarm)
    started = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - started), 0.001))


def _iso(value) -> str:
    return value.isoformat().replace("+00:00", "Z")


# --- checkpoints: retry from the failed step ----------------------------------------------------
# A process run with checkpoints stores each step's (JSON) output under instance/checkpoints/<job id>/;
# a retry is a new job with a `resume.json` there naming the failed job and the step to start from:
# earlier steps' outputs are read back instead of run again.

def _checkpoint_dir(job_id: str) -> str:
    return os.path.join(current_app.instance_path, "checkpoints", job_id)


def _write_json(path: str, value) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump(value, fh, separators=(",", ":"))
    os.replace(path + ".tmp", path)


def has_checkpoint(job_id: str, step: str) -> bool:
    return os.path.exists(os.path.join(_checkpoint_dir(job_id), f"{step}.json"))


def plan_resume(job_id: str, from_job: str, from_step: str) -> None:
    """Make the (not yet started) job `job_id` start at `from_step`, reusing `from_job`'s earlier outputs."""
    _write_json(os.path.join(_checkpoint_dir(job_id), "resume.json"), {"job": from_job, "step": from_step})


def _resume_point(job_id: str) -> tuple[str | None, str | None]:
    path = os.path.join(_checkpoint_dir(job_id), "resume.json")
    if not os.path.exists(path):
        return None, None
    with open(path) as fh:
        plan = json.load(fh)
    return plan["job"], plan["step"]


def sweep_checkpoints(now=None) -> int:
    """Remove the checkpoints no retry will read: a successful or dismissed job's once it ended (only a
    failed job is retried), a failed job's CHECKPOINT_RETENTION_DAYS after it ended (it can still be
    re-run from the start), and a folder of no job (a deleted job) once it is as old. Returns how many
    folders went. Jobs still running keep theirs."""
    root = os.path.join(current_app.instance_path, "checkpoints")
    if not os.path.isdir(root):
        return 0
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["CHECKPOINT_RETENTION_DAYS"])
    names = [n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n))]
    ended: dict[str, tuple] = {}
    for i in range(0, len(names), 500):
        ended.update((row.id, (row.status, row.finished_at)) for row in db.session.execute(
            select(Job.id, Job.status, Job.finished_at).where(Job.id.in_(names[i:i + 500]))))
    db.session.rollback()
    removed = 0
    for name in names:
        path = os.path.join(root, name)
        if name in ended:
            status, finished = ended[name]
            stale = finished is not None and (status in (st.SUCCESSFUL, st.DISMISSED)
                                              or (status == st.FAILED and finished < cutoff))
        else:
            stale = os.path.getmtime(path) < cutoff.timestamp()
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def run_steps(steps: list[Step], ctx, inputs: Input, finish: Callable[[dict], dict], checkpoints: bool = False) -> dict:
    """Run `steps` in order for the job behind `ctx`; returns finish(state) as the job's results."""
    from app.services.processing.jobs import JobDismissed

    total = sum(s.weight for s in steps) or 1.0
    records = [{"name": s.name, "title": s.title or s.name.replace("_", " ").capitalize(), "status": PENDING,
                "attempts": 0, "progress": 0, "message": "", "started": None, "finished": None} for s in steps]
    ctx.set_steps(records)
    state: dict = {"inputs": inputs, "_job_id": ctx.job_id}
    from_job, from_step = _resume_point(ctx.job_id) if checkpoints else (None, None)
    reusing = from_step is not None and from_step in {s.name for s in steps}
    done = 0.0
    for step, record in zip(steps, records):
        lo, hi = 100 * done / total, 100 * (done + step.weight) / total
        done += step.weight
        if reusing and step.name != from_step:
            with open(os.path.join(_checkpoint_dir(from_job), f"{step.name}.json")) as fh:
                state[step.name] = json.load(fh)
            _write_json(os.path.join(_checkpoint_dir(ctx.job_id), f"{step.name}.json"), state[step.name])
            record.update(status=SUCCESSFUL, progress=100, message=f"reused from job {from_job}")
            ctx.set_steps(records)
            continue
        reusing = False
        record.update(status=RUNNING, started=_iso(utcnow()))
        for attempt in range(1, step.retries + 2):
            record["attempts"] = attempt
            ctx.set_steps(records)
            deadline = time.monotonic() + step.timeout_seconds if step.timeout_seconds else None
            sctx = StepContext(ctx, step, lo, hi, deadline)
            try:
                with time_limit(step.timeout_seconds, step.name):
                    state[step.name] = step.run(sctx, state)
                break
            except JobDismissed:
                record.update(status=DISMISSED, finished=_iso(utcnow()), message="Dismissed")
                ctx.set_steps(records)
                raise
            except SkipRemaining as skip:
                record.update(status=SUCCESSFUL, finished=_iso(utcnow()), message=skip.reason, progress=100)
                for later in records[records.index(record) + 1:]:
                    later.update(status=SKIPPED, message=skip.reason)
                ctx.set_steps(records)
                ctx.log(f"[{step.name}] {skip.reason}; later steps skipped")
                return {**skip.results, "skipped": True, "skipReason": skip.reason}
            except Exception as exc:
                reason = _reason(exc)
                if not isinstance(exc, (DomainError, StepTimeout)):
                    ctx.log(f"[{step.name}] attempt {attempt}: {traceback.format_exc(limit=8)}", "trace")
                if attempt > step.retries or isinstance(exc, PermanentError):
                    record.update(status=FAILED, finished=_iso(utcnow()), message=reason[:500])
                    ctx.set_steps(records)
                    ctx.log(f"[{step.name}] failed after {attempt} attempt(s): {reason}", "error")
                    if isinstance(exc, DomainError):
                        raise
                    raise StepFailed(f"Step {step.name} failed: {reason}") from exc
                wait = step.backoff_seconds * 2 ** (attempt - 1)
                record["message"] = f"attempt {attempt} failed: {reason[:300]}; retrying in {wait:g} s"
                ctx.set_steps(records)
                ctx.log(f"[{step.name}] {record['message']}", "warning")
                ctx.sleep(wait)
        if checkpoints:
            _write_json(os.path.join(_checkpoint_dir(ctx.job_id), f"{step.name}.json"), state[step.name])
        record.update(status=SUCCESSFUL, finished=_iso(utcnow()), progress=100,
                      message=f"succeeded on attempt {record['attempts']}" if record["attempts"] > 1 else "")
        ctx.set_steps(records)
        ctx.progress(hi, f"{step.name} done")
    return finish(state)


NETWORK_ERRORS = (ConnectionError, TimeoutError, requests.RequestException)


def _reason(exc: Exception) -> str:
    """What a step's record says of a failure: our own errors in their words, others by their type."""
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, StepTimeout):
        return str(exc)
    if isinstance(exc, NETWORK_ERRORS):  # say it: a coordinator can act on "DHIS2 unreachable"
        return f"network error: {exc}"
    return "an unexpected error (the details are in the job log for administrators)"


def steps_process(*, id: str, title: str, description: str, version: str, steps: list[Step],
                  inputs: type[Input], finish: Callable[[dict], dict], checkpoints: bool = False, **kwargs) -> Process:
    """A Process whose run() is the step runner over `steps`. With `checkpoints` (every step's output
    is JSON), each output is kept and a failed run can be retried from its failed step."""
    steps = list(steps)
    return Process(id=id, title=title, description=description, version=version, inputs=inputs,
                   run=lambda ctx, inputs: run_steps(steps, ctx, inputs, finish, checkpoints),
                   step_names=tuple(s.name for s in steps), retry_from_step=checkpoints, **kwargs)
