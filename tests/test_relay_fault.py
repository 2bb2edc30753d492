"""Fault test: `flask outbox relay` is SIGKILLed again and again while 5,000 events flow in.
Afterwards every event was processed and no automation side effect happened twice. On PostgreSQL
each relay runs as two processes side by side (`--processes 2`), so they also race for batches."""
from __future__ import annotations

import random
import subprocess
import sys
import threading
import time

from sqlalchemy import func, select

from app.models import Alert, AutomationRule, OutboxEvent, RuleExecution
from app.services.platform.events import example_payload
from app.services.platform.outbox import event_values
from tests.conftest import ROOT, kill_tree, wait_for

EVENTS = 5000
REPORTS = OutboxEvent.payload["source"].as_string() == "fault-test"  # the produced events (not the alerts' own)


def _start_relay(env) -> subprocess.Popen:
    processes = "2" if env["DATABASE_URL"].startswith("postgresql") else "1"
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "outbox", "relay", "--interval", "0.05",
                             "--batch", "100", "--processes", processes], env=env, cwd=str(ROOT),
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_relay_killed_repeatedly_loses_nothing_and_repeats_nothing(db, app, worker_env):
    rule = AutomationRule(name="Alert per field report", event_type="AlertRaised",
                          condition={"field": "payload.source", "op": "eq", "value": "fault-test"},
                          actions=[{"type": "alert", "level": "info", "title": "Report {payload.alert_id}"}])
    db.session.add(rule)
    db.session.commit()

    def produce():  # events arrive in chunks while the relay is being killed
        from app.extensions import db as _db

        with app.app_context():
            for start in range(0, EVENTS, 250):
                _db.session.execute(OutboxEvent.__table__.insert(), [
                    event_values("AlertRaised", "alert", n, example_payload(
                        "AlertRaised", alert_id=n, project_id=None, source="fault-test"))
                    for n in range(start, start + 250)])
                _db.session.commit()
                time.sleep(0.05)
            _db.session.remove()

    producer = threading.Thread(target=produce)
    producer.start()
    rng = random.Random(6)
    kills = 0
    deadline = time.monotonic() + 240

    def done_reports() -> int:
        db.session.expire_all()
        return db.session.execute(select(func.count()).select_from(OutboxEvent).where(
            REPORTS, OutboxEvent.status == "done")).scalar_one()

    processed = 0
    while time.monotonic() < deadline and (kills < 5 or producer.is_alive() or processed < EVENTS):
        proc = _start_relay(worker_env)
        before = processed
        wait_for(lambda: done_reports() > before or (not producer.is_alive() and before == EVENTS), timeout=60,
                 interval=0.05, message="the relay to make progress")
        time.sleep(rng.uniform(0.0, 0.3))
        kill_tree(proc.pid)  # SIGKILL while it is relaying
        proc.wait(10)
        kills += 1
        processed = done_reports()
    producer.join(60)
    assert kills >= 5
    # a last relay (not killed) finishes whatever the kills left, including the AlertRaised events
    proc = _start_relay(worker_env)
    try:
        def settled():
            db.session.expire_all()
            return db.session.execute(select(func.count()).select_from(OutboxEvent)
                                      .where(OutboxEvent.status != "done")).scalar_one() == 0
        wait_for(settled, timeout=180, interval=0.5, message="every event done")
    finally:
        kill_tree(proc.pid)
        proc.wait(10)
    assert db.session.execute(select(func.count()).select_from(OutboxEvent).where(REPORTS)).scalar_one() == EVENTS
    assert db.session.execute(select(func.count()).select_from(Alert)).scalar_one() == EVENTS
    assert db.session.execute(select(func.count(func.distinct(Alert.event_id)))).scalar_one() == EVENTS
    assert db.session.execute(select(func.count()).select_from(RuleExecution)
                              .where(RuleExecution.outcome == "fired")).scalar_one() == EVENTS
    titles = db.session.execute(select(Alert.title)).scalars().all()
    assert sorted(titles) == sorted(f"Report {n}" for n in range(EVENTS))
