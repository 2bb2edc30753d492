"""Webhooks: endpoints, and signed deliveries of outbox events to them (DESIGN, "Webhooks").

A delivery is queued once per (endpoint, event, source) — by subscription (the endpoint's
`event_types`) or by a rule's webhook action — and sent by `deliver_due`: claimed with a lease and
committed before the POST (so a slow receiver holds no lock and a crashed sender is retried),
signed the Standard Webhooks way (`webhook-id` / `webhook-timestamp` / `webhook-signature`,
HMAC-SHA256), logged attempt by attempt, retried with exponential backoff, `dead` after
WEBHOOK_MAX_ATTEMPTS. Non-public targets are refused on save and on every send, and a send connects
to the address it checked (`webhook_targets`). The signing secret is shown once at creation, stored
sealed, never rendered or logged again.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from flask import current_app
from sqlalchemy import and_, func, or_, select, update

from app.extensions import db
from app.models import (
    DeliveryStatus, OutboxEvent, Permission, User, WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow,
)
from app.services.platform.permissions import require_permission
from app.services.platform import secrets_box
from app.schemas.automation import EndpointIn
from app.services.platform.access import project_scope, resolve_scope
from app.services.platform.errors import Conflict, FieldErrors, Forbidden, NotFound
from app.services.platform.metrics import count_many
from app.services.platform.events import EVENT_TYPES
from app.services.orchestration.webhook_targets import check_target, pinned_session, resolve_target

log = logging.getLogger(__name__)
MAX_BACKOFF_SECONDS = 3600
STATUSES = tuple(s.value for s in DeliveryStatus)


# --- signing and the target guard ---------------------------------------------------------------

def new_secret() -> str:
    """A signing secret in the Standard Webhooks format: "whsec_" + base64 of 24 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: str) -> str:
    """The `webhook-signature` value: "v1," + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


# --- endpoints ----------------------------------------------------------------------------------

def endpoints_query(user: User):
    """Endpoints this user sees: their projects' and the global ones."""
    return select(WebhookEndpoint).where(or_(WebhookEndpoint.project_id.is_(None),
                                             WebhookEndpoint.project_id.in_(project_scope(user))))


def list_endpoints(user: User) -> list[WebhookEndpoint]:
    return list(db.session.execute(endpoints_query(user).order_by(WebhookEndpoint.name, WebhookEndpoint.id)).scalars())


def get_endpoint(user: User, endpoint_id) -> WebhookEndpoint:
    endpoint = db.session.execute(endpoints_query(user).where(WebhookEndpoint.id == int(endpoint_id))) \
        .scalar_one_or_none() if str(endpoint_id).isdigit() else None
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {endpoint_id}")
    return endpoint


def can_edit_endpoint(user: User, endpoint: WebhookEndpoint) -> bool:
    return user.has_permission(Permission.MANAGE_WORKFLOWS) and (endpoint.project_id is not None or user.is_platform_operator)


def _fields(user: User, data: EndpointIn) -> dict:
    """The column values of an endpoint, after what needs the world: the URL's target is public (or
    allowed), the project is the user's (absent: their only one; every project: the platform
    operator only); else ValidationFailed naming each."""
    errors = FieldErrors()
    refused = check_target(data.url)
    if refused:
        errors.add("url", refused)
    project_id = resolve_scope(user, data.project_id, "project_id" in data.model_fields_set, errors)
    errors.raise_if_any("Invalid webhook endpoint")
    return {"name": data.name, "url": data.url, "event_types": [t for t in EVENT_TYPES if t in data.event_types],
            "project_id": project_id, "enabled": data.enabled}


