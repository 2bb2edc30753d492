"""Benchmark: ticket intake end to end (ticket → task with assignments → outbox event) over HTTP.

    python bench/intake.py [--database-url URL] [--seconds 4] [--single 1] [--bulk 20000] [--batch 500]
                           [--clients 8] [--async-bulk 10000 --workers 2]

gunicorn 2×4 gthread on loopback, as in production, and the floor (`bench/floor_app.py`) on the same
stack, measured in the same run; `wrk` (bench/loadgen.py) loads both. Figures, each with the floor's
rate and the ratio: `GET /api/me/` against the floor's authenticated read (target ≥ 0.85), single
`POST /api/tickets/` against the floor's authenticated insert (target ≥ 0.5). Then
`POST /api/tickets/bulk/?sync=1` (a few large requests: the Python client; target ≥ 2,000 tickets/s)
and optionally the queued bulk path with RQ workers (POST → 202 → every ticket allocated). Each phase
is checked in the database afterwards.

The database (default: BENCH_DATABASE_URL, else a local "bench_intake" database, created if
missing) is WIPED: its public schema is dropped and rebuilt with the migrations.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import Floor, load_average, paired, ratio_line, wait_up, wrk  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_intake"
SECRETS = {"SECRET_KEY": "bench-secret-key", "JWT_SECRET_KEY": "bench-jwt-secret-key-0123456789-abcdefghij"}


def serve(fd: int) -> None:
    """A web process: `bench/intake.py --serve FD` accepts on the inherited listening socket FD
    (several such processes share it, as gunicorn's workers do). Settings from the environment."""
    import logging

    from werkzeug.serving import make_server

    from app import create_app

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    make_server("127.0.0.1", 0, create_app(), threaded=True, fd=fd).serve_forever()


def start_servers(count: int, env: dict) -> tuple[str, list]:
    """`count` server processes on one loopback socket; returns (base URL, processes)."""
    import socket

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.set_inheritable(True)
    procs = [subprocess.Popen([sys.executable, __file__, "--serve", str(listener.fileno())], env=env, cwd=str(ROOT),
                              pass_fds=(listener.fileno(),)) for _ in range(count)]
    base = f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()
    return base, procs


def start_gunicorn(workers: int, env: dict, threads: int = 4) -> tuple[str, list]:
    """The production server (DESIGN: gunicorn `wsgi:app`), gthread workers with keep-alive; returns
    (base URL, [master process])."""
    from bench.loadgen import start_gunicorn as start

    return start(env, "wsgi:app", workers, threads)


def wait_until_up(base: str, processes: int) -> None:
    """Until every server process answers (each takes the odd request)."""
    import requests

    for _ in range(100):
        try:
            for _ in range(4 * processes):
                requests.get(f"{base}/healthz", timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not come up")


def setup(app, staff: int = 7) -> str:
    """A coordinator, one role of `staff` users, one deployed workflow, the seed SLA targets (so every
    task starts its clock, as in production); returns a Bearer token."""
    from app.schemas.helpdesk import CategoryIn, DepartmentIn, StaffRoleIn, StepIn, WorkflowIn
    from app.schemas.users import UserIn
    from app.services.platform.tokens import issue_user_token
    from app.services.helpdesk import staff_roles as catalog
    from app.services.helpdesk import workflows as wf
    from app.services.orchestration.sla import seed_sla_defaults
    from app.services.platform.users import create_user, ensure_default_roles

    with app.app_context():
        ensure_default_roles()
        seed_sla_defaults()
        boss = create_user(UserIn(username="bench", password="bench-password", role="coordinator", projects=["Bench"]))
        users = [create_user(UserIn(username=f"officer{i}", password="bench-password", role="agent", projects=["Bench"]))
                 for i in range(staff)]
        it = catalog.create_department(boss, DepartmentIn(name="IT"))
        hardware = catalog.create_category(boss, CategoryIn(name="Hardware"))
        role = catalog.create_staff_role(boss, StaffRoleIn(name="Intake officer", user_ids=[u.id for u in users]))
        workflow = wf.create_workflow(boss, WorkflowIn(name="Intake", department_id=it.id, category_id=hardware.id))
        wf.add_step(boss, workflow.id, StepIn(name="Triage", role_id=role.id))
        wf.set_deployed(boss, workflow.id, True)
        wf.set_published(boss, workflow.id, True)
        return issue_user_token(boss)[0]


def ticket(n: int, prefix: str) -> dict:
    return {"ticket_number": f"{prefix}-{n:06d}", "subject": f"Bench ticket {n}", "department": "IT",
            "category": "Hardware", "priority": ("low", "medium", "high", "critical")[n % 4],
            "description": "Generated by bench/intake.py", "requester": "Bench requester"}


def check(app, prefix: str, expected: int | None = None) -> str:
    """Every ticket of the phase has its task, its assignments, its TaskCreated event and its SLA clock
    (`expected` tickets; None: as many as were written)."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OutboxEvent, SlaRecord, Task, TaskAssignment, Ticket

    with app.app_context():
        like = Ticket.external_id.like(f"{prefix}-%")
        tickets = db.session.scalar(select(func.count()).select_from(Ticket).where(like, Ticket.is_task_allocated))
        tasks = db.session.scalar(select(func.count()).select_from(Task).join(Ticket).where(like))
        assignments = db.session.scalar(select(func.count()).select_from(TaskAssignment).join(Task).join(Ticket)
                                        .where(like))
        events = db.session.scalar(select(func.count()).select_from(OutboxEvent).where(
            OutboxEvent.event_type == "TaskCreated", OutboxEvent.payload["external_id"].as_string().like(f"{prefix}-%")))
        clocks = db.session.scalar(select(func.count()).select_from(SlaRecord).join(Task).join(Ticket).where(like))
        db.session.remove()
    expected = tickets if expected is None else expected
    ok = tickets == tasks == events == clocks == expected and assignments == 3 * expected
    return (f"checked: {tickets} allocated tickets, {tasks} tasks, {assignments} assignments, {events} TaskCreated "
            f"events, {clocks} SLA clocks{'' if ok else '  <-- MISMATCH'}")


def single_body(prefix: str) -> str:
    """The body of one single-ticket POST for wrk: "{n}" becomes a number unique to the request."""
    return json.dumps(ticket(0, prefix)).replace(f'"{prefix}-000000"', f'"{prefix}-{{n}}"')


def run_bulk(base: str, token: str, count: int, batch: int, clients: int, sync: bool = True,
             prefix: str = "B") -> float:
    import requests

    batches = [[ticket(n, prefix) for n in range(start, min(start + batch, count))]
               for start in range(0, count, batch)]

    def post(items: list) -> None:
        with requests.Session() as session:
            response = session.post(f"{base}/api/tickets/bulk/{'?sync=1' if sync else ''}", json=items,
                                    headers={"Authorization": f"Bearer {token}"})
        if response.status_code != (200 if sync else 202):
            raise RuntimeError(f"HTTP {response.status_code} {response.text[:300]}")
        if sync and response.json()["allocation"] != {"allocated": len(items)}:
            raise RuntimeError(f"not all allocated: {response.json()['allocation']}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, batches))
    return time.perf_counter() - started


def wait_allocated(app, prefix: str, count: int, timeout: float = 600) -> None:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import Ticket

    deadline = time.monotonic() + timeout
    with app.app_context():
        while time.monotonic() < deadline:
            done = db.session.scalar(select(func.count()).select_from(Ticket).where(
                Ticket.external_id.like(f"{prefix}-%"), Ticket.is_task_allocated))
            db.session.rollback()
            if done >= count:
                return
            time.sleep(0.05)
    raise RuntimeError("timed out waiting for queued tickets")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/6")
    parser.add_argument("--single", type=int, default=1, help="0: skip the single-ticket POSTs")
    parser.add_argument("--seconds", type=float, default=4, help="seconds of wrk load per figure")
    parser.add_argument("--bulk", type=int, default=20000, help="tickets sent to the bulk endpoint (?sync=1)")
    parser.add_argument("--batch", type=int, default=500, help="tickets per bulk POST")
    parser.add_argument("--clients", type=int, default=8, help="wrk connections")
    parser.add_argument("--processes", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--bulk-clients", type=int, default=2, help="concurrent bulk POSTs")
    parser.add_argument("--async-bulk", type=int, default=0, help="also queue this many tickets (RQ workers)")
    parser.add_argument("--workers", type=int, default=2, help="RQ worker processes for --async-bulk")
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0

    from app.config import normalise_database_url
    from bench.orgunits import ensure_database, rebuild_schema

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    env = {**os.environ, **SECRETS, "DATABASE_URL": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-intake",
           "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT), "FIELDFLOW_INSTANCE_PATH": "/tmp/fieldflow-bench-intake"}
    os.environ.update({k: env[k] for k in ("FIELDFLOW_INSTANCE_PATH",)})
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-intake",
                      **SECRETS, "LOG_LEVEL": "WARNING"})
    print(f"database: {url.rsplit('@', 1)[-1]}; schema built with: {rebuild_schema(app)}")
    with app.app_context():
        from app.extensions import get_redis

        get_redis().flushdb()
    token = setup(app)

    floor = Floor(url, SECRETS["JWT_SECRET_KEY"], args.clients)
    base, servers = start_gunicorn(args.processes, env)
    workers: list[subprocess.Popen] = []
    try:
        wait_up(base)
        wrk(base, "/api/me/", token, seconds=1)  # warm-up (connections, caches); not measured
        wrk(base, "/api/tickets/", token, method="POST", body=single_body("WS"), seconds=1)
        run_bulk(base, token, 1000, args.batch, 1, prefix="WB")
        print(f"--- gunicorn {args.processes}x4 gthread (Fieldflow and the floor alike), wrk {args.clients} connections "
              f"{args.seconds:g} s each; {os.cpu_count()} cores shared with PostgreSQL and wrk; {load_average()}")
        print("floor: an authenticated GET loading one user (read), an authenticated POST inserting one row "
              "(insert); each loaded in turn with ours, 3 slices each")
        me, read = paired(lambda s: wrk(base, "/api/me/", token, seconds=s, connections=args.clients), floor.read,
                          args.seconds)
        print(ratio_line("GET /api/me/", me, read, "read", 0.85))
        if args.single:
            single, inserted = paired(lambda s: wrk(base, "/api/tickets/", token, method="POST", body=single_body("S"),
                                                    seconds=s, connections=args.clients), floor.insert, args.seconds)
            print(ratio_line("single POST /api/tickets/", single, inserted, "insert", 0.5))
            time.sleep(1)  # requests wrk cut off at its deadline are still being answered
            print("  " + check(app, "S"))
        if args.bulk:
            elapsed = run_bulk(base, token, args.bulk, args.batch, args.bulk_clients)
            print(f"bulk POST /api/tickets/bulk/?sync=1: {args.bulk} tickets in {elapsed:.2f} s = "
                  f"{args.bulk / elapsed:,.0f} tickets/s (batches of {args.batch}, {args.bulk_clients} clients; "
                  f"target >= 2,000)")
            print("  " + check(app, "B", args.bulk))
        if args.async_bulk:
            workers = [subprocess.Popen([sys.executable, "worker.py"], env=env, cwd=str(ROOT))
                       for _ in range(args.workers)]
            time.sleep(2)
            started = time.perf_counter()
            run_bulk(base, token, args.async_bulk, args.batch, args.bulk_clients, sync=False, prefix="A")
            wait_allocated(app, "A", args.async_bulk)
            elapsed = time.perf_counter() - started
            print(f"queued bulk (202, {args.workers} RQ workers): {args.async_bulk} tickets in {elapsed:.2f} s = "
                  f"{args.async_bulk / elapsed:,.0f} tickets/s end to end")
            print("  " + check(app, "A", args.async_bulk))
    finally:
        floor.stop()
        for proc in [*servers, *workers]:
            proc.terminate()
            proc.wait(10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
