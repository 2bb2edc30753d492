"""Benchmark: a million org units. For each size (`--org-units`, and `--compare` first when given):

    python bench/orgunits.py [--org-units 1000000] [--compare 100000] [--runs 20]
                             [--database-url URL] [--redis-url URL]

1. demo generation (`load_demo`: PostgreSQL COPY), 4 regions: the largest is a quarter of the country
   (target ≤ 60 s for 1,000,000 units); then VACUUM ANALYZE, as autovacuum soon would;
2. the largest region's subtree: the count services run, and what the app serves of it — the org
   unit API's first page with its total (`GET /api/orgunits/?under=ID`); every row (id, name) in one
   query is printed for reference (the app serves no such fetch); target ≤ 100 ms each;
3. through gunicorn (`wsgi:app`, one gthread worker, as in production) on loopback, logged in as the
   coordinator: the org unit tree page (roots, a region opened, a district opened, a search, a
   region's page) and API, and the map page of the largest district with its shapes — the same
   requests at every size, for the side-by-side table;
4. LQAS sampling [10, 6, 8] (Region → District → Health facility) over the whole country, launch →
   `successful` through a real RQ worker (`worker.py`), after a second demo load with 12 regions
   (sampling 10 regions needs at least 10) (target ≤ 1 s);
5. peak memory (VmHWM: the kernel's peak RSS) of the gunicorn worker process that served step 3 and of
   the RQ worker process that ran step 4 (jobs run inside it: `SimpleWorker`).

Each figure is printed with its target and the 1-minute load average when it was taken: the machine is
shared, and a load above its 2 CPUs slows everything here. The database (default: BENCH_DATABASE_URL,
else a local "bench_ou" database, created if missing) is WIPED for each load: its public schema is
dropped and rebuilt with the migrations.
"""
from __future__ import annotations

import argparse
import gc
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_ou"
RUNS = 20
SECRETS = {"SECRET_KEY": "bench-orgunits-secret", "JWT_SECRET_KEY": "bench-orgunits-jwt-secret-0123456789abcdef"}
QUEUE = "bench-orgunits"
INSTANCE = "/tmp/fieldflow-bench-orgunits"


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


def percentiles(times: list[float]) -> tuple[float, float]:
    """(median, p95 by nearest rank) of `times`."""
    times = sorted(times)
    return statistics.median(times), times[max(0, -(-95 * len(times) // 100) - 1)]


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
    return (*percentiles(times), result)


def load() -> float:
    return os.getloadavg()[0]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024


def start_worker(env: dict) -> subprocess.Popen:
    """A real RQ worker (`worker.py`) in its own process group; jobs run inside it (SimpleWorker)."""
    return subprocess.Popen([sys.executable, str(ROOT / "worker.py")], env=env, cwd=ROOT, start_new_session=True)


def stop_worker(worker: subprocess.Popen) -> None:
    os.killpg(worker.pid, signal.SIGTERM)
    worker.wait(10)


def time_sampling(coordinator, planning_id: int, type_ids: list[int], quantities: list[int],
                  runs: int) -> tuple[list[float], dict]:
    """Launch → `successful` in ms for `runs` sampling jobs (after one that warms the worker up: it also
    waits for the worker to start); returns the durations and the last job's results."""
    from app.extensions import db
    from app.models import Job
    from app.services.planning.sampling import launch_sampling

    durations, result = [], None
    for run in range(runs + 1):
        started = time.perf_counter()
        job = launch_sampling(coordinator, planning_id, {
            "org_unit_type_sequence_identifiers": type_ids, "org_unit_type_quantities": quantities,
            "seed": 100 + run})
        while True:
            db.session.expire_all()
            row = db.session.get(Job, job.id)
            if row.status in ("successful", "failed", "dismissed"):
                break
            time.sleep(0.005)
        if row.status != "successful":
            raise RuntimeError(f"sampling {row.status}: {row.message}")
        result = row.results
        if run:  # the first run waits for the worker and warms its caches
            durations.append((time.perf_counter() - started) * 1000)
    return durations, result


# --- figures -------------------------------------------------------------------------------------

@dataclass
class Figure:
    value: float
    unit: str  # "s", "ms" or "MB"
    load: float
    note: str = ""

    def __str__(self) -> str:
        number = f"{self.value:.1f}" if self.unit == "s" or self.value < 10 else f"{self.value:.0f}"
        return f"{number} {self.unit}"


TARGETS = {
    "demo generation (COPY)": "≤ 60 s at 1,000,000",
    "subtree count, largest region": "≤ 100 ms",
    "subtree fetch: API page + total": "≤ 100 ms",
    "subtree fetch: every row (id, name)": "(reference)",
    "tree page (roots)": "flat",
    "tree: open the largest region": "flat",
    "tree: open the largest district": "flat",
    "tree: search a facility name": "flat",
    "region page (children, page 1)": "flat",
    "API: subtree page of the largest region": "≤ 100 ms",
    "API: children of the largest district": "flat",
    "district map page": "flat",
    "district map shapes": "flat",
    "sampling [10, 6, 8] launch → successful": "≤ 1000 ms",
    "web process peak RSS": "flat",
    "worker process peak RSS": "flat",
}


class Report:
    """Figures of one size, printed as they are taken."""

    def __init__(self, size: int):
        self.size = size
        self.figures: dict[str, Figure] = {}

    def add(self, label: str, value: float, unit: str, note: str = "", p95: float | None = None) -> None:
        figure = Figure(value, unit, load(), note)
        self.figures[label] = figure
        spread = f" (median; p95 {p95:.0f} {unit})" if p95 is not None else ""
        extra = f"; {note}" if note else ""
        print(f"  {label}: {figure}{spread} — target {TARGETS[label]}; load {figure.load:.2f}{extra}")


def print_side_by_side(reports: list[Report]) -> None:
    header = ["figure", "target", *(f"{r.size:,} units" for r in reports)]
    rows = [header]
    for label, target in TARGETS.items():
        cells = []
        for report in reports:
            figure = report.figures.get(label)
            cells.append(f"{figure} (load {figure.load:.1f})" if figure else "—")
        rows.append([label, target, *cells])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    print("\n=== side by side (medians; load = 1-minute load average, 2 CPUs) ===")
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * width for width in widths))


# --- one size ------------------------------------------------------------------------------------

def make_app(args):
    from app import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": args.url, "REDIS_URL": args.redis_url, "RQ_QUEUE": QUEUE,
                       **SECRETS})


