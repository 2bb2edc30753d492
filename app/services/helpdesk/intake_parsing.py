"""Reading a ticket payload as senders write it (the seed's field names and their variants)."""
from __future__ import annotations

from datetime import timedelta

from app.models import utcnow
from app.services.platform.errors import FieldErrors
from app.services.platform.field_values import parse_datetime

PRIORITIES = ("low", "medium", "high", "critical")
PRIORITY_ALIASES = {"urgent": "critical", "normal": "medium"}
# Due date when the sender gives none: received time plus this, by priority.
DUE_AFTER = {"critical": timedelta(days=1), "high": timedelta(days=3), "medium": timedelta(days=7),
             "low": timedelta(days=14)}
ID_KEYS = ("external_id", "ticket_number", "ticket_id", "id", "original_ticket_id")
TEXT_FIELDS = {  # field: (accepted keys, max length, required)
    "subject": (("subject", "title"), 255, True),
    "description": (("description", "body"), 20000, False),
    "department": (("department",), 120, True),
    "category": (("category",), 120, True),
    "sub_category": (("sub_category", "subcategory"), 120, False),
}
REQUESTER_KEYS = ("requester", "requested_by", "employee", "submitted_by")
RECEIVED_KEYS = ("received_at", "submit_date", "opened_on", "created_at")


def _first(payload: dict, keys) -> object:
    for key in keys:
        if payload.get(key) not in (None, ""):
            return payload[key]
    return None


def _external_id(payload: dict, errors: FieldErrors) -> str | None:
    raw = _first(payload, ID_KEYS)
    if raw is None:
        errors.add("external_id", f"is required (one of {', '.join(ID_KEYS)})")
        return None
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        errors.add("external_id", "must be a string or a whole number")
        return None
    value = str(raw).strip()
    if not value or len(value) > 64:
        errors.add("external_id", "must be 1 to 64 characters")
        return None
    return value


def _text(payload: dict, field: str, errors: FieldErrors) -> str | None:
    keys, limit, required = TEXT_FIELDS[field]
    raw = _first(payload, keys)
    if raw is None:
        if required:
            errors.add(field, "is required")
        return None
    if not isinstance(raw, str):
        errors.add(field, "must be text")
        return None
    value = raw.strip()
    if required and not value:
        errors.add(field, "is required")
    if len(value) > limit:
        errors.add(field, f"must be at most {limit} characters")
        return None
    return value or None


def _priority(payload: dict, errors: FieldErrors) -> str:
    raw = payload.get("priority")
    if raw in (None, ""):
        return "medium"
    value = PRIORITY_ALIASES.get(str(raw).strip().lower(), str(raw).strip().lower()) if isinstance(raw, str) else None
    if value not in PRIORITIES:
        errors.add("priority", f"must be one of {', '.join(PRIORITIES)}, got {raw!r}")
        return "medium"
    return value


def _requester(payload: dict) -> str:
    raw = _first(payload, REQUESTER_KEYS)
    if isinstance(raw, dict):  # the seed sends the employee as an object
        name = " ".join(str(raw.get(k) or "").strip() for k in ("first_name", "last_name")).strip()
        raw = raw.get("full_name") or raw.get("name") or name or raw.get("username") or raw.get("email")
    return str(raw or "").strip()[:255]


def parse_ticket(payload) -> tuple[str | None, dict, dict]:
    """(external id, clean values, errors by field) for one payload; values are complete when
    there are no errors."""
    errors = FieldErrors()
    if not isinstance(payload, dict):
        errors.add("ticket", "must be a JSON object")
        return None, {}, errors.errors
    external_id = _external_id(payload, errors)
    values = {field: _text(payload, field, errors) for field in TEXT_FIELDS}
    values["description"] = values["description"] or ""
    values["priority"] = _priority(payload, errors)
    values["requester"] = _requester(payload)
    received = parse_datetime(_first(payload, RECEIVED_KEYS), "received_at", errors)
    values["received_at"] = received or utcnow()
    due = parse_datetime(payload.get("due_date") or payload.get("due_at"), "due_date", errors)
    values["due_at"] = due or values["received_at"] + DUE_AFTER[values["priority"]]
    return external_id, values, errors.errors


def best_effort(payload: dict) -> dict:
    """Column values for storing an invalid ticket so people can see it: whatever is readable."""
    def text(keys, limit):
        raw = _first(payload, keys)
        return str(raw).strip()[:limit] if raw is not None else ""

    values = {field: text(keys, limit) for field, (keys, limit, _req) in TEXT_FIELDS.items()}
    values["sub_category"] = values["sub_category"] or None
    priority = str(payload.get("priority") or "medium").strip().lower()
    values["priority"] = PRIORITY_ALIASES.get(priority, priority if priority in PRIORITIES else "medium")
    values["requester"] = _requester(payload)
    values["received_at"] = parse_datetime(_first(payload, RECEIVED_KEYS), "received_at", FieldErrors()) or utcnow()
    values["due_at"] = None
    return values
