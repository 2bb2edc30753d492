"""Benchmark: orchestration on PostgreSQL.

    python bench/orchestration.py [--database-url URL] [--tasks 3000] [--seconds 4] [--clients 8] [--processes 2]
                                  [--server gunicorn|werkzeug] [--batch-tasks 4000 --batch-size 100]
                                  [--latency-events 300] [--relay-events 20000] [--sla-records 1000000]

Figures printed:
1. transitions/s through the API over real HTTP (gunicorn gthread workers, as in production; or
   werkzeug processes sharing one socket), with SLA clocks running:
   a. one transition per request, `POST /api/workflow/tasks/{id}/transition`, each on another task
      (new → in_progress), loaded by wrk, against the floor's authenticated insert
      (`bench/floor_app.py`, measured in the same run; target ratio ≥ 0.5);
   b. `--batch-size` transitions per request, `POST /api/workflow/tasks/transitions` (a team syncing;
      each task new → in_progress → blocked → in_progress → completed; target ≥ 400/s);
2. event → rule action latency p50/p95: events written one by one while `flask outbox relay` runs;
   latency = the alert's created_at − the event's created_at (target p95 ≤ 1 s);
3. relay throughput: events/s for a backlog, with no rule and with a rule firing per event, with one
   relay and with several side by side (SKIP LOCKED; target ≥ 2,000/s);
4. breach scan time over 1,000,000 open SLA records (bench/sla_scan.py; target ≤ 2 s).

The database (default BENCH_DATABASE_URL, else a local "bench_orchestration" database) is WIPED.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.intake import SECRETS, start_gunicorn, start_servers, wait_until_up  # noqa: E402
from bench.loadgen import Floor, Result, load_average, paired, ratio_line, wrk  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_orchestration"
PATH = ("in_progress", "blocked", "in_progress", "completed")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def setup(app, tasks: int) -> tuple[str, list[int]]:
    """A coordinator and `tasks` new tasks, each with its SLA clock running (the seed targets)."""
    from app.services.platform.tokens import issue_user_token
    from app.services.orchestration.sla import seed_sla_defaults
    from app.schemas.users import UserIn
    from app.services.platform.users import create_user, ensure_default_roles
    from app.schemas.workflow import TaskIn
    from app.services.orchestration.work_items import create_task

    with app.app_context():
        ensure_default_roles()
        seed_sla_defaults()
        boss = create_user(UserIn(username="bench", password="bench-password", role="coordinator", projects=["Bench"]))
        ids = [create_task(boss, TaskIn(title=f"Bench task {n}", task_type="general", service_area="bench")).id
               for n in range(tasks)]
        return issue_user_token(boss)[0], ids


def _timed(token: str, clients: int, work, units) -> tuple[int, float]:
    """Run `work(session, unit)` over `units` on `clients` threads, each with its own keep-alive
    session; returns (sum of what work returned, seconds)."""
    import requests

    local = threading.local()

    def run(unit) -> int:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {token}"
        return work(local.session, unit)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        done = sum(pool.map(run, units))
    return done, time.perf_counter() - started


def run_transitions(base: str, token: str, task_ids: list[int], seconds: float, clients: int) -> Result:
    """One transition per request (new → in_progress), each on another task, loaded by wrk."""
    return wrk(base, "", token, method="POST", body='{"to_state": "in_progress", "reason": "bench"}',
               paths=[f"/api/workflow/tasks/{t}/transition" for t in task_ids], seconds=seconds, connections=clients)


def run_batched(base: str, token: str, task_ids: list[int], clients: int, size: int) -> tuple[int, float]:
    """The same walk, `size` transitions per request: size/4 tasks, their four steps in order."""
    per_request = max(1, size // len(PATH))

    def send(session, chunk: list[int]) -> int:
        items = [{"task_id": t, "to_state": to, "reason": "bench"} for t in chunk for to in PATH]
        response = session.post(f"{base}/api/workflow/tasks/transitions", json={"transitions": items})
        if response.status_code != 200 or response.json()["applied"] != len(items):
            raise RuntimeError(f"batch: HTTP {response.status_code} {response.text[:300]}")
        return len(items)

    return _timed(token, clients, send, [task_ids[i:i + per_request] for i in range(0, len(task_ids), per_request)])


def start_relay(env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "relay", "--interval", "0.05"],
                            env=env, cwd=str(ROOT), stdout=subprocess.DEVNULL)


def bench_payload(n: int, label: str) -> dict:
    """A synthetic event's payload: an AlertRaised (the catalogue has no bench type) marked by its source."""
    from app.services.platform.events import example_payload

    return example_payload("AlertRaised", alert_id=n, project_id=None, source=label, title=f"bench {n}")


