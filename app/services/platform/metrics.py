"""Prometheus counters, shared by every process: `count` and `count_many` increment them, the
/metrics exposition (`app.services.orchestration.metrics_exposition`) reads them.

The web, relay and RQ worker processes all increment them, so they live in Redis (one hash per
metric, HINCRBYFLOAT on a field that encodes the sorted label pairs): forked work horses need no
shared memory and a restart loses nothing.
"""
from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from app.extensions import get_redis

log = logging.getLogger(__name__)

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
