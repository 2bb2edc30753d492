"""SLA configs (/api/workflow/sla-configs and the config form on /sla/configs): what creating and
changing one accepts, the list filter, and what the API answers; and a business calendar (its form on
/sla/calendars)."""
from __future__ import annotations

import re
from datetime import date, time
from typing import Annotated, Literal

import holidays as holidays_lib
from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationInfo, WithJsonSchema, field_validator

from app.schemas.parsing import AliasedInput, Input
from app.schemas.types import YEARS, OptionalId, ProjectScope, Slug, Text, TimeZone
from app.services.orchestration.business_calendar import END_OF_DAY, clock_time
from app.services.orchestration.state_machines import DEFAULT_PAUSE_STATES, TASK

PAUSABLE_STATES = tuple(TASK.active)  # a terminal state stops the clock: there is nothing to pause
MAX_TARGET = 525_600  # a year of minutes: more is a typo


def _pause_states(raw):
    """A list of pausable states; a form's "blocked, new" (or one checkbox value) read as a list."""
    items = [part for part in raw.replace(",", " ").split() if part] if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ValueError(f"must be a list of states among {', '.join(PAUSABLE_STATES)}")
    bad = [item for item in items if item not in PAUSABLE_STATES]
    if bad:
        raise ValueError(f"must be among {', '.join(PAUSABLE_STATES)}; got {', '.join(bad)}")
    return list(dict.fromkeys(items))


def _unset(**options):
    """A field a change may leave out (left out: unchanged); the document shows no default for it."""
    return Field(None, json_schema_extra=lambda schema: schema.pop("default", None), **options)


Name = Text(160, min_length=1)
Minutes = Annotated[int, Field(ge=1, le=MAX_TARGET)]
Percent = Annotated[int, Field(ge=1, le=100)]
PauseStates = Annotated[list[str], BeforeValidator(_pause_states),
                        WithJsonSchema({"type": "array", "items": {"type": "string", "enum": list(PAUSABLE_STATES)},
                                        "uniqueItems": True})]
AreaScope = Slug(80, star=True)
TypeScope = Slug(40, star=True)
PROJECT = 'Absent: your project (required when you have several). null or "*": every project (administrators only)'


class SlaConfigIn(AliasedInput):
    """A new SLA config; also the config form, new or edited. The seed's `target_minutes` and `active`
    are `resolution_minutes` and `enabled`."""

    aliases = {"resolution_minutes": ("target_minutes",), "enabled": ("active",)}

    name: Name | None = Field(None, description="Default: the service area and task type")
    project_id: ProjectScope = Field(None, description=PROJECT)
    service_area: AreaScope = Field("*", description='"*" for any')
    task_type: TypeScope = Field("*", description='"*" for any')
    response_minutes: Minutes | None = Field(None, description="Minutes until work starts (optional)")
    resolution_minutes: Minutes
    warning_percent: Percent = 80
    pause_states: PauseStates = Field(default_factory=lambda: list(DEFAULT_PAUSE_STATES))
    calendar_id: OptionalId = Field(None, description="null: the default calendar")
    enabled: bool = True


class SlaConfigChanges(AliasedInput):
    """A change to an SLA config (PATCH): the fields given change, the others stay."""

    aliases = SlaConfigIn.aliases

    name: Name = _unset()
    project_id: ProjectScope = _unset(description=PROJECT)
    service_area: AreaScope = _unset()
    task_type: TypeScope = _unset()
    response_minutes: Minutes | None = _unset()
    resolution_minutes: Minutes = _unset()
    warning_percent: Percent = _unset()
    pause_states: PauseStates = _unset()
    calendar_id: OptionalId = _unset()
    enabled: bool = _unset()


class SlaConfigFilters(Input):
    active_only: bool = Field(False, description="Only enabled configs")


class SlaConfigOut(BaseModel):
    id: int
    name: str
    project_id: int | None
    service_area: str
    task_type: str
    response_minutes: int | None
    resolution_minutes: int
    warning_percent: int
    pause_states: list[str]
    calendar_id: int | None
    enabled: bool
    calendar: str | None
    target_minutes: int = Field(description="The seed's name of resolution_minutes")
    active: bool = Field(description="The seed's name of enabled")
    scope: Literal["global", "project"]
    updated_at: str | None


