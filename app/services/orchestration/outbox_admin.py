"""Operating the outbox: counts for health checks and stats, browsing events, replaying dead ones."""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, select, update

from app.extensions import db
from app.models import OutboxEvent, OutboxStatus, User, utcnow
from app.schemas.outbox import OutboxFilters
from app.services.platform.audit import record
from app.services.platform.errors import Conflict, Forbidden, NotFound
from app.services.platform.paging import page_of

STATUSES = tuple(s.value for s in OutboxStatus)
PER_PAGE = 50


def _require_admin(user: User) -> None:
    # every project's events pass through the outbox: operating it is the platform operator's
    if not user.is_platform_operator:
        raise Forbidden("Only the platform operator may operate the outbox.")


def outbox_counts() -> dict:
    """Events by status (every status present) and the age in seconds of the oldest pending event
    (None when nothing is pending) — for /healthz, /api/workflow/stats, /metrics and the admin page."""
    by_status = {status: 0 for status in STATUSES}
    by_status.update(dict(db.session.execute(
        select(OutboxEvent.status, func.count()).group_by(OutboxEvent.status)).all()))
    # The typed column (not MIN()) keeps the UTC datetime type on SQLite; created_at is indexed.
    oldest = db.session.execute(
        select(OutboxEvent.created_at).where(OutboxEvent.status == OutboxStatus.PENDING.value)
        .order_by(OutboxEvent.created_at).limit(1)).scalar_one_or_none()
    age = None if oldest is None else round(max(0.0, (utcnow() - oldest).total_seconds()), 3)
    return {"by_status": by_status, "oldest_pending_age_seconds": age}


def event_types() -> list[str]:
    """Every event type in the outbox (for the filter)."""
    return list(db.session.execute(
        select(OutboxEvent.event_type).distinct().order_by(OutboxEvent.event_type)).scalars())


def events_page(user: User, status: str | None = OutboxStatus.DEAD.value, event_type: str | None = None,
                correlation_id: str | None = None, page: int = 1, per_page: int = PER_PAGE):
    """A page of events, newest first, filtered by status (unknown: all), type and correlation id."""
    _require_admin(user)
    stmt = select(OutboxEvent).order_by(OutboxEvent.created_at.desc(), OutboxEvent.id)
    if status in STATUSES:
        stmt = stmt.where(OutboxEvent.status == status)
    if event_type:
        stmt = stmt.where(OutboxEvent.event_type == event_type)
    if correlation_id:
        stmt = stmt.where(OutboxEvent.correlation_id == correlation_id)
    return page_of(stmt, max(page, 1), per_page)


@dataclass
class OutboxPage:
    page: Pagination
    counts: dict
    event_types: list[str]
    statuses: tuple[str, ...]
    filters: dict


def outbox_page(user: User, filters: OutboxFilters) -> OutboxPage:
    """The admin page: a page of events of one status (or all) with the counts by status and the
    event types to filter by."""
    events = events_page(user, filters.status, filters.event_type, filters.correlation_id, page=filters.page)
    return OutboxPage(events, outbox_counts(), event_types(), STATUSES, filters.model_dump(exclude={"page"}))


def get_event(user: User, event_id: str) -> tuple[OutboxEvent, OutboxEvent | None, list[OutboxEvent]]:
    """An event, the event that caused it (if still stored) and the events it caused."""
    _require_admin(user)
    event = db.session.get(OutboxEvent, event_id)
    if event is None:
        raise NotFound(f"No outbox event {event_id}")
    cause = db.session.get(OutboxEvent, event.causation_id) if event.causation_id else None
    caused = db.session.execute(select(OutboxEvent).where(OutboxEvent.causation_id == event.id)
                                .order_by(OutboxEvent.created_at).limit(100)).scalars().all()
    return event, cause, caused


def replay_events(user: User, ids: list[str] | None) -> int:
    """Send events through the relay again: pending, attempts 0, due now. `ids` None replays every
    dead event; a list replays its dead events, and a single explicitly chosen event may also be
    `done` (run its consumers again — they dedupe on the event id). Each replay writes an audit row
    keeping the error it clears. One commit; returns how many events were replayed."""
    _require_admin(user)
    allowed = [OutboxStatus.DEAD.value]
    stmt = select(OutboxEvent.id, OutboxEvent.status, OutboxEvent.attempts, OutboxEvent.last_error)
    if ids is None:
        stmt = stmt.where(OutboxEvent.status == OutboxStatus.DEAD.value)
    else:
        ids = list(dict.fromkeys(str(i) for i in ids))
        if not ids:
            return 0
        if len(ids) == 1:
            allowed.append(OutboxStatus.DONE.value)
        stmt = stmt.where(OutboxEvent.id.in_(ids))
    rows = db.session.execute(stmt).all()
    if ids is not None and len(ids) == 1:
        if not rows:
            raise NotFound(f"No outbox event {ids[0]}")
        if rows[0].status not in allowed:
            raise Conflict(f"Event {ids[0]} is {rows[0].status}: only dead or done events can be replayed.")
    previous = {row.id: row for row in rows if row.status in allowed}
    now = utcnow()
    replayed: list[str] = []
    chunk_ids = list(previous)
    for start in range(0, len(chunk_ids), 500):
        chunk = chunk_ids[start:start + 500]
        # The status condition makes this a compare-and-set: a row changed meanwhile is left alone.
        replayed += db.session.execute(
            update(OutboxEvent).where(OutboxEvent.id.in_(chunk), OutboxEvent.status.in_(allowed))
            .values(status=OutboxStatus.PENDING.value, attempts=0, next_attempt_at=now, last_error=None,
                    processed_at=None)
            .returning(OutboxEvent.id).execution_options(synchronize_session=False)).scalars().all()
    for event_id in replayed:
        row = previous[event_id]
        record(user, "outbox.replay", "outbox_event", event_id,
               {"status": [row.status, OutboxStatus.PENDING.value], "attempts": row.attempts,
                "last_error": row.last_error})
    db.session.commit()
    db.session.expire_all()
    return len(replayed)