def add_rule(app, label: str) -> None:
    from app.extensions import db
    from app.models import AutomationRule

    with app.app_context():
        db.session.add(AutomationRule(name=f"bench {label}", event_type="AlertRaised",
                                      condition={"field": "payload.source", "op": "eq", "value": label},
                                      actions=[{"type": "alert", "level": "info", "title": "bench {payload.alert_id}"}]))
        db.session.commit()
        db.session.remove()


def run_latency(app, env: dict, count: int, rate: float) -> list[float]:
    """Events one at a time (each its own commit, like a real writer) while the relay runs."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Alert, OutboxEvent
    from app.services.platform.outbox import emit_event

    add_rule(app, "BenchLatency")
    relay = start_relay(env)
    try:
        time.sleep(3)  # the relay process starts
        with app.app_context():
            for n in range(count):
                emit_event("AlertRaised", "alert", n, bench_payload(n, "BenchLatency"))
                db.session.commit()
                time.sleep(1 / rate)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows = db.session.execute(select(OutboxEvent.created_at, Alert.created_at).join(
                    Alert, Alert.event_id == OutboxEvent.id).where(OutboxEvent.payload["source"].as_string() == "BenchLatency")).all()
                db.session.rollback()
                if len(rows) >= count:
                    break
                time.sleep(0.2)
            db.session.remove()
    finally:
        relay.terminate()
        relay.wait(20)
    return [(alert - event).total_seconds() for event, alert in rows]


def _drain_in_child(app, done) -> None:
    """A forked relay: its own database connections, then drain like `flask outbox relay --once`."""
    from app.extensions import db
    from app.services.orchestration import relay

    with app.app_context():
        db.engine.dispose(close=False)  # the parent's pooled connections are not ours to use
        done.value = relay.drain(max_seconds=600, batch_size=500).done
        db.session.remove()


def run_relay_throughput(app, count: int, with_rule: bool, relays: int = 1) -> float:
    """Seconds for `relays` relay processes (SKIP LOCKED shares the batches) to empty a backlog of
    `count` events."""
    import multiprocessing

    from app.extensions import db
    from app.models import OutboxEvent
    from app.services.platform.outbox import event_values

    label = f"Bench{'Ruled' if with_rule else 'Plain'}{relays}"
    if with_rule:
        add_rule(app, label)
    with app.app_context():
        for start in range(0, count, 5000):
            db.session.execute(OutboxEvent.__table__.insert(), [
                event_values("AlertRaised", "alert", n, bench_payload(n, label))
                for n in range(start, min(count, start + 5000))])
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    fork = multiprocessing.get_context("fork")
    counters = [fork.Value("q", 0) for _ in range(relays)]
    workers = [fork.Process(target=_drain_in_child, args=(app, done)) for done in counters]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    done = sum(c.value for c in counters)
    expected = count * (2 if with_rule else 1)  # each fired rule's alert writes an AlertRaised event, relayed too
    if done < expected:
        raise RuntimeError(f"only {done} of {expected} events done")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7")
    parser.add_argument("--tasks", type=int, default=3000, help="tasks for the single transitions (one each)")
    parser.add_argument("--seconds", type=float, default=4, help="seconds of wrk load per HTTP figure")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2, help="web server processes")
    parser.add_argument("--server", choices=("gunicorn", "werkzeug"), default="gunicorn")
    parser.add_argument("--batch-tasks", type=int, default=4000, help="tasks walked through the batch endpoint")
    parser.add_argument("--batch-size", type=int, default=100, help="transitions per batch request")
    parser.add_argument("--latency-events", type=int, default=300)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="events per second while measuring latency")
    parser.add_argument("--relay-events", type=int, default=20000)
    parser.add_argument("--relays", type=int, nargs="+", default=[1, 2], help="relay process counts to measure")
    parser.add_argument("--sla-records", type=int, default=1_000_000)
    args = parser.parse_args()

    from app.config import normalise_database_url
    from bench.orgunits import ensure_database, rebuild_schema

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    env = {**os.environ, **SECRETS, "DATABASE_URL": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-orch",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "FIELDFLOW_INSTANCE_PATH": "/tmp/fieldflow-bench-orch"}
    os.environ["FIELDFLOW_INSTANCE_PATH"] = env["FIELDFLOW_INSTANCE_PATH"]
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-orch",
                      **SECRETS, "LOG_LEVEL": "WARNING"})
    print(f"database: {url.rsplit('@', 1)[-1]}; schema built with: {rebuild_schema(app)}; {os.cpu_count()} cores")
    token, task_ids = setup(app, args.tasks + 400 + args.batch_tasks)
    batch_ids, task_ids = task_ids[:args.batch_tasks], task_ids[args.batch_tasks:]

    floor = Floor(url, SECRETS["JWT_SECRET_KEY"], args.clients)
    start = start_gunicorn if args.server == "gunicorn" else start_servers
    base, servers = start(args.processes, env)
    try:
        wait_until_up(base, args.processes)
        run_transitions(base, token, task_ids[:400], 1, args.clients)  # warm-up, not measured
        remaining = iter([task_ids[400:][i::3] for i in range(3)])  # each slice its own tasks
        one, inserted = paired(lambda s: run_transitions(base, token, next(remaining), s, args.clients), floor.insert,
                               args.seconds)
        server = f"{args.processes} {args.server} {'workers' if args.server == 'gunicorn' else 'processes'}"
        print(f"--- {server}, wrk {args.clients} connections {args.seconds:g} s; {load_average()}")
        print(ratio_line("1a. one transition per request (new → in_progress, SLA clock running)", one, inserted,
                         "insert (authenticated POST inserting one row)", 0.5))
        if args.batch_tasks:
            done, elapsed = run_batched(base, token, batch_ids, args.clients, args.batch_size)
            print(f"1b. transitions through the API, {args.batch_size} per request: {done} in {elapsed:.2f} s = "
                  f"{done / elapsed:,.0f}/s ({args.clients} clients, {server}; target >= 400/s)")
    finally:
        floor.stop()
        for proc in servers:
            proc.terminate()
        for proc in servers:
            proc.wait(20)

    with app.app_context():  # the transitions' events: relayed now, so the latency is not queueing behind them
        from app.extensions import db
        from app.services.orchestration import relay

        relay.drain(max_seconds=600, batch_size=500)
        db.session.remove()
    if args.latency_events:
        latencies = run_latency(app, env, args.latency_events, args.latency_rate)
        print(f"2. event -> rule action (alert) latency over {len(latencies)} events at {args.latency_rate:g}/s: "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms (target p95 <= 1 s)")

    n = args.relay_events
    if n and args.relays:
        print(f"3. relay throughput, backlog of {n:,} events (target >= 2,000 events/s):")
    for relays in args.relays if n else ():
        plain = run_relay_throughput(app, n, with_rule=False, relays=relays)
        ruled = run_relay_throughput(app, n, with_rule=True, relays=relays)
        print(f"   {relays} relay process{'es' if relays > 1 else ''}: no matching rule {n / plain:,.0f} events/s; "
              f"a rule firing an alert on every event {n / ruled:,.0f} events/s "
              f"({2 * n / ruled:,.0f} events/s counting the AlertRaised event each alert writes)")

    if args.sla_records:
        from bench.sla_scan import run as run_sla_scan

        figures = run_sla_scan(args.sla_records, app=app)
        print(f"4. breach scan over {args.sla_records:,} open SLA records: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
