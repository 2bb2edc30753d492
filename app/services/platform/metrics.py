"""Prometheus counters, shared by every process: `count` and `count_many` increment them, the
/metrics exposition (`app.services.orchestration.metrics_exposition`) reads them.

The web, relay and RQ worker processes all increment them, so they live in Redis (one hash per
metric, HINCRBYFLOAT on a field that encodes the sorted label pairs): forked work horses need no
shared memory and a restart loses nothing.

A web process buffers its increments and a thread writes them every METRICS_FLUSH_SECONDS
(`buffer_counts`, called by wsgi.py): a task transition then costs no Redis round trip of its own. A
graceful exit writes what is left; a killed web process loses at most that many seconds of counts.
Elsewhere — RQ's work horses end with os._exit — every increment is written at once.
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import re
import threading
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
    """Add several (labels, amount) increments to counter `name`: to the buffer (see `buffer_counts`),
    else to Redis in one round trip."""
    try:
        if not _NAME.match(name):
            raise ValueError(f"counter name {name!r} must match {_NAME.pattern}")
        increments: dict[tuple[str, str], float] = {}
        for labels, amount in items:
            bad = [k for k in labels if not _LABEL.match(str(k))]
            if bad:
                raise ValueError(f"invalid label names {bad} for {name}")
            if amount:
                key = (name, label_field(labels))
                increments[key] = increments.get(key, 0.0) + float(amount)
        client = get_redis()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        _redis_down(name, exc)
        return
    except Exception as exc:  # noqa: BLE001 — bad names, no app context: carry on uncounted
        log.debug("metric %s not counted: %s", name, exc)
        return
    if _buffer.seconds > 0:
        with _buffer.lock:
            for key, amount in increments.items():
                _buffer.pending[key] = _buffer.pending.get(key, 0.0) + amount
            _buffer.client = client
        _buffer.start_flusher()
        return
    _write(client, increments, {name})


def _write(client, increments: dict[tuple[str, str], float], names: set[str]) -> None:
    """HINCRBYFLOAT each increment, one pipeline; Redis down: skipped, and skipped again for a while."""
    if time.monotonic() < _down_until:
        return
    try:
        pipe = client.pipeline(transaction=False)
        pipe.sadd(NAMES_KEY, *sorted(names))
        for (name, field), amount in increments.items():
            pipe.hincrbyfloat(KEY_PREFIX + name, field, amount)
        pipe.execute()
    except (RedisConnectionError, RedisTimeoutError) as exc:
        _redis_down(sorted(names), exc)


def _redis_down(what, exc: Exception) -> None:
    global _down_until
    _down_until = time.monotonic() + _BACKOFF_SECONDS
    log.debug("metrics %s not counted (Redis unavailable: %s)", what, exc)


class _Buffer:
    """This process's increments not yet in Redis, and the thread that writes them."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.lock = threading.Lock()
        self.pending: dict[tuple[str, str], float] = {}
        self.client = None
        self.flusher_pid: int | None = None
        self.wake = threading.Event()

    def start_flusher(self) -> None:
        if self.flusher_pid == os.getpid():
            return
        with self.lock:
            if self.flusher_pid == os.getpid():
                return
            self.flusher_pid = os.getpid()
            self.wake.clear()
        threading.Thread(target=self._run, name="metrics-flush", daemon=True).start()

    def _run(self) -> None:
        while self.seconds > 0:
            self.wake.wait(self.seconds)  # woken early when the interval changes
            self.wake.clear()
            flush_counts()
        with self.lock:
            self.flusher_pid = None

    def forget(self) -> None:
        """In a forked child: the parent's pending counts are the parent's to write."""
        self.lock, self.wake = threading.Lock(), threading.Event()
        self.pending, self.client, self.flusher_pid = {}, None, None


_buffer = _Buffer()
os.register_at_fork(after_in_child=_buffer.forget)


def buffer_counts(seconds: float) -> None:
    """From now on, buffer this process's increments and write them every `seconds` (0: write each at
    once, writing what is buffered first)."""
    _buffer.seconds = max(0.0, float(seconds))
    _buffer.wake.set()
    if not _buffer.seconds:
        flush_counts()


def flush_counts() -> None:
    """Write the buffered increments now (the exposition calls it before reading)."""
    with _buffer.lock:
        pending, client = _buffer.pending, _buffer.client
        _buffer.pending = {}
    if pending and client is not None:
        _write(client, pending, {name for name, _field in pending})


atexit.register(flush_counts)  # a graceful exit writes what is buffered


def read_counters() -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every counter's values: {name: {((label, value), ...): amount}} (the known ones even when empty)."""
    flush_counts()
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
