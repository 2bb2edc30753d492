"""Benchmark: LQAS sampling and the assignment map on PostgreSQL with 100,000 org units.

    python bench/sampling.py [--database-url URL] [--org-units 100000] [--runs 5]

Prints: time from launch to `successful` for quantities [10, 6, 8] (Region → District → Health
facility) through a real worker process, and the map page's size and server render time for a
planning with 2,000 assigned polygons. The database (default: BENCH_DATABASE_URL, else a local
"bench_sampling" database, created if missing) is WIPED.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from orgunits import ensure_database, rebuild_schema, start_worker, stop_worker, time_sampling, timed  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_sampling"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2")
    parser.add_argument("--org-units", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from app import create_app
    from app.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    config = {"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-sampling",
              "WTF_CSRF_ENABLED": False}
    app = create_app(config)
    print(f"schema built with {rebuild_schema(app)}")
    with app.app_context():
        return _run(app, args, url)


def _run(app, args, url) -> int:
    from sqlalchemy import select

    from app.extensions import db, get_redis
    from app.models import OrgUnit, OrgUnitType, Team, TeamType, User
    from app.schemas.planning import AssignmentRow, PlanningIn
    from app.services.planning.assignments import bulk_create
    from app.demo.planning import load_demo
    from app.services.planning.plannings import create_planning

    get_redis().flushdb()
    started = time.perf_counter()
    summary = load_demo(org_units=args.org_units, seed=7, regions=12)
    print(f"demo ({summary['org_units']} org units, 12 regions) loaded in {time.perf_counter() - started:.1f} s")
    coordinator = db.session.execute(select(User).where(User.username == "coordinator")).scalar_one()
    country = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).scalar_one()
    root_team = db.session.execute(select(Team).where(Team.parent_id.is_(None))).scalar_one()
    types = {t.category: t.id for t in db.session.execute(select(OrgUnitType)).scalars()}
    planning = create_planning(coordinator, PlanningIn(name="Bench national", team=root_team.id, org_unit=country.id))
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()

    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=args.redis_url, RQ_QUEUE="bench-sampling",
               FIELDFLOW_INSTANCE_PATH="/tmp/fieldflow-bench", LOG_LEVEL="WARNING")
    worker = start_worker(env)
    try:
        durations, result = time_sampling(coordinator, planning.id, [types["REGION"], types["DISTRICT"], types["HF"]],
                                          [10, 6, 8], args.runs)
        print(f"sampling [10, 6, 8] launch → successful: median {statistics.median(durations):.0f} ms, "
              f"max {max(durations):.0f} ms over {len(durations)} runs (target ≤ 1000 ms); result {result}")
    except RuntimeError as exc:
        print(exc)
        return 1
    finally:
        stop_worker(worker)

    region = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id == country.id).order_by(OrgUnit.id)).scalars().first()
    region_planning = create_planning(coordinator, PlanningIn(name="Bench region", team=root_team.id, org_unit=region.id))
    facilities = db.session.execute(select(OrgUnit.id).where(OrgUnit.path.like(region.path + "%"),
                                                             OrgUnit.org_unit_type_id == types["HF"])).scalars().all()
    district_teams = db.session.execute(select(Team.id).where(Team.type == TeamType.TEAM_OF_USERS)).scalars().all()
    rng = random.Random(1)
    chosen = rng.sample(facilities, 2000)
    bulk_create(coordinator, region_planning, [AssignmentRow(org_unit=unit, team=rng.choice(district_teams)) for unit in chosen])
    planning_id = region_planning.id
    client = app.test_client()
    client.post("/login", data={"username": "coordinator", "password": "fieldflow"})
    url_path = f"/plannings/{planning_id}?type={types['HF']}"
    median, p95, response = timed(lambda: client.get(url_path), runs=max(5, args.runs))
    body = response.get_data()
    shapes = body.count(b'"a":"team:') + body.count(b'"a": "team:')
    print(f"map page with 2,000 assigned polygons: {len(body) / 1e6:.2f} MB (target ≤ 2.5 MB), "
          f"server render median {median:.0f} ms, p95 {p95:.0f} ms (target ≤ 1000 ms); "
          f"{shapes} assigned shapes in the page, status {response.status_code}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
