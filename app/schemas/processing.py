"""The job engine's forms: a schedule (a process, its stored inputs and when it runs) and a DHIS2
connection. The inputs a schedule stores are checked with its process's own input model when it is
saved (`app.services.processing.schedules`)."""
from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator

from app.schemas.parsing import Input
from app.schemas.types import JsonObject, OptionalId, Text

Frequency = Literal["daily", "monthly", "yearly", "cron"]


def _json_text(value):
    """The form's inputs box holds JSON text; API callers give the object itself."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("must be a JSON object") from None


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError("is not a known time zone (e.g. Africa/Bangui, Europe/Brussels, UTC)") from None
    return value


def _tri_state(value):
    """A form's select: "" is the process's default, "on"/"off" (or true/false) a choice."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("", "default"):
            return None
        if lowered in ("on", "true", "1"):
            return True
        if lowered in ("off", "false", "0"):
            return False
    return value


class BackfillIn(Input):
    """A backfill of a schedule: one run per period starting between `start` and `end`."""

    start: date = Field(title="From")
    end: date = Field(title="To")


class ScheduleIn(Input):
    """A schedule as its form (or a caller) gives it. Inputs may hold `{period_start}` / `{period_end}`."""

    project_id: OptionalId = Field(default=None, description="Needed when you belong to several projects")
    name: Text(160, min_length=1)
    process_id: Text(80, min_length=1)
    inputs: Annotated[JsonObject, BeforeValidator(_json_text)] = Field(default_factory=dict)
    frequency: Frequency = "daily"
    cron: Text(120) | None = Field(default=None, validate_default=True, description="When the frequency is cron")
    timezone: Annotated[Text(64, min_length=1), AfterValidator(_time_zone)] = "UTC"
    enabled: bool = False
    catch_up: Annotated[bool | None, BeforeValidator(_tri_state)] = Field(
        default=None, description="Run missed periods (paused, or no dispatcher) since the last successful one; "
                                  "default: the process's (on for EO imports)")
    description: Text(2000) = ""

    @field_validator("cron")
    @classmethod
    def _cron(cls, value, info: ValidationInfo):
        if info.data.get("frequency") == "cron" and not (value and croniter.is_valid(value)):
            raise ValueError("is not a valid cron expression (minute hour day month weekday)")
        return value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials; use the username and password fields")
    return value.rstrip("/")


class ConnectionRef(Input):
    """Which connection the connections page edits (`?edit=`) or a posted form saves (`id`; none: a new one)."""

    edit: OptionalId = None
    id: OptionalId = None


class Dhis2ConnectionIn(Input):
    """A DHIS2 connection as the administrators' form gives it; an empty password keeps the stored one."""

    project_id: OptionalId = None
    name: Text(120, min_length=1)
    url: Annotated[Text(500, min_length=1), AfterValidator(_http_url)]
    username: Text(120, min_length=1)
    password: Text(1000, strip=False) = ""
