"""The outbox console's filters (the platform operator's page of events)."""
from __future__ import annotations

from app.models import OutboxStatus
from app.schemas.common import PageFilters
from app.schemas.types import Choice, Text


class OutboxFilters(PageFilters):
    status: Choice([*(s.value for s in OutboxStatus), "all"]) = "dead"
    event_type: Text(80) | None = None  # any stored type, catalogued or not
    correlation_id: Text(64) | None = None