def server_env(args) -> dict:
    return {**os.environ, **SECRETS, "DATABASE_URL": args.url, "REDIS_URL": args.redis_url, "RQ_QUEUE": QUEUE,
            "FIELDFLOW_INSTANCE_PATH": INSTANCE, "LOG_LEVEL": "WARNING"}


def load_country(app, size: int, regions: int, seed: int = 42) -> tuple[dict, float]:
    from app.demo.planning import load_demo
    from app.services.platform.users import ensure_default_roles

    rebuild_schema(app)
    with app.app_context():
        ensure_default_roles()
        started = time.perf_counter()
        summary = load_demo(size, seed=seed, regions=regions)
        return summary, time.perf_counter() - started


def measure_size(args, size: int) -> Report:
    print(f"\n=== {size:,} org units ===")
    report = Report(size)
    app = make_app(args)
    summary, seconds = load_country(app, size, regions=4)
    report.add("demo generation (COPY)", seconds, "s",
               f"{summary['regions']} regions, {summary['districts']} districts, {summary['facilities']:,} "
               f"facilities, {summary['teams']} teams, {summary['users']} users")
    with app.app_context():
        vacuum_analyze()
        subject = bench_subjects()
        measure_subtree(report, subject, args.runs)
        district_planning = make_district_planning(subject)
    measure_pages(report, args, subject, district_planning)

    # Sampling [10, 6, 8] needs 10 regions: the same size again with 12 (as bench/sampling.py).
    summary, seconds = load_country(app, size, regions=12, seed=7)
    print(f"  (demo reloaded with 12 regions for sampling: {seconds:.1f} s; load {load():.2f})")
    with app.app_context():
        vacuum_analyze()
        measure_sampling(report, args)
    return report


def vacuum_analyze() -> None:
    """What autovacuum does soon after a load: statistics for the planner, and the visibility map
    index-only scans rely on."""
    from sqlalchemy import text

    from app.extensions import db

    started = time.perf_counter()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    print(f"  (vacuum analyze: {time.perf_counter() - started:.1f} s)")


@dataclass
class Subject:
    coordinator_id: int
    region: object  # the largest region (id, name, path)
    region_size: int
    district: object  # its largest district
    district_size: int
    search: str  # a word of one of the district's facility names
    hf_type: int


