"""Automation: rules run by the outbox dispatcher, what each rule did per event, alerts, and
webhook endpoints with their deliveries and attempts (DESIGN, "Automation", "Webhooks")."""
from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import Base, JSONType, UTCDateTime, utcnow
from app.models.users import User


class RuleOutcome(StrEnum):
    FIRED = "fired"            # condition matched, actions ran
    LOOP_BLOCKED = "loop_blocked"  # the event was caused by this rule (directly or up the chain)
    DEPTH_CAPPED = "depth_capped"  # the causation chain is too deep
    FANOUT_CAPPED = "fanout_capped"  # the chain already made AUTOMATION_MAX_EFFECTS tasks/alerts/deliveries
    FAILED = "failed"          # an action raised; the event is retried


class AutomationBudget(Base):
    """What one originating event's chain of rule firings has created so far (tasks, alerts, webhook
    deliveries), keyed by the chain's correlation id; bumped in the relay's transaction."""

    __tablename__ = "automation_budgets"

    chain_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    effects: Mapped[int] = mapped_column(Integer, default=0)
    capped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AutomationRule(Base):
    """When an event of `event_type` matches `condition`, run `actions` (a list of
    {"type": create_task|transition|alert|webhook, ...}). `key` marks the built-in seed triggers."""

    __tablename__ = "automation_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str | None] = mapped_column(String(60), unique=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)  # None: every project
    name: Mapped[str] = mapped_column(String(160))
    description: Mapped[str] = mapped_column(Text, default="")
    event_type: Mapped[str] = mapped_column(String(80), index=True)
    condition: Mapped[dict] = mapped_column(JSONType, default=dict)
    actions: Mapped[list] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class RuleExecution(Base):
    """What one rule did for one event. Unique (rule, event): the consumer's dedupe row, written in
    the same transaction as the rule's side effects, so a redelivered event cannot fire twice."""

    __tablename__ = "rule_executions"
    __table_args__ = (UniqueConstraint("rule_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("automation_rules.id", ondelete="CASCADE"))  # unique (rule_id, event_id)
    event_id: Mapped[str] = mapped_column(String(36), index=True)
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict] = mapped_column(JSONType, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    rule: Mapped[AutomationRule] = relationship()


class Alert(Base):
    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_project_created", "project_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"))
    level: Mapped[str] = mapped_column(String(16), default="info")  # info, warning, critical
    title: Mapped[str] = mapped_column(String(255))
    message: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(60), default="")  # "rule:<id>", "sla"
    event_id: Mapped[str | None] = mapped_column(String(36), index=True)
    entity_type: Mapped[str | None] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    acknowledged_by: Mapped[User | None] = relationship()


class WebhookEndpoint(Base):
    """A receiver of signed event deliveries. `event_types` subscribes it to events directly; rules
    can also call it. The signing secret is stored sealed (secrets_box) and never shown again."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    url: Mapped[str] = mapped_column(String(1000))
    secret_sealed: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list] = mapped_column(JSONType, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class WebhookDelivery(Base):
    """One message to one endpoint (its id is the `webhook-id` header receivers dedupe on)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", "source"),
        Index("ix_webhook_deliveries_status_next", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str] = mapped_column(String(36))
    source: Mapped[str] = mapped_column(String(60), default="subscription")  # or "rule:<id>"
    event_type: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=DeliveryStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    endpoint: Mapped[WebhookEndpoint] = relationship()


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[str] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
