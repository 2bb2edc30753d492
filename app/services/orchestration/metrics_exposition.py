"""What GET /metrics serves: the Prometheus text exposition of the Redis counters (`platform.metrics`)
and of gauges computed when Prometheus scrapes (DESIGN, "Metrics") — from the database (tasks, outbox,
SLA clocks, webhook deliveries, jobs, alerts) and from the RQ queues.
"""
from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Iterable

from flask import current_app
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from rq import Queue, Worker
from sqlalchemy import func, select

from app.extensions import db, get_redis
from app.models import Alert, Job, Permission, SlaRecord, Task, User, WebhookDelivery
from app.services.orchestration.outbox_admin import outbox_counts
from app.services.orchestration.state_machines import TASK
from app.services.platform.errors import Forbidden, NotFound
from app.services.platform.metrics import COUNTERS, read_counters
from app.services.platform.permissions import Unauthorized
from app.services.processing import job_status

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
ACTIVE_TASK_STATES = tuple(TASK.active)
OPEN_SLA_STATES = ("running", "paused", "breached")
WEBHOOK_STATES = ("pending", "delivered", "dead")


def _counter_families(counters: dict) -> Iterable[CounterMetricFamily]:
    for name, values in counters.items():
        help_text, label_names = COUNTERS.get(name, (f"Counter {name}", ()))
        if name not in COUNTERS:  # unknown counters: the union of the label names they were given
            label_names = tuple(sorted({k for key in values for k, _ in key}))
        family = CounterMetricFamily(name, help_text, labels=label_names)
        if not label_names and not values:
            family.add_metric([], 0.0)  # a label-less counter is meaningful at zero
        for key, amount in sorted(values.items()):
            given = dict(key)
            family.add_metric([given.get(label, "") for label in label_names], amount)
        yield family


def _by_status(column, states: Iterable[str], *where) -> dict[str, int]:
    """Row counts grouped by a status column, every listed state present (0 where none)."""
    counts = {state: 0 for state in states}
    counts.update(dict(db.session.execute(select(column, func.count()).where(*where).group_by(column)).all()))
    return counts


def _gauge(name: str, help_text: str, label: str, counts: dict) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for value, n in sorted(counts.items(), key=lambda kv: str(kv[0])):
        family.add_metric([str(value)], n)
    return family


def _database_gauges() -> Iterable:
    yield _gauge("active_tasks_total", "Tasks not yet completed or cancelled, by state", "state",
                 _by_status(Task.status, ACTIVE_TASK_STATES, Task.status.in_(ACTIVE_TASK_STATES)))
    outbox = outbox_counts()
    yield _gauge("outbox_events", "Outbox events by status", "status", outbox["by_status"])
    yield GaugeMetricFamily("outbox_oldest_pending_age_seconds", "Age of the oldest pending outbox event (0: none)",
                            value=outbox["oldest_pending_age_seconds"] or 0.0)
    yield _gauge("sla_records_open", "SLA clocks not stopped, by status", "status",
                 _by_status(SlaRecord.status, OPEN_SLA_STATES, SlaRecord.stopped_at.is_(None)))
    # Not `webhook_deliveries`: that family name belongs to the webhook_deliveries_total counter.
    yield _gauge("webhook_deliveries_by_status", "Webhook deliveries by current status", "status",
                 _by_status(WebhookDelivery.status, WEBHOOK_STATES))
    yield _gauge("jobs", "Jobs by canonical status", "status", _by_status(Job.status, job_status.CANONICAL))
    unacknowledged = db.session.execute(
        select(func.count()).select_from(Alert).where(Alert.acknowledged_at.is_(None))).scalar_one()
    yield GaugeMetricFamily("alerts_unacknowledged", "Alerts nobody has acknowledged yet", value=unacknowledged)


def _queue_gauges() -> Iterable:
    redis = get_redis()
    names = {q.name for q in Queue.all(connection=redis)} | {current_app.config["RQ_QUEUE"]}
    lengths = {name: Queue(name, connection=redis).count for name in names}
    yield _gauge("rq_queue_length", "Jobs waiting in each RQ queue", "queue", lengths)
    yield GaugeMetricFamily("rq_workers", "RQ workers registered", value=Worker.count(connection=redis))


class FieldflowCollector:
    """Yields the Redis counters and the scrape-time gauges. A failing source (Redis or the database
    down) is reported in `fieldflow_metrics_source_up` instead of failing the whole scrape."""

    def collect(self):
        up = GaugeMetricFamily("fieldflow_metrics_source_up", "1 when a metrics source answered this scrape",
                               labels=["source"])
        sources = (("counters", lambda: _counter_families(read_counters())),
                   ("database", _database_gauges), ("queues", _queue_gauges))
        for source, produce in sources:
            try:
                families = list(produce())
            except Exception:  # noqa: BLE001
                log.warning("metrics source %s failed", source, exc_info=True)
                if source == "database":
                    db.session.rollback()
                up.add_metric([source], 0)
                continue
            up.add_metric([source], 1)
            yield from families
        yield up


def render_metrics() -> bytes:
    """The Prometheus text exposition (format 0.0.4) of every Fieldflow metric."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FieldflowCollector())
    started = time.monotonic()
    body = generate_latest(registry)
    log.debug("metrics rendered in %.1f ms", (time.monotonic() - started) * 1000)
    return body



def _check_reader(user: User, authorization: str) -> None:
    """The METRICS_TOKEN Bearer token, or a session user with VIEW_STATS; otherwise Unauthorized or
    Forbidden (answered in plain text: Prometheus shows the body as the scrape error)."""
    token = current_app.config.get("METRICS_TOKEN")
    if token and authorization.startswith("Bearer "):
        if hmac.compare_digest(authorization[len("Bearer "):].strip().encode(), token.encode()):
            return
        raise Unauthorized("Invalid metrics token.")
    if user.is_authenticated:
        if user.has_permission(Permission.VIEW_STATS):
            return
        raise Forbidden("You need the VIEW_STATS permission to read metrics.")
    if not token:
        raise Unauthorized("Metrics need authentication: set METRICS_TOKEN on the server and send it as "
                           "'Authorization: Bearer <token>', or log in as a user with VIEW_STATS.")
    raise Unauthorized("Send the metrics token as 'Authorization: Bearer <token>', "
                       "or log in as a user with VIEW_STATS.")


def scrape(user: User, authorization: str) -> bytes:
    """`render_metrics` for a scraper: `authorization` is the request's Authorization header (the
    METRICS_TOKEN as a Bearer token), `user` the session's user (anonymous without a session), who
    needs VIEW_STATS."""
    if not current_app.config.get("METRICS_ENABLED", True):
        raise NotFound("Metrics are disabled on this server (METRICS_ENABLED=false).")
    _check_reader(user, authorization)
    return render_metrics()