def bench_subjects() -> Subject:
    """The largest region, its largest district, and a search word, found the way the tree shows them."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OrgUnit, OrgUnitType, User
    from app.services.planning.orgunits import under_path

    def largest(depth: int, under: str = ""):
        units = db.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(
            OrgUnit.depth == depth, OrgUnit.path.startswith(under)).order_by(OrgUnit.id)).all()
        sizes = {u.id: db.session.scalar(select(func.count()).where(under_path(OrgUnit.path, u.path)))
                 for u in units}
        unit = max(units, key=lambda u: sizes[u.id])
        return unit, sizes[unit.id]

    region, region_size = largest(1)
    district, district_size = largest(2, region.path)
    facility = db.session.scalar(select(OrgUnit.name).where(OrgUnit.parent_id == district.id)
                                 .order_by(OrgUnit.id.desc()).limit(1))
    coordinator = db.session.scalar(select(User.id).where(User.username == "coordinator"))
    hf_type = db.session.scalar(select(OrgUnitType.id).where(OrgUnitType.category == "HF"))
    print(f"  largest region: {region.name} (id {region.id}), {region_size:,} units in its subtree; "
          f"its largest district: {district.name} (id {district.id}), {district_size:,} units; "
          f"search word: {facility.split()[0]!r}")
    return Subject(coordinator, region, region_size, district, district_size, facility.split()[0], hf_type)


def measure_subtree(report: Report, subject: Subject, runs: int) -> None:
    """The subtree count services run, the org unit API's page of a subtree (its query and its count,
    as `paginate` runs them), and every row of the subtree, in-process; with PostgreSQL's plans."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models import OrgUnit, User
    from app.services.planning.api_listings import org_units_page
    from app.services.planning.orgunits import org_units_query, under_path

    coordinator = db.session.get(User, subject.coordinator_id)
    live_under = (under_path(OrgUnit.path, subject.region.path), OrgUnit.deleted_at.is_(None))
    count_stmt = select(func.count()).select_from(OrgUnit).where(*live_under)
    median, p95, count = timed(lambda: db.session.execute(count_stmt).scalar_one(), runs)
    report.add("subtree count, largest region", median, "ms", f"{count:,} units", p95)
    median, p95, page = timed(lambda: org_units_page(coordinator, None, None, False, None, subject.region.id, None,
                                                     False, (1, 50)), runs)
    report.add("subtree fetch: API page + total", median, "ms",
               f"org_units_page(under=region, limit 50): {len(page.items)} rows of {page.total:,}", p95)
    median, p95, rows = timed(lambda: db.session.execute(select(OrgUnit.id, OrgUnit.name).where(*live_under)).all(),
                              max(3, runs // 4))
    report.add("subtree fetch: every row (id, name)", median, "ms", f"{len(rows):,} rows", p95)
    page_stmt = org_units_query(coordinator, under_id=subject.region.id).limit(50)
    for label, stmt in (("count", count_stmt), ("API page", page_stmt),
                        ("API total", select(func.count()).select_from(page_stmt.limit(None).order_by(None).subquery()))):
        explain(label, stmt)
    db.session.rollback()


def explain(label: str, stmt) -> None:
    from sqlalchemy import text

    from app.extensions import db

    compiled = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = [r[0] for r in db.session.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))]
    scans = [line.strip().split("  (")[0].lstrip("-> ") for line in plan if " Scan " in f" {line.strip()} "]
    runtime = next((line.strip() for line in plan if line.startswith("Execution Time")), "")
    print(f"    plan ({label}): {'; '.join(scans) or plan[0].strip()}; {runtime}")