def create_endpoint(user: User, data: EndpointIn) -> tuple[WebhookEndpoint, str]:
    """Create an endpoint; returns it and its signing secret — the only time the secret is shown. Commits."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    secret = new_secret()
    endpoint = WebhookEndpoint(secret_sealed=secrets_box.seal(secret), **_fields(user, data))
    db.session.add(endpoint)
    db.session.commit()
    return endpoint, secret


def _editable(user: User, endpoint_id) -> WebhookEndpoint:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    endpoint = get_endpoint(user, endpoint_id)
    if not can_edit_endpoint(user, endpoint):
        raise Forbidden(f"Webhook endpoint {endpoint.id} is global: only the platform operator can change it.")
    return endpoint


def update_endpoint(user: User, endpoint_id, data: EndpointIn) -> WebhookEndpoint:
    """Change name, URL (checked again), subscriptions, project, enabled; the secret stays. Commits."""
    endpoint = _editable(user, endpoint_id)
    for key, value in _fields(user, data).items():
        setattr(endpoint, key, value)
    db.session.commit()
    return endpoint


def set_endpoint_enabled(user: User, endpoint_id, enabled: bool) -> WebhookEndpoint:
    """Disabled endpoints get no new deliveries and their pending ones wait. Commits."""
    endpoint = _editable(user, endpoint_id)
    endpoint.enabled = bool(enabled)
    db.session.commit()
    return endpoint


# --- queueing (the outbox consumer; the caller commits) --------------------------------------

def _row(endpoint_id: int, event: OutboxEvent, source: str) -> dict:
    return {"id": str(uuid.uuid4()), "endpoint_id": endpoint_id, "event_id": event.id, "source": source,
            "event_type": event.event_type, "payload": event.payload or {}, "status": DeliveryStatus.PENDING.value,
            "attempts": 0, "next_attempt_at": utcnow(), "created_at": event.created_at or utcnow()}


def _insert_ignoring_duplicates(rows: list[dict]) -> int:
    """Insert deliveries; one that exists for (endpoint, event, source) is skipped. Returns how many were new."""
    if not rows:
        return 0
    dialect = db.session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        stmt = insert(WebhookDelivery).values(rows).on_conflict_do_nothing(
            index_elements=["endpoint_id", "event_id", "source"]).returning(WebhookDelivery.id)
        return len(db.session.execute(stmt).all())  # RETURNING lists only the rows inserted
    new = 0  # other databases: check first
    for row in rows:
        if db.session.execute(select(WebhookDelivery.id).where(
                WebhookDelivery.endpoint_id == row["endpoint_id"], WebhookDelivery.event_id == row["event_id"],
                WebhookDelivery.source == row["source"])).first() is None:
            db.session.add(WebhookDelivery(**row))
            new += 1
    return new


def queue_for_subscriptions(event: OutboxEvent) -> int:
    """One delivery per enabled endpoint subscribed to this event type, of the event's project or
    global. Idempotent. Returns how many were queued now."""
    project_id = (event.payload or {}).get("project_id")
    endpoints = db.session.execute(select(WebhookEndpoint).where(
        WebhookEndpoint.enabled.is_(True),
        or_(WebhookEndpoint.project_id.is_(None), WebhookEndpoint.project_id == project_id))).scalars()
    return _insert_ignoring_duplicates([_row(e.id, event, "subscription") for e in endpoints
                                        if event.event_type in (e.event_types or [])])


def queue_delivery(endpoint_id: int, event: OutboxEvent, source: str) -> WebhookDelivery | None:
    """Queue this event for one endpoint (a rule's webhook action); None when the endpoint is
    missing or disabled. Idempotent: the existing delivery is returned."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not endpoint.enabled:
        return None
    _insert_ignoring_duplicates([_row(endpoint.id, event, source)])
    return db.session.execute(select(WebhookDelivery).where(
        WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.event_id == event.id,
        WebhookDelivery.source == source)).scalar_one()


# --- sending ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Claim:
    id: str
    attempts: int
    url: str
    secret_sealed: str
    body: str


def backoff_seconds(attempts: int) -> int:
    return min(current_app.config["WEBHOOK_RETRY_SECONDS"] * 2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS)


def _body(delivery: WebhookDelivery) -> str:
    return json.dumps({"type": delivery.event_type, "timestamp": delivery.created_at.isoformat(),
                       "data": delivery.payload or {}}, separators=(",", ":"), sort_keys=True, default=str)


def _claim(limit: int, now: datetime) -> list[_Claim]:
    """Take due deliveries: bump attempts and push next_attempt_at past the send (a lease), commit."""
    max_attempts = current_app.config["WEBHOOK_MAX_ATTEMPTS"]
    lease = timedelta(seconds=current_app.config["WEBHOOK_TIMEOUT_SECONDS"] * 2 + 30)
    rows = db.session.execute(
        select(WebhookDelivery).join(WebhookEndpoint).where(
            WebhookDelivery.status == DeliveryStatus.PENDING.value, WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True))
        .order_by(WebhookDelivery.next_attempt_at).limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
        .execution_options(populate_existing=True)).scalars().all()  # the locked row's values, not a stale copy
    claims = []
    for delivery in rows:
        if delivery.attempts >= max_attempts:  # its last attempt's sender died mid-lease
            delivery.status, delivery.next_attempt_at = DeliveryStatus.DEAD.value, None
            delivery.last_error = delivery.last_error or "the last attempt never reported back"
            continue
        delivery.attempts += 1
        delivery.next_attempt_at = now + lease
        claims.append(_Claim(delivery.id, delivery.attempts, delivery.endpoint.url, delivery.endpoint.secret_sealed,
                             _body(delivery)))
    db.session.commit()
    return claims


def _error_text(exc: requests.RequestException) -> str:
    if isinstance(exc, requests.Timeout):
        return f"timed out after {current_app.config['WEBHOOK_TIMEOUT_SECONDS']} s"
    errno = re.search(r"\[Errno -?\d+\] [^'\")\]]+", str(exc))
    return f"{type(exc).__name__}: {errno.group(0) if errno else 'request failed'}"


