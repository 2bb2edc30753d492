"""Alerts: raised by rules (and the SLA scan), listed newest first, acknowledged by people.

`raise_alert` joins the caller's transaction (no commit) and emits an "AlertRaised" outbox event
carrying the causation chain of the event behind it, so rules on AlertRaised keep the loop guard
and depth cap.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination
from sqlalchemy import func, insert, or_, select

from app.extensions import db
from app.models import Alert, OutboxEvent, User, utcnow
from app.schemas.automation import ALERT_LEVELS, AlertFilters
from app.services.platform.access import project_scope
from app.services.platform.bulk_insert import RowBuffer, next_id
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.platform.outbox import event_values
from app.services.platform.paging import page_of


def raise_alert(project_id: int | None, level: str, title: str, message: str, source: str,
                event_id: str | None = None, entity_type: str | None = None, entity_id=None,
                causation=None, rows: RowBuffer | None = None) -> int:
    """Write an alert and its AlertRaised event in the caller's transaction (the caller commits);
    returns the alert's id. `causation` is the event that led to it (an OutboxEvent, or anything with
    id, correlation_id, depth and rule_chain): the new event copies its correlation and rule chain,
    one level deeper. With `rows` (the relay's buffer) both rows wait for `rows.flush()`."""
    if level not in ALERT_LEVELS:
        raise ValidationFailed("Invalid alert", {"level": [f"must be one of {', '.join(ALERT_LEVELS)}"]})
    buffer = rows if rows is not None else RowBuffer()
    alert = {"id": next_id(Alert), "project_id": project_id, "level": level,
             "title": str(title or "")[:255] or "Alert", "message": message or "", "source": str(source or "")[:60],
             "event_id": event_id, "entity_type": entity_type,
             "entity_id": str(entity_id) if entity_id is not None else None, "created_at": utcnow(),
             "acknowledged_at": None, "acknowledged_by_id": None}
    if alert["id"] is None:  # no sequence to reserve from (SQLite): the INSERT assigns it
        alert["id"] = db.session.execute(insert(Alert).values(alert)).inserted_primary_key[0]
    else:
        buffer.add(Alert, alert)
    links = {"correlation_id": f"alert:{alert['id']}"}
    if causation is not None:
        links = {"correlation_id": causation.correlation_id, "causation_id": causation.id,
                 "depth": (causation.depth or 0) + 1, "rule_chain": list(causation.rule_chain or [])}
    buffer.add(OutboxEvent, event_values("AlertRaised", "alert", alert["id"], {
        "alert_id": alert["id"], "project_id": project_id, "level": level, "title": alert["title"],
        "message": alert["message"], "source": alert["source"], "entity_type": entity_type,
        "entity_id": alert["entity_id"]}, **links))
    if rows is None:
        buffer.flush()
    return alert["id"]


def _visible(user: User):
    # Alerts without a project come from events without one: only the platform operator sees those.
    scope = Alert.project_id.in_(project_scope(user))
    return or_(scope, Alert.project_id.is_(None)) if user.is_platform_operator else scope


def alerts_query(user: User, level: str | None = None, unacknowledged: bool = False):
    """Alerts of the user's projects, newest first, optionally one level or only the open ones."""
    stmt = select(Alert).where(_visible(user))
    if level is not None:
        stmt = stmt.where(Alert.level == level)
    if unacknowledged:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    return stmt.order_by(Alert.created_at.desc(), Alert.id.desc())


def open_count(user: User) -> int:
    return db.session.execute(select(func.count()).select_from(Alert).where(
        _visible(user), Alert.acknowledged_at.is_(None))).scalar_one()


@dataclass
class AlertsPage:
    page: Pagination
    level: str | None
    open_only: bool
    levels: tuple[str, ...]
    open_count: int


def alerts_page(user: User, filters: AlertFilters) -> AlertsPage:
    """One page (25) of the alerts page: one level, or only the open ones, when the filters say so;
    and how many are open."""
    listing = page_of(alerts_query(user, filters.level, filters.open), filters.page, 25)
    return AlertsPage(listing, filters.level, filters.open, ALERT_LEVELS, open_count(user))


def get_alert(user: User, alert_id) -> Alert:
    alert = db.session.execute(select(Alert).where(Alert.id == int(alert_id), _visible(user))).scalar_one_or_none() \
        if str(alert_id).isdigit() else None
    if alert is None:
        raise NotFound(f"No alert {alert_id}")
    return alert


def acknowledge(user: User, alert_id) -> Alert:
    """Mark an alert as seen by this user (acknowledging twice keeps the first). Commits."""
    alert = get_alert(user, alert_id)
    if alert.acknowledged_at is None:
        alert.acknowledged_at, alert.acknowledged_by_id = utcnow(), user.id
        db.session.commit()
    return alert
