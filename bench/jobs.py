"""Benchmark: the job engine on PostgreSQL with one real worker.

    python bench/jobs.py [--database-url URL] [--runs 20] [--queued 1000]

Prints: submit → successful median (and p95) for `echo` (target ≤ 10 ms) and for the seven-step no-op
process `demo-steps` (target ≤ 25 ms); jobs/s for 1,000 queued `echo` jobs drained by one worker
(target ≥ 150/s: first start → last end, read from the rows), next to the floor measured in the same
run: RQ itself draining as many queued no-op jobs with one SimpleWorker, and the ratio.
The database (default: BENCH_DATABASE_URL, else a local "bench_jobs" database, created if
missing) is WIPED.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from orgunits import ensure_database, rebuild_schema  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_jobs"
QUEUE = "bench-jobs"
DRAIN_QUEUE = "bench-jobs-drain"
TARGETS = {"echo": 10, "demo-steps": 25}
FLOOR_QUEUE = "bench-jobs-floor"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--queued", type=int, default=1000)
    args = parser.parse_args()

    from app import create_app
    from app.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": QUEUE})
    print(f"schema built with {rebuild_schema(app)}")
    with app.app_context():
        return _run(args, url)


def _wait(db, Job, job_id: str) -> str:
    while True:
        db.session.expire_all()
        status = db.session.get(Job, job_id).status
        db.session.rollback()
        if status in ("successful", "failed", "dismissed"):
            return status
        time.sleep(0.002)


def _run(args, url) -> int:
    from sqlalchemy import func, select

    from app.extensions import db, get_redis
    from app.models import Job
    from app.services.processing.jobs import enqueue_job
    from app.schemas.users import UserIn
    from app.services.platform.users import create_user, ensure_default_roles

    get_redis().flushdb()
    ensure_default_roles()
    user = create_user(UserIn(username="bench", password="bench-password-123", role="coordinator", projects=["Bench"]))
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=args.redis_url, RQ_QUEUE=QUEUE,
               FIELDFLOW_INSTANCE_PATH="/tmp/fieldflow-bench", LOG_LEVEL="WARNING")
    worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT, start_new_session=True)
    try:
        time.sleep(2.0)  # the worker loads the app once
        for process_id, inputs in (("echo", {"message": "bench"}), ("demo-steps", {})):
            times = []
            for run in range(args.runs + 1):
                started = time.perf_counter()
                job = enqueue_job(process_id, inputs, launcher=user)
                status = _wait(db, Job, job.id)
                if status != "successful":
                    print(f"{process_id} ended {status}")
                    return 1
                if run:  # the first run warms the worker
                    times.append((time.perf_counter() - started) * 1000)
            times.sort()
            print(f"{process_id:>10} submit → successful: median {statistics.median(times):.1f} ms, "
                  f"p95 {times[max(0, -(-95 * len(times) // 100) - 1)]:.1f} ms over {len(times)} runs "
                  f"(target ≤ {TARGETS[process_id]} ms)")
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)
    # Drain: the jobs are queued first (on a queue no worker listens to yet), then one worker drains them.
    from flask import current_app

    current_app.config["RQ_QUEUE"] = DRAIN_QUEUE
    ids = [enqueue_job("echo", {"message": str(n)}, launcher=user).id for n in range(args.queued)]
    worker = subprocess.Popen([sys.executable, str(ROOT / "worker.py"), "--burst"],
                              env={**env, "RQ_QUEUE": DRAIN_QUEUE}, cwd=ROOT, start_new_session=True)
    worker.wait(600)
    first, last, done = db.session.execute(select(func.min(Job.started_at), func.max(Job.finished_at), func.count())
                                           .where(Job.id.in_(ids), Job.status == "successful")).one()
    db.session.rollback()
    ours = done / (last - first).total_seconds()
    floor = rq_floor(args.redis_url, args.queued)
    print(f"{args.queued} queued echo jobs drained by one worker: {done} successful, {ours:,.0f} jobs/s (target >= 150); "
          f"floor: RQ draining {args.queued} queued no-op jobs with one SimpleWorker {floor:,.0f} jobs/s; "
          f"ratio {ours / floor:.2f}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


def rq_floor(redis_url: str, count: int) -> float:
    """Queued no-op jobs/s that RQ itself drains with one SimpleWorker (the engine's floor)."""
    code = f"""
import time, redis
from rq import Queue, SimpleWorker
connection = redis.Redis.from_url({redis_url!r})
queue = Queue({FLOOR_QUEUE!r}, connection=connection)
for _ in range({count}):
    queue.enqueue_call("os.getpid", result_ttl=24 * 3600)
worker = SimpleWorker([queue], connection=connection)
started = time.perf_counter()
worker.work(burst=True, logging_level="WARNING")
print({count} / (time.perf_counter() - started))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return float(out.strip().splitlines()[-1])


if __name__ == "__main__":
    sys.exit(main())
