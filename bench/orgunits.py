"""Benchmark: load the 100,000-unit demo country, then time subtree queries on the path index.

    python bench/orgunits.py [--database-url URL] [--org-units 100000]

The database (default: BENCH_DATABASE_URL, else TEST_DATABASE_URL, else a local "bench"
database, created if missing) is WIPED: its public schema is dropped and rebuilt.
"""
from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
RUNS = 20


def ensure_database(url: str) -> None:
    """Create the target PostgreSQL database if it does not exist yet."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    if not target.get_backend_name().startswith("postgresql"):
        return
    server = dict(host=target.host or "127.0.0.1", port=target.port or 5432, user=target.username,
                  password=target.password)
    with psycopg.connect(dbname="postgres", autocommit=True, **server) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target.database,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{target.database}"')
            print(f"created database {target.database}")


def rebuild_schema(app) -> str:
    """Drop everything and migrate (create_all while migrations are not written yet)."""
    from sqlalchemy import text

    from app.extensions import db

    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            db.drop_all()
        versions = ROOT / "migrations" / "versions"
        if (ROOT / "migrations" / "env.py").exists() and any(versions.glob("*.py")):
            import flask_migrate

            flask_migrate.upgrade(directory=str(ROOT / "migrations"))
            return "migrations"
        db.create_all()
        return "create_all"


def timed(fn, runs: int = RUNS) -> tuple[float, float, object]:
    """(median ms, p95 ms, last result) over `runs` calls; like timeit, without GC pauses."""
    times, result = [], None
    for _ in range(runs):
        gc.collect()
        gc.disable()
        started = time.perf_counter()
        try:
            result = fn()
        finally:
            times.append((time.perf_counter() - started) * 1000)
            gc.enable()
    times.sort()
    p95 = times[max(0, -(-95 * runs // 100) - 1)]  # nearest-rank percentile
    return statistics.median(times), p95, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL")
                        or os.environ.get("TEST_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--org-units", type=int, default=100000)
    parser.add_argument("--regions", type=int, default=4)
    args = parser.parse_args()

    from app.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url,
                      "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/1")})
    print(f"database: {url.rsplit('@', 1)[-1]}")
    print(f"schema built with: {rebuild_schema(app)}")

    from sqlalchemy import text

    from app.extensions import db
    from app.demo.planning import load_demo
    from app.services.platform.users import ensure_default_roles

    with app.app_context():
        ensure_default_roles()
        started = time.perf_counter()
        summary = load_demo(args.org_units, regions=args.regions)
        elapsed = time.perf_counter() - started
        print(f"demo generation ({summary['org_units']} org units): {elapsed:.1f} s")
        print(f"  {summary['regions']} regions, {summary['districts']} districts, "
              f"{summary['facilities']} facilities, {summary['teams']} teams, {summary['users']} users")

        is_pg = db.engine.dialect.name == "postgresql"
        if is_pg:  # what autovacuum would soon do; gives the planner statistics
            started = time.perf_counter()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE org_units"))
            print(f"vacuum analyze: {time.perf_counter() - started:.1f} s")

    # psycopg prepares a statement after 5 runs; PostgreSQL may then switch to a generic plan,
    # which cannot use the index for `path LIKE $1`. Measure as configured, then without that.
    engine_options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    variants = [("app engine settings", app)]
    if url.startswith("postgresql"):
        no_prepare = {**engine_options, "connect_args": {**engine_options.get("connect_args", {}),
                                                         "prepare_threshold": None}}
        variants.append(("psycopg prepare_threshold=None", create_app({
            "SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_ENGINE_OPTIONS": no_prepare,
            "REDIS_URL": app.config["REDIS_URL"]})))
    for label, variant in variants:
        print(f"--- subtree queries, {label}")
        with variant.app_context():
            measure_levels(variant)
    return 0


def measure_levels(app) -> None:
    """The largest region (about a quarter of the country) and the largest district."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OrgUnit

    is_pg = db.engine.dialect.name == "postgresql"
    for depth, level in ((1, "region"), (2, "district")):
        candidates = db.session.execute(
            select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(OrgUnit.depth == depth)).all()
        sizes = {c.id: db.session.execute(
            select(func.count()).where(OrgUnit.path.like(c.path + "%"))).scalar_one() for c in candidates}
        unit = max(candidates, key=lambda c: sizes[c.id])
        print(f"largest {level}: {unit.name} (id {unit.id}), subtree size {sizes[unit.id]} org units")
        measure_subtree(db, unit.path + "%", is_pg)
    db.session.rollback()


def measure_subtree(db, pattern: str, is_pg: bool) -> None:
    """Time the two subtree queries services run, and show the plan PostgreSQL picks."""
    from sqlalchemy import func, select, text

    from app.models import OrgUnit

    live_under = (OrgUnit.path.like(pattern), OrgUnit.deleted_at.is_(None))
    median, p95, count = timed(lambda: db.session.execute(
        select(func.count()).select_from(OrgUnit).where(*live_under)).scalar_one())
    print(f"  subtree count ({count} units): median {median:.1f} ms, p95 {p95:.1f} ms ({RUNS} runs)")
    median, p95, rows = timed(lambda: db.session.execute(select(OrgUnit.id, OrgUnit.name).where(*live_under)).all())
    print(f"  subtree fetch id, name ({len(rows)} rows): median {median:.1f} ms, p95 {p95:.1f} ms ({RUNS} runs)")
    if not is_pg:
        return
    for label, columns in (("count", "count(*)"), ("fetch", "id, name")):
        sql = f"EXPLAIN ANALYZE SELECT {columns} FROM org_units WHERE path LIKE :p AND deleted_at IS NULL"
        plan = [r[0] for r in db.session.execute(text(sql), {"p": pattern})]
        scan = next((line.strip() for line in plan if " Scan " in f" {line.strip()} "), plan[0].strip())
        runtime = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
        print(f"  plan ({label}): {plan[0].strip()}")
        print(f"    scan: {scan}; {runtime}")


if __name__ == "__main__":
    sys.exit(main())
