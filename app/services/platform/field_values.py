"""Typed values read from JSON or form input, a bad one recorded on `FieldErrors` under its field name
(so one ValidationFailed names every bad field)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone

from app.services.platform.errors import FieldErrors


def parse_datetime(raw, field: str, errors: FieldErrors) -> datetime | None:
    """An ISO 8601 date or date-time; naive values are taken as UTC."""
    if raw in (None, ""):
        return None
    try:
        text = str(raw).strip()
        parsed = (datetime.combine(date.fromisoformat(text), time(), timezone.utc) if len(text) == 10
                  else datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        errors.add(field, f"must be an ISO 8601 date or time like 2026-03-01T09:30:00Z, got {raw!r}")
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
