"""The outbox relay: claim due events in batches, hand each to its consumers, record the outcome.

One transaction per batch. The batch's rows are claimed with `FOR UPDATE SKIP LOCKED` (several
relays share the work on PostgreSQL; SQLite has one writer anyway) and each event runs in a
savepoint, so the consumers' side effects and the event's `done` commit together: a relay killed
mid-batch leaves its events pending and their side effects unwritten (DESIGN, "Outbox"). A failing
event is retried with exponential backoff and goes `dead` after OUTBOX_MAX_ATTEMPTS.
"""
from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import OutboxEvent, OutboxStatus, WebhookEndpoint, utcnow
from app.services.orchestration import automation
from app.services.platform.bulk_insert import RowBuffer

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600


@dataclass
class RelayResult:
    claimed: int = 0
    done: int = 0
    retrying: int = 0
    dead: int = 0


def backoff_seconds(attempts: int) -> int:
    base = current_app.config["OUTBOX_RETRY_SECONDS"]
    return min(MAX_BACKOFF_SECONDS, base * 2 ** max(0, attempts - 1))


def _subscribed_types() -> set[str]:
    rows = db.session.execute(select(WebhookEndpoint.event_types).where(WebhookEndpoint.enabled.is_(True))).scalars()
    return {t for types in rows for t in (types or [])}


def relay_outbox(batch_size: int | None = None, now: datetime | None = None) -> RelayResult:
    """Process one batch of due events; returns what happened (claimed 0: nothing was due)."""
    batch_size = batch_size or current_app.config["OUTBOX_BATCH_SIZE"]
    now = now or utcnow()
    events = db.session.execute(
        select(OutboxEvent).where(OutboxEvent.status == OutboxStatus.PENDING.value, OutboxEvent.next_attempt_at <= now)
        .order_by(OutboxEvent.next_attempt_at, OutboxEvent.created_at).limit(batch_size)
        .with_for_update(skip_locked=True)).scalars().all()
    result = RelayResult(claimed=len(events))
    if not events:
        db.session.rollback()
        return result
    rules = automation.RuleSet.load() if current_app.config.get("WORKFLOW_ENABLED", True) else automation.RuleSet()
    subscribed = _subscribed_types()
    work = [(event, rules.for_event(event), event.event_type in subscribed) for event in events]
    handled = automation.handled_pairs([e.id for e, event_rules, _ in work if event_rules])
    try:  # the common case: the whole batch in one savepoint
        with db.session.begin_nested():
            evaluations, processed, done_ids = _consume(work, handled, result, now, isolate=False)
    except Exception:  # noqa: BLE001 — some event failed: again, one savepoint per event, to retry just it
        result.retrying = result.dead = 0
        evaluations, processed, done_ids = _consume(work, handled, result, now, isolate=True)
    if done_ids:
        db.session.execute(update(OutboxEvent).where(OutboxEvent.id.in_(done_ids)).values(
            status=OutboxStatus.DONE.value, processed_at=now, attempts=OutboxEvent.attempts + 1, last_error=None)
            .execution_options(synchronize_session=False))
    db.session.commit()
    result.done = len(done_ids)
    _count(evaluations, processed)
    return result


def _consume(work: list, handled: set, result: RelayResult, now: datetime, isolate: bool):
    """Run the consumers of each event; their rows are inserted together at the end (or, with
    `isolate`, per event in its own savepoint, where a failing event is scheduled for retry — or
    dead — instead of failing the batch)."""
    evaluations: Counter = Counter()
    processed: Counter = Counter()
    done_ids: list[str] = []
    rows = RowBuffer()
    for event, event_rules, webhook in work:
        if event_rules or webhook:
            try:
                if isolate:
                    with db.session.begin_nested():
                        _consume_one(event, event_rules, webhook, evaluations, handled, rows)
                        rows.flush()
                else:
                    _consume_one(event, event_rules, webhook, evaluations, handled, rows)
            except Exception as exc:  # noqa: BLE001 — any consumer failure is retried, then parked as dead
                if not isolate:
                    raise
                rows.clear()
                status = _record_failure(event, exc, now)
                processed[(event.event_type, status)] += 1
                if status == OutboxStatus.DEAD.value:
                    result.dead += 1
                else:
                    result.retrying += 1
                continue
        done_ids.append(event.id)
        processed[(event.event_type, "done")] += 1
    rows.flush()
    return evaluations, processed, done_ids