def _send(claim: _Claim) -> tuple[int | None, str | None, bool]:
    """POST one delivery. Returns (status code, error, final) — final errors are not retried."""
    refused, address = resolve_target(claim.url)
    if refused:
        return None, f"target refused: {refused}", True
    try:
        secret = secrets_box.unseal(claim.secret_sealed)
    except ValueError as exc:  # SECRET_KEY changed: no retry can sign this
        return None, str(exc), True
    timestamp = int(time.time())
    headers = {"content-type": "application/json", "user-agent": "Fieldflow-Webhooks/1",
               "webhook-id": claim.id, "webhook-timestamp": str(timestamp),
               "webhook-signature": sign(secret, claim.id, timestamp, claim.body)}
    try:
        with pinned_session(address) as session:
            response = session.post(claim.url, data=claim.body.encode(), headers=headers, allow_redirects=False,
                                    timeout=current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    except requests.RequestException as exc:
        return None, _error_text(exc), False
    if 200 <= response.status_code < 300:
        return response.status_code, None, False
    note = " (redirects are not followed)" if 300 <= response.status_code < 400 else ""
    return response.status_code, f"HTTP {response.status_code}{note}: {response.text[:200]}".rstrip(": "), False


def _finish(claim: _Claim, code: int | None, error: str | None, final: bool, duration_ms: int,
            now: datetime) -> str:
    number = db.session.execute(select(func.count()).select_from(WebhookAttempt).where(
        WebhookAttempt.delivery_id == claim.id)).scalar_one() + 1
    db.session.add(WebhookAttempt(delivery_id=claim.id, number=number, status_code=code, error=error,
                                  duration_ms=duration_ms, at=now))
    if error is None:
        outcome, values = "delivered", {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now,
                                        "next_attempt_at": None, "last_error": None}
    elif final or claim.attempts >= current_app.config["WEBHOOK_MAX_ATTEMPTS"]:
        outcome, values = "dead", {"status": DeliveryStatus.DEAD.value, "next_attempt_at": None, "last_error": error}
    else:
        outcome, values = "retrying", {"next_attempt_at": now + timedelta(seconds=backoff_seconds(claim.attempts)),
                                       "last_error": error}
    # Only the holder of this lease writes the outcome (a redelivery meanwhile starts a new round).
    db.session.execute(update(WebhookDelivery).where(
        WebhookDelivery.id == claim.id, WebhookDelivery.attempts == claim.attempts,
        WebhookDelivery.status == DeliveryStatus.PENDING.value).values(**values)
        .execution_options(synchronize_session=False))
    db.session.commit()
    log.info("webhook delivery %s attempt %s: %s%s", claim.id, number, outcome, f" ({error})" if error else "")
    return outcome


def deliver_due(limit: int = 50, now: datetime | None = None) -> dict:
    """Send the due deliveries (commits). Returns counts {"delivered", "retrying", "dead"}."""
    counts = {"delivered": 0, "retrying": 0, "dead": 0}
    for claim in _claim(limit, now or utcnow()):
        started = time.monotonic()
        code, error, final = _send(claim)
        duration = int((time.monotonic() - started) * 1000)
        counts[_finish(claim, code, error, final, duration, now or utcnow())] += 1
    if any(counts.values()):
        count_many("webhook_deliveries_total", [({"status": k}, v) for k, v in counts.items() if v])
    return counts


# --- the delivery log -------------------------------------------------------------------------

def deliveries_query(user: User, status: str | None = None, endpoint_id: int | None = None):
    """Deliveries this user sees, newest first: those to their projects' endpoints, and those of their
    projects' events to global endpoints (the platform operator sees every global delivery)."""
    scope = project_scope(user)
    global_endpoint = WebhookEndpoint.project_id.is_(None)
    if not user.is_platform_operator:
        global_endpoint = and_(global_endpoint, WebhookDelivery.payload["project_id"].as_integer().in_(scope))
    stmt = select(WebhookDelivery).join(WebhookEndpoint).where(
        or_(WebhookEndpoint.project_id.in_(scope), global_endpoint))
    if status is not None:
        stmt = stmt.where(WebhookDelivery.status == status)
    if endpoint_id is not None:
        stmt = stmt.where(WebhookDelivery.endpoint_id == endpoint_id)
    return stmt.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)


def get_delivery(user: User, delivery_id: str) -> WebhookDelivery:
    delivery = db.session.execute(deliveries_query(user).where(WebhookDelivery.id == str(delivery_id))) \
        .scalar_one_or_none()
    if delivery is None:
        raise NotFound(f"No webhook delivery {delivery_id}")
    return delivery


def delivery_attempts(delivery: WebhookDelivery) -> list[WebhookAttempt]:
    return list(db.session.execute(select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery.id)
                                   .order_by(WebhookAttempt.number)).scalars())


def redeliver(user: User, delivery_id: str) -> WebhookDelivery:
    """Send a dead or delivered message again (admins): back to pending, due now, a fresh round of
    attempts; receivers see the same webhook-id. Commits."""
    if not user.is_admin:
        raise Forbidden("Only an admin can redeliver a webhook.")
    delivery = get_delivery(user, delivery_id)
    if delivery.status == DeliveryStatus.PENDING.value:
        raise Conflict(f"Delivery {delivery.id} is already pending.")
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING.value, 0, utcnow()
    delivery.last_error, delivery.delivered_at = None, None
    db.session.commit()
    return delivery
