"""Writing outbox events. Rows join the caller's transaction: the caller commits, so an event
exists exactly when the change it describes does. The relay that dispatches them is separate.

Every event is checked against the event catalogue (`events`): an event type it does not list, or a
payload of another shape, raises before anything is written."""
from __future__ import annotations

import uuid

from app.extensions import db
from app.models import OutboxEvent, OutboxStatus, utcnow
from app.services.platform.events import check_event


def event_columns(event_type: str, aggregate_type: str, correlation_id: str | None = None,
                  causation_id: str | None = None, depth: int = 0, rule_chain: list | None = None) -> dict:
    """The columns every pending event of this (catalogued) type has, without its id, aggregate id and
    payload: for statements that build those in SQL (the SLA scan). Their payloads must follow the
    catalogue too (the tests check them)."""
    check_event(event_type, aggregate_type)
    now = utcnow()
    return {
        "event_type": event_type, "aggregate_type": aggregate_type, "status": OutboxStatus.PENDING.value,
        "attempts": 0, "next_attempt_at": now, "last_error": None, "created_at": now, "processed_at": None,
        "correlation_id": correlation_id, "causation_id": causation_id, "depth": depth,
        "rule_chain": list(rule_chain or []),
    }


def event_values(event_type: str, aggregate_type: str, aggregate_id, payload: dict,
                 correlation_id: str | None = None, causation_id: str | None = None, depth: int = 0,
                 rule_chain: list | None = None) -> dict:
    """The column values of one pending event (for bulk inserts of many events at once); the payload
    is checked against the catalogue."""
    check_event(event_type, aggregate_type, payload)
    return {"id": str(uuid.uuid4()), "aggregate_id": str(aggregate_id), "payload": payload,
            **event_columns(event_type, aggregate_type, correlation_id, causation_id, depth, rule_chain)}


def emit_event(event_type: str, aggregate_type: str, aggregate_id, payload: dict,
               correlation_id: str | None = None, causation_id: str | None = None, depth: int = 0,
               rule_chain: list | None = None) -> OutboxEvent:
    """Add a pending event to the session (no commit: it goes out with the caller's change)."""
    event = OutboxEvent(**event_values(event_type, aggregate_type, aggregate_id, payload,
                                       correlation_id, causation_id, depth, rule_chain))
    db.session.add(event)
    return event
