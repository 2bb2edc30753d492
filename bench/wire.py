"""Benchmark: bytes on the wire, as Chromium counts them (headers + bodies as received, compressed).

    python bench/wire.py [--database-url URL] [--server-root DIR] [--poll-seconds 30]

Loads the demo (20,000 org units) into a WIPED database (default: BENCH_DATABASE_URL, else a local
"bench_wire" database), adds a planning with 2,000 assigned health facilities and 40 tickets, starts
gunicorn from `--server-root` (default: this tree; point it at another checkout to measure "before")
and drives Debian's Chromium through Playwright, logged in as the coordinator:

- the demo planning's map page, first visit (cold cache) and a warm revisit (target ≤ 30 KB);
- the 2,000-polygon map, first visit (target ≤ 300 KB);
- the ticket queue left idle (it polls every 3 s) after its first poll, scaled to a minute
  (target ≤ 5 KB/minute).

Counts `Network.loadingFinished.encodedDataLength` over the DevTools protocol: what came over the
socket for each request (answers served from the browser's cache count 0).
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from intake import wait_until_up  # noqa: E402
from orgunits import ensure_database, rebuild_schema  # noqa: E402

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_wire"
CHROMIUM = "/usr/bin/chromium"
TARGETS = {"warm map revisit": 30_000, "2,000-polygon map": 300_000, "idle ticket queue per minute": 5_000}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/2")
    parser.add_argument("--server-root", default=str(ROOT), help="the checkout gunicorn serves (default: this one)")
    parser.add_argument("--poll-seconds", type=float, default=30.0)
    parser.add_argument("--keep-data", action="store_true", help="reuse the database as a previous run left it")
    args = parser.parse_args()

    from app import create_app
    from app.config import normalise_database_url

    url = normalise_database_url(args.database_url)
    ensure_database(url)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": args.redis_url, "RQ_QUEUE": "bench-wire"})
    if args.keep_data:
        with app.app_context():
            ids = _existing(app)
    else:
        print(f"schema built with {rebuild_schema(app)}")
        with app.app_context():
            ids = _load(app)
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=args.redis_url, RQ_QUEUE="bench-wire",
               FIELDFLOW_INSTANCE_PATH="/tmp/fieldflow-bench-wire", LOG_LEVEL="WARNING",
               SECRET_KEY="bench-wire-secret-key")
    base, procs = _gunicorn_in(args.server_root, env)
    try:
        wait_until_up(base, 1)
        figures = _measure(base, ids, args.poll_seconds)
    finally:
        for proc in procs:
            proc.terminate()
            proc.wait(10)
    print(f"server: {args.server_root}")
    for name, value in figures.items():
        target = TARGETS.get(name)
        verdict = "" if target is None else (f"  (target ≤ {target / 1000:.0f} KB: "
                                              f"{'met' if value <= target else 'NOT met'})")
        print(f"{name:>32}: {value / 1000:8.1f} KB{verdict}")
    return 0


def _gunicorn_in(root: str, env: dict):
    import socket
    import subprocess

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    python = Path(root) / ".venv" / "bin" / "python"
    proc = subprocess.Popen([str(python if python.exists() else sys.executable), "-m", "gunicorn", "--workers", "1",
                             "--worker-class", "gthread", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                             "--log-level", "warning", "wsgi:app"], env=env, cwd=root)
    return f"http://127.0.0.1:{port}", [proc]


def _load(app) -> dict:
    from sqlalchemy import select

    from app.demo.planning import load_demo
    from app.extensions import db, get_redis
    from app.models import OrgUnit, OrgUnitType, Team, TeamType, User
    from app.schemas.planning import AssignmentRow, PlanningIn
    from app.services.planning.assignments import bulk_create
    from app.services.planning.plannings import create_planning

    get_redis().flushdb()
    load_demo(org_units=20_000, seed=7, regions=3)
    coordinator = db.session.execute(select(User).where(User.username == "coordinator")).scalar_one()
    country = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id.is_(None))).scalar_one()
    root_team = db.session.execute(select(Team).where(Team.parent_id.is_(None))).scalar_one()
    hf = db.session.execute(select(OrgUnitType.id).where(OrgUnitType.category == "HF")).scalar_one()
    region = db.session.execute(select(OrgUnit).where(OrgUnit.parent_id == country.id).order_by(OrgUnit.id)).scalars().first()
    planning = create_planning(coordinator, PlanningIn(name="Bench region", team=root_team.id, org_unit=region.id))
    facilities = db.session.execute(select(OrgUnit.id).where(OrgUnit.path.like(region.path + "%"),
                                                             OrgUnit.org_unit_type_id == hf)).scalars().all()
    teams = db.session.execute(select(Team.id).where(Team.type == TeamType.TEAM_OF_USERS)).scalars().all()
    rng = random.Random(1)
    bulk_create(coordinator, planning, [AssignmentRow(org_unit=unit, team=rng.choice(teams))
                                        for unit in rng.sample(facilities, 2000)])
    _tickets(app, 40)
    return _existing(app)


def _tickets(app, count: int) -> None:
    client = app.test_client()
    token = client.post("/api/auth/token", json={"username": "coordinator", "password": "fieldflow"}).get_json()
    for n in range(count):
        client.post("/api/tickets/", headers={"Authorization": f"Bearer {token['access_token']}"},
                    json={"ticket_number": f"BW-{n}", "title": f"Printer {n} is out of toner", "department": "IT",
                          "category": "Hardware", "description": "Tray 2 jams as well."})


def _existing(app) -> dict:
    from sqlalchemy import select

    from app.extensions import db
    from app.models import OrgUnitType, Planning

    plannings = dict(db.session.execute(select(Planning.name, Planning.id)).all())
    hf = db.session.execute(select(OrgUnitType.id).where(OrgUnitType.category == "HF")).scalar_one()
    return {"demo": plannings["LQAS round 1"], "region": plannings["Bench region"], "hf": hf}


class _Meter:
    """Bytes received per request, from the DevTools protocol."""

    def __init__(self, page):
        self.total = 0
        self.requests = 0
        self.statuses: dict[int, int] = {}
        session = page.context.new_cdp_session(page)
        session.send("Network.enable")
        session.on("Network.loadingFinished", self._finished)
        session.on("Network.responseReceived", self._received)

    def _received(self, event) -> None:
        status = event["response"]["status"]
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def _finished(self, event) -> None:
        self.total += int(event.get("encodedDataLength", 0))
        self.requests += 1

    def take(self) -> int:
        total, self.total, self.requests, self.statuses = self.total, 0, 0, {}
        return total


def _measure(base: str, ids: dict, poll_seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    figures = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.goto(f"{base}/login")
        page.fill("input[name=username]", "coordinator")
        page.fill("input[name=password]", "fieldflow")
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        meter = _Meter(page)
        demo = f"{base}/plannings/{ids['demo']}"
        page.goto(demo, wait_until="networkidle")
        figures["map page, first visit"] = meter.take()
        page.goto(f"{base}/plannings/", wait_until="networkidle")
        meter.take()
        page.goto(demo, wait_until="networkidle")
        figures["warm map revisit"] = meter.take()
        page.goto(f"{base}/plannings/{ids['region']}?type={ids['hf']}", wait_until="networkidle")
        figures["2,000-polygon map"] = meter.take()
        page.goto(f"{base}/tickets/", wait_until="networkidle")
        figures["ticket queue, first visit"] = meter.take()
        page.wait_for_timeout(4000)  # its first poll: the partial is not in the browser's cache yet
        figures["ticket queue, first poll"] = meter.take()
        started = time.monotonic()
        page.wait_for_timeout(poll_seconds * 1000)
        polls, statuses = meter.requests, dict(meter.statuses)
        figures["idle ticket queue per minute"] = round(meter.take() * 60 / (time.monotonic() - started))
        print(f"idle ticket queue: {polls} polls in {poll_seconds:.0f} s, statuses {statuses}")
        browser.close()
    return figures


if __name__ == "__main__":
    sys.exit(main())