def make_district_planning(subject: Subject) -> int:
    """A planning on the largest district for its district team, half its facilities assigned to the
    team's two field agents."""
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OrgUnit, Team, User
    from app.schemas.planning import AssignmentRow, PlanningIn
    from app.services.planning.assignments import bulk_create
    from app.services.planning.plannings import create_planning

    coordinator = db.session.get(User, subject.coordinator_id)
    team = db.session.execute(select(Team).where(Team.name == f"{subject.district.name} district team")).scalar_one()
    planning = create_planning(coordinator, PlanningIn(name="Bench district", team=team.id,
                                                       org_unit=subject.district.id))
    facilities = db.session.execute(select(OrgUnit.id).where(OrgUnit.parent_id == subject.district.id)
                                    .order_by(OrgUnit.id)).scalars().all()
    agents = [u.id for u in team.users]
    rng = random.Random(1)
    chosen = rng.sample(facilities, len(facilities) // 2)
    bulk_create(coordinator, planning, [AssignmentRow(org_unit=unit, user=rng.choice(agents)) for unit in chosen])
    return planning.id


def measure_pages(report: Report, args, subject: Subject, planning_id: int) -> None:
    """The tree page, the org unit API and the district's map through gunicorn; its worker's peak RSS."""
    from bench.loadgen import start_gunicorn, stop, wait_up

    base, procs = start_gunicorn(server_env(args), workers=1, threads=4)
    try:
        wait_up(base)
        worker_pid = int(Path(f"/proc/{procs[0].pid}/task/{procs[0].pid}/children").read_text().split()[0])
        session = login(base, "coordinator", "fieldflow")
        token = api_token(args, subject.coordinator_id)
        region, district = subject.region.id, subject.district.id
        htmx = {"HX-Request": "true"}
        for label, path, headers, check in (
            ("tree page (roots)", "/orgunits/", {}, b"tree root"),
            ("tree: open the largest region", f"/orgunits/{region}/children", htmx, b"below"),
            ("tree: open the largest district", f"/orgunits/{district}/children", htmx, b"node-name"),
            ("tree: search a facility name", f"/orgunits/?q={subject.search}", {}, subject.search.encode()),
            ("region page (children, page 1)", f"/orgunits/{region}", {}, subject.region.name.encode()),
            ("API: subtree page of the largest region", f"/api/orgunits/?under={region}&limit=50",
             {"Authorization": f"Bearer {token}"}, str(subject.region_size).encode()),
            ("API: children of the largest district", f"/api/orgunits/?parent_id={district}&limit=50",
             {"Authorization": f"Bearer {token}"}, b'"total"'),
            ("district map page", f"/plannings/{planning_id}", {}, b"planning_map"),
            ("district map shapes", f"/plannings/{planning_id}/map/shapes?type={subject.hf_type}", {}, b'"units"'),
        ):
            median, p95, response = http_timed(session, base + path, headers, args.runs)
            if response.status_code != 200 or check not in response.content:
                raise RuntimeError(f"{path}: {response.status_code}, {check!r} not in the answer")
            report.add(label, median, "ms", f"GET {path}: {len(response.content) / 1000:,.0f} kB", p95)
        report.add("web process peak RSS", peak_rss_mb(worker_pid), "MB",
                   "the gunicorn worker that served the requests above (VmHWM)")
    finally:
        stop(procs)


def login(base: str, username: str, password: str):
    import requests

    session = requests.Session()
    page = session.get(f"{base}/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = session.post(f"{base}/login", data={"csrf_token": csrf, "username": username, "password": password},
                          allow_redirects=False)
    if answer.status_code != 302:
        raise RuntimeError(f"login as {username}: {answer.status_code}")
    return session


def api_token(args, user_id: int) -> str:
    from app.extensions import db
    from app.models import User
    from app.services.platform.tokens import issue_user_token

    with make_app(args).app_context():
        return issue_user_token(db.session.get(User, user_id))[0]


def http_timed(session, url: str, headers: dict, runs: int):
    """(median ms, p95 ms, last response) of GET `url`, after two requests that warm the worker up."""
    for _ in range(2):
        session.get(url, headers=headers)
    times, response = [], None
    for _ in range(runs):
        started = time.perf_counter()
        response = session.get(url, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
    return (*percentiles(times), response)


def measure_sampling(report: Report, args) -> None:
    """Sampling [10, 6, 8] over the country through a real worker; the worker's peak RSS."""
    from sqlalchemy import select

    from app.extensions import db, get_redis
    from app.models import OrgUnit, OrgUnitType, Team, User
    from app.schemas.planning import PlanningIn
    from app.services.planning.plannings import create_planning

    get_redis().flushdb()
    coordinator = db.session.execute(select(User).where(User.username == "coordinator")).scalar_one()
    country = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).scalar_one()
    root_team = db.session.execute(select(Team).where(Team.parent_id.is_(None))).scalar_one()
    types = {t.category: t.id for t in db.session.execute(select(OrgUnitType)).scalars()}
    planning = create_planning(coordinator, PlanningIn(name="Bench national", team=root_team.id, org_unit=country.id))
    worker = start_worker(server_env(args))
    try:
        durations, result = time_sampling(coordinator, planning.id, [types["REGION"], types["DISTRICT"], types["HF"]],
                                          [10, 6, 8], args.sampling_runs)
        median, p95 = percentiles(durations)
        report.add("sampling [10, 6, 8] launch → successful", median, "ms",
                   f"max {max(durations):.0f} ms over {len(durations)} runs; {result}", p95)
        report.add("worker process peak RSS", peak_rss_mb(worker.pid), "MB",
                   "the RQ worker that ran the sampling jobs, which run inside it (VmHWM)")
    finally:
        stop_worker(worker)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/1")
    parser.add_argument("--org-units", type=int, default=1_000_000)
    parser.add_argument("--compare", type=int, default=None, help="measure this size first, then print both")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs per query or request")
    parser.add_argument("--sampling-runs", type=int, default=5)
    args = parser.parse_args()

    from app.config import normalise_database_url

    args.url = normalise_database_url(args.database_url)
    if not args.url.startswith("postgresql"):
        raise SystemExit("this bench measures PostgreSQL (COPY, plans, index-only scans)")
    ensure_database(args.url)
    print(f"database: {args.url.rsplit('@', 1)[-1]}; redis: {args.redis_url}; CPUs: {os.cpu_count()}")
    sizes = [args.compare, args.org_units] if args.compare else [args.org_units]
    reports = [measure_size(args, size) for size in sizes]
    print_side_by_side(reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())