def _consume_one(event: OutboxEvent, event_rules: list, webhook: bool, evaluations: Counter, handled: set,
                 rows: RowBuffer) -> None:
    automation.dispatch(event, event_rules, evaluations, handled, rows)
    if webhook:
        from app.services.orchestration import webhooks

        webhooks.queue_for_subscriptions(event)


def _record_failure(event: OutboxEvent, exc: Exception, now: datetime) -> str:
    attempts = (event.attempts or 0) + 1
    dead = attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]
    status = OutboxStatus.DEAD.value if dead else OutboxStatus.PENDING.value
    db.session.execute(update(OutboxEvent).where(OutboxEvent.id == event.id).values(
        attempts=attempts, status=status, last_error=f"{type(exc).__name__}: {exc}"[:2000],
        next_attempt_at=None if dead else now + timedelta(seconds=backoff_seconds(attempts)))
        .execution_options(synchronize_session=False))
    log.warning("outbox event %s (%s) failed, attempt %s%s: %s", event.id, event.event_type, attempts,
                " — now dead" if dead else "", exc, extra={"correlation_id": event.correlation_id})
    return status


def _count(evaluations: Counter, processed: Counter) -> None:
    from app.services.platform.metrics import count_many

    count_many("automation_trigger_evaluations_total",
               [({"trigger_id": str(rule_id), "outcome": outcome}, n) for (rule_id, outcome), n in evaluations.items()])
    count_many("outbox_events_processed_total",
               [({"event_type": event_type, "status": status}, n) for (event_type, status), n in processed.items()])


def drain(max_seconds: float = 50.0, batch_size: int | None = None, on_batch=None) -> RelayResult:
    """Relay batches until nothing is due or time is up (the RQ cron safety net, `--once`, tests)."""
    total = RelayResult()
    deadline = time.monotonic() + max_seconds
    while time.monotonic() < deadline:
        batch = relay_outbox(batch_size)
        for name in ("claimed", "done", "retrying", "dead"):
            setattr(total, name, getattr(total, name) + getattr(batch, name))
        if on_batch:
            on_batch(batch)
        if batch.claimed == 0:
            break
    return total


def pending_count() -> int:
    return db.session.execute(select(func.count()).select_from(OutboxEvent).where(
        OutboxEvent.status == OutboxStatus.PENDING.value)).scalar_one()


def ensure_defaults() -> None:
    """The built-in automation rules and the seed SLA targets exist (both idempotent)."""
    from app.services.orchestration.sla import seed_sla_defaults

    automation.ensure_builtin_rules()
    seed_sla_defaults()


def run_relay(interval: float = 0.25, batch_size: int | None = None, should_stop=lambda: False) -> None:
    """The long-running relay (`flask outbox relay`): events first, then due webhook deliveries;
    sleeps `interval` only when there was nothing to do."""
    ensure_defaults()
    log.info("outbox relay started (batch %s, idle interval %.2fs)",
             batch_size or current_app.config["OUTBOX_BATCH_SIZE"], interval)
    from app.services.orchestration import webhooks

    while not should_stop():
        busy = False
        try:
            batch = relay_outbox(batch_size)
            busy = batch.claimed > 0
            delivered = webhooks.deliver_due()
            busy = busy or any(delivered.values())
        except Exception:  # noqa: BLE001 — a database blip must not end the relay
            log.exception("outbox relay iteration failed; retrying")
            db.session.rollback()
            time.sleep(min(5.0, interval * 10))
        finally:
            db.session.remove()
        if not busy:
            time.sleep(interval)
    log.info("outbox relay stopped")
