"""Prometheus metrics: counters shared by every process, gauges read from the database at scrape time.

Counters are incremented by the web, relay and RQ worker processes alike, so they live in Redis (one
hash per metric, HINCRBYFLOAT on a field that encodes the sorted label pairs): forked work horses
need no shared memory and a restart loses nothing. Gauges (queues, outbox, SLA clocks, jobs) are
computed from the database when /metrics is scraped (DESIGN, "Metrics").
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import func, select

from app.extensions import db, get_redis
from app.models import Alert, Job, SlaRecord, Task, WebhookDelivery
from app.services.processing import job_status

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
KEY_PREFIX = "fieldflow:metrics:"
NAMES_KEY = KEY_PREFIX + "names"  # a set of every counter ever incremented
_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*_total$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

# The counters, with their help text and label names. Other names matching `*_total` are accepted
# and exposed with a generic help text; these are the ones the code increments today.
COUNTERS: dict[str, tuple[str, tuple[str, ...]]] = {
    "workflow_transition_total": (
        "Task and action-plan state transitions attempted, by entity type and result", ("entity_type", "result")),
    "automation_trigger_evaluations_total": (
        "Automation rule evaluations against outbox events, by rule id and outcome", ("trigger_id", "outcome")),
    "sla_records_breached_total": ("SLA clocks that passed their due time (one per breach)", ()),
    "outbox_events_processed_total": (
        "Outbox events handled by the relay, by event type and resulting status", ("event_type", "status")),
    "webhook_deliveries_total": ("Webhook delivery attempts, by outcome", ("status",)),
}

ACTIVE_TASK_STATES = ("new", "in_progress", "blocked")
OUTBOX_STATES = ("pending", "processing", "done", "dead")
OPEN_SLA_STATES = ("running", "paused", "breached")
WEBHOOK_STATES = ("pending", "delivered", "dead")

# After Redis fails, counting is skipped for this long: a transition must not wait on a dead socket.
_BACKOFF_SECONDS = 30.0
_down_until = 0.0


def label_field(labels: dict) -> str:
    """The canonical hash field of a label set: JSON of the sorted (name, value) pairs."""
    return json.dumps(sorted((str(k), str(v)) for k, v in labels.items()), separators=(",", ":"))


def count(name: str, amount: float = 1, **labels) -> None:
    """Add `amount` to counter `name` with these labels. Never raises: metrics must not break work."""
    count_many(name, [(labels, amount)])


def count_many(name: str, items: Iterable[tuple[dict, float]]) -> None:
    """Add several (labels, amount) increments to counter `name` in one Redis round trip."""
    global _down_until
    if time.monotonic() < _down_until:
        return
    try:
        if not _NAME.match(name):
            raise ValueError(f"counter name {name!r} must match {_NAME.pattern}")
        pipe = get_redis().pipeline(transaction=False)
        pipe.sadd(NAMES_KEY, name)
        for labels, amount in items:
            bad = [k for k in labels if not _LABEL.match(str(k))]
            if bad:
                raise ValueError(f"invalid label names {bad} for {name}")
            if amount:
                pipe.hincrbyfloat(KEY_PREFIX + name, label_field(labels), float(amount))
        pipe.execute()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        _down_until = time.monotonic() + _BACKOFF_SECONDS
        log.debug("metric %s not counted (Redis unavailable: %s)", name, exc)
    except Exception as exc:  # noqa: BLE001 — bad names, no app context: carry on uncounted
        log.debug("metric %s not counted: %s", name, exc)


def read_counters() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every counter's values: {name: {((label, value), ...): amount}} (the known ones even when empty)."""
    redis = get_redis()
    names = sorted(set(COUNTERS) | {n.decode() if isinstance(n, bytes) else n for n in redis.smembers(NAMES_KEY)})
    pipe = redis.pipeline(transaction=False)
    for name in names:
        pipe.hgetall(KEY_PREFIX + name)
    out: dict = {}
    for name, raw in zip(names, pipe.execute()):
        values = {}
        for field, amount in raw.items():
            try:
                values[tuple(tuple(pair) for pair in json.loads(field))] = float(amount)
            except (ValueError, TypeError):
                log.debug("skipping malformed metric field %r of %s", field, name)
        out[name] = values
    return out


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
    from app.services.orchestration.outbox_admin import outbox_counts

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
    from flask import current_app
    from rq import Queue, Worker

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