class SlaConfigList(BaseModel):
    success: bool
    items: list[SlaConfigOut]


class SlaConfigSaved(BaseModel):
    success: bool
    message: str
    sla_config: SlaConfigOut


# --- business calendars ------------------------------------------------------------------------------

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MAX_EXTRA_HOLIDAYS = 366
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock_time(value: str) -> str:
    if not _HHMM.match(value) and value != END_OF_DAY:
        raise ValueError(f"must be a time like 08:00 (24:00: the end of the day), got {value!r}")
    return value


def _workdays(raw) -> list[int]:
    """Weekday numbers (0 Monday … 6 Sunday), as a list or a form's checkbox values; sorted, once each."""
    items = raw if isinstance(raw, list) else [raw]
    days = set()
    for item in items:
        text = str(item).strip() if isinstance(item, (str, int)) and not isinstance(item, bool) else ""
        if not (text.isascii() and text.isdigit() and int(text) <= 6):
            raise ValueError("must be weekday numbers 0 (Monday) to 6 (Sunday)")
        days.add(int(text))
    if not days:
        raise ValueError("choose at least one working day")
    return sorted(days)


def _holiday_dates(raw) -> list[str]:
    """ISO dates, as a list or one text (comma, space or line separated); sorted, once each."""
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", raw) if isinstance(raw, str) else None
    if items is None or not all(isinstance(item, str) for item in items):
        raise ValueError("must be dates like 2026-12-24")
    out, bad = set(), []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            day = date.fromisoformat(item)
        except ValueError:
            bad.append(item)
            continue
        if not YEARS[0] <= day.year <= YEARS[1]:
            bad.append(item)
        else:
            out.add(day.isoformat())
    if bad:
        raise ValueError(f"must be dates like 2026-12-24; not {', '.join(b[:20] for b in bad[:5])}")
    if len(out) > MAX_EXTRA_HOLIDAYS:
        raise ValueError(f"at most {MAX_EXTRA_HOLIDAYS} dates")
    return sorted(out)


def _upper(value):
    return value.strip().upper() if isinstance(value, str) else value


def _country(value: str | None) -> str | None:
    if value and value not in holidays_lib.list_supported_countries():
        raise ValueError(f"is not a country code the holidays package knows (e.g. KE, DE, US), got {value!r}")
    return value


ClockTime = Annotated[Text(5, min_length=1), AfterValidator(_clock_time), Field(description="HH:MM, 24-hour")]


class CalendarIn(Input):
    """A business calendar, new or edited: working hours on working days in a time zone, less the
    public holidays of a country (and subdivision) and extra dates."""

    name: Text(120, min_length=1)
    timezone: TimeZone
    work_start: ClockTime
    work_end: ClockTime
    workdays: Annotated[list[int], BeforeValidator(_workdays)] = Field(description="0 Monday … 6 Sunday")
    country: Annotated[Text(8) | None, BeforeValidator(_upper), AfterValidator(_country)] = Field(
        None, description="ISO code for public holidays (the holidays package)")
    subdivision: Annotated[Text(16) | None, BeforeValidator(_upper)] = Field(None, validate_default=True)
    extra_holidays: Annotated[list[str], BeforeValidator(_holiday_dates)] = Field(
        default_factory=list, description="More days off, ISO dates")

    @field_validator("work_end")
    @classmethod
    def _after_start(cls, end: str, info: ValidationInfo) -> str:
        start = info.data.get("work_start")
        if start and clock_time(end) <= clock_time(start):
            raise ValueError("must be after the start of the working day")
        return end

    @field_validator("subdivision")
    @classmethod
    def _of_the_country(cls, subdivision: str | None, info: ValidationInfo) -> str | None:
        if not subdivision:
            return None
        if "country" not in info.data:
            return subdivision  # the country itself is refused
        country = info.data["country"]
        if not country:
            raise ValueError("needs a country")
        known = holidays_lib.list_supported_countries().get(country, [])
        if subdivision not in known:
            raise ValueError(f"is not a subdivision of {country}; known: {', '.join(known[:12]) or 'none'}")
        return subdivision
