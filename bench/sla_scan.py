"""Benchmark: the SLA breach scan over 1,000,000 open SLA records (target <= 2 s), on PostgreSQL.

    DATABASE_URL=postgresql://... python bench/sla_scan.py [--records 1000000] [--keep]

Inserts `records` open clocks (a response and a resolution clock per task, INSERT … SELECT
generate_series) in a project of their own: 1 % due in the past (to breach), 1 % past their warning
time but not due (to warn), the rest due later. Then times `scan_sla_breaches()` (two UPDATE …
RETURNING on the partial indexes, one outbox event per row, one commit) and a second, no-op scan.
The database is migrated to head if needed, not wiped; the bench rows are deleted afterwards
unless --keep. bench/orchestration.py calls `run(records, app=app)`.
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_sla"
BATCH = 100_000  # tasks per INSERT … SELECT (two clocks each)
PROJECT = "SLA bench"


def _progress(done: int, total: int, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    print(f"\r  inserted {done:,}/{total:,} SLA records ({rate:,.0f}/s)", end="", flush=True)


def insert_records(records: int) -> tuple[int, float]:
    """Insert `records` open clocks (and their tasks) in the bench project; returns (project id, seconds)."""
    from sqlalchemy import text

    from app.extensions import db
    from app.services.platform.users import get_or_create_project

    project_id = get_or_create_project(PROJECT).id
    db.session.commit()
    tasks = max(1, records // 2)  # two clocks per task: an odd count is rounded down
    started = time.perf_counter()
    for first in range(1, tasks + 1, BATCH):
        last = min(first + BATCH - 1, tasks)
        ids = db.session.execute(text(
            "INSERT INTO tasks (project_id, title, description, task_type, service_area, status, priority, data, "
            "created_at, updated_at) SELECT :p, 'SLA bench ' || g, '', 'general', 'area-' || (g % 20), 'new', "
            "'medium', '{}'::jsonb, now(), now() FROM generate_series(CAST(:a AS int), CAST(:b AS int)) AS g "
            "RETURNING id"), {"p": project_id, "a": first, "b": last}).scalars().all()
        # g % 100: 0 → due an hour ago (breach), 1 → warned window now (warning), else due later.
        db.session.execute(text(
            "INSERT INTO sla_records (task_id, project_id, service_area, task_type, kind, status, target_minutes, "
            "started_at, due_at, warn_at, calendar) "
            "SELECT t.id, :p, 'area-' || (t.id % 20), 'general', k.kind, 'running', 480, now() - interval '1 day', "
            "CASE WHEN t.id % 100 = 0 THEN now() - interval '1 hour' "
            "     WHEN t.id % 100 = 1 THEN now() + interval '1 hour' "
            "     ELSE now() + interval '2 days' + (t.id % 997) * interval '1 minute' END, "
            "CASE WHEN t.id % 100 = 0 THEN now() - interval '2 hours' "
            "     WHEN t.id % 100 = 1 THEN now() - interval '10 minutes' "
            "     ELSE now() + interval '1 day' + (t.id % 997) * interval '1 minute' END, "
            "'{\"timezone\": \"UTC\"}'::jsonb "
            "FROM unnest(CAST(:ids AS int[])) AS t(id) "
            "CROSS JOIN (VALUES ('response'), ('resolution')) AS k(kind)"), {"p": project_id, "ids": ids})
        db.session.commit()
        _progress(2 * last, 2 * tasks, started)
    print()
    return project_id, time.perf_counter() - started


def _timed_scan() -> tuple[float, dict]:
    from app.services.orchestration.sla_scan import scan_sla_breaches

    gc.collect()
    gc.disable()
    started = time.perf_counter()
    try:
        result = scan_sla_breaches()
    finally:
        gc.enable()
    return time.perf_counter() - started, result


def cleanup(project_id: int) -> None:
    """Delete the bench project's tasks (their clocks cascade) and the events the scan wrote about them."""
    from sqlalchemy import text

    from app.extensions import db

    db.session.execute(text("DELETE FROM outbox_events WHERE event_type IN ('SlaWarning', 'SlaBreached') "
                            "AND (payload->>'project_id')::int = :p"), {"p": project_id})
    db.session.execute(text("DELETE FROM tasks WHERE project_id = :p"), {"p": project_id})
    db.session.commit()


def run(records: int = 1_000_000, app=None, keep: bool = False) -> dict:
    """Insert `records` open clocks, time a scan and a second (no-op) scan; returns the figures."""
    from sqlalchemy import text

    from app.extensions import db

    app = app or _make_app(os.environ.get("DATABASE_URL") or DEFAULT_URL)
    with app.app_context():
        if db.engine.dialect.name != "postgresql":
            raise SystemExit("bench/sla_scan.py measures PostgreSQL; set DATABASE_URL to a PostgreSQL database")
        print(f"inserting {records:,} open SLA records")
        project_id, insert_seconds = insert_records(records)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE sla_records"))  # what autovacuum would soon do
            try:  # the bulk load's dirty pages written now, not by a checkpoint in the middle of the timed scan
                conn.execute(text("CHECKPOINT"))
            except Exception as exc:  # noqa: BLE001 — needs superuser (or pg_checkpoint); measure anyway
                print(f"  (no CHECKPOINT before the scan: {str(exc).splitlines()[0]})")
        open_clocks = db.session.execute(text("SELECT count(*) FROM sla_records WHERE stopped_at IS NULL")).scalar_one()
        db.session.commit()
        scan_seconds, result = _timed_scan()
        noop_seconds, again = _timed_scan()
        figures = {"records": records, "open_in_table": open_clocks, "insert_s": round(insert_seconds, 1),
                   "scan_s": round(scan_seconds, 3), **result, "noop_scan_s": round(noop_seconds, 3),
                   "noop_result": again}
        print(f"scan over {open_clocks:,} open clocks: {scan_seconds:.3f} s ({result['breached']:,} breached, "
              f"{result['warned']:,} warned, one outbox event each); second scan {noop_seconds:.3f} s "
              f"({again}) — target <= 2 s")
        if not keep:
            cleanup(project_id)
        return figures


def _make_app(url: str):
    from app.config import normalise_database_url
    from bench.orgunits import ensure_database

    url = normalise_database_url(url)
    ensure_database(url)
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-secret-key",
                      "JWT_SECRET_KEY": "bench-jwt-secret-key-0123456789-abcdefghij", "LOG_LEVEL": "WARNING",
                      "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")})
    import flask_migrate

    with app.app_context():
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))  # to head; a no-op when current
    print(f"database: {url.rsplit('@', 1)[-1]}")
    return app


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the bench tasks and clocks")
    args = parser.parse_args()
    run(args.records, keep=args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
