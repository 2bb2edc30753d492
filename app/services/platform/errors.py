"""Domain errors raised by services; `app.errors` maps them to HTTP for pages, partials and JSON."""
from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "error"
    title = "Request failed"

    def __init__(self, message: str, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationFailed(DomainError):
    """Bad input. `details` maps each field name to a list of messages."""

    status = 400
    code = "validation_failed"
    title = "Invalid input"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "permission_denied"
    title = "Forbidden"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class InvalidTransition(DomainError):
    """A state change the transition table does not allow from the current state (HTTP 400)."""

    status = 400
    code = "invalid_transition"
    title = "Invalid state change"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    title = "Too many attempts"

    def __init__(self, message: str, retry_after: int):
        super().__init__(message, {"retry_after": retry_after})
        self.retry_after = retry_after


class FieldErrors:
    """Collects per-field messages, then raises one ValidationFailed naming every bad field."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.errors.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, summary: str = "Invalid input") -> None:
        if self.errors:
            named = "; ".join(f"{field}: {msgs[0]}" for field, msgs in self.errors.items())
            raise ValidationFailed(f"{summary} — {named}", self.errors)


def json_object(data) -> dict:
    """A request body decoded from JSON, if it is an object; else ValidationFailed naming `body`."""
    if not isinstance(data, dict):
        raise ValidationFailed("The request body must be a JSON object.", {"body": ["must be a JSON object"]})
    return data
