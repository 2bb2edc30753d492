"""Editing SLA configs and business calendars (pages and /api/workflow/sla-configs).

Configs belong to a project, or to every project (`project_id` NULL: only the platform operator changes those,
since they apply to other projects' tasks). Calendars are shared; anyone with MANAGE_SLA edits them.
A change applies to clocks started afterwards: a running clock keeps the target and calendar it
started with.
"""
from __future__ import annotations

import re
from datetime import date, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays as holidays_lib
from sqlalchemy import select

from app.extensions import db
from app.models import BusinessCalendarConfig, Permission, SlaConfig, User
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.schemas.sla import SlaConfigChanges, SlaConfigIn
from app.services.platform.access import parse_int, project_scope, resolve_project
from app.services.platform.errors import FieldErrors, Forbidden, NotFound

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


# --- configs ----------------------------------------------------------------------------------------

def list_configs(user: User, active_only: bool = False) -> list[SlaConfig]:
    """Global configs and those of the user's projects, global first (only enabled ones if `active_only`)."""
    stmt = select(SlaConfig).where((SlaConfig.project_id.is_(None)) | SlaConfig.project_id.in_(project_scope(user)))
    if active_only:
        stmt = stmt.where(SlaConfig.enabled.is_(True))
    return list(db.session.execute(
        stmt.order_by(SlaConfig.project_id.is_not(None), SlaConfig.project_id, SlaConfig.service_area,
                      SlaConfig.task_type)).scalars())


def get_config(user: User, config_id: int) -> SlaConfig:
    """A config the user can see (global, or of one of the user's projects), else NotFound."""
    config = db.session.get(SlaConfig, config_id)
    if config is None or (config.project_id is not None and config.project_id not in user.project_ids):
        raise NotFound(f"No SLA config {config_id}")
    return config


def editable_config(user: User, config_id: int) -> SlaConfig:
    """A config this user may change (Forbidden for a global one unless the platform operator)."""
    require_permission(user, Permission.MANAGE_SLA)
    config = get_config(user, config_id)
    if not may_edit(user, config):
        raise Forbidden("Only the platform operator can change the targets every project uses; "
                        "create a config for your project to override them.")
    return config


def may_edit(user: User, config: SlaConfig | None) -> bool:
    if not user.has_permission(Permission.MANAGE_SLA):
        return False
    return config is None or config.project_id is not None or user.is_platform_operator


def config_form(config: SlaConfig) -> dict:
    """A config's values as the form and a change take them."""
    return {"name": config.name, "project_id": config.project_id, "service_area": config.service_area,
            "task_type": config.task_type, "response_minutes": config.response_minutes,
            "resolution_minutes": config.resolution_minutes, "warning_percent": config.warning_percent,
            "pause_states": list(config.pause_states or []), "calendar_id": config.calendar_id,
            "enabled": config.enabled}


def _config_project(user: User, values: dict, errors: FieldErrors) -> int | None:
    """`project_id` null or "*" means every project (the platform operator only); absent, the user's only one."""
    if "project_id" in values and values["project_id"] in (None, "*"):
        if not user.is_platform_operator:
            errors.add("project_id", "only the platform operator can set targets for every project; choose your project")
        return None
    return resolve_project(user, values.get("project_id"), errors)


def save_config(user: User, data: SlaConfigIn | SlaConfigChanges, config_id: int | None = None) -> SlaConfig:
    """Create a config (`data` a SlaConfigIn), or change one: the fields `data` gives over its current
    values (a PATCH sends only changes; the edit form sends them all). Commits. Errors name each field."""
    require_permission(user, Permission.MANAGE_SLA)
    config = editable_config(user, config_id) if config_id is not None else None
    if config is None:
        values = data.model_dump()
        if "project_id" not in data.model_fields_set:
            del values["project_id"]  # absent: the user's project
    else:
        values = {**config_form(config), **data.model_dump(exclude_unset=True)}
    errors = FieldErrors()
    project_id = _config_project(user, values, errors)
    area, task_type = values["service_area"], values["task_type"]
    response, resolution = values["response_minutes"], values["resolution_minutes"]
    if response and resolution and response > resolution:
        errors.add("response_minutes", "must not be longer than the resolution target")
    if values["calendar_id"] is not None and db.session.get(BusinessCalendarConfig, values["calendar_id"]) is None:
        errors.add("calendar_id", f"calendar {values['calendar_id']} does not exist")
    if not errors.errors.get("project_id"):
        clash = db.session.execute(select(SlaConfig).where(
            SlaConfig.project_id.is_(None) if project_id is None else SlaConfig.project_id == project_id,
            SlaConfig.service_area == area, SlaConfig.task_type == task_type,
            SlaConfig.id != (config.id if config else -1))).scalars().first()
        if clash is not None:
            errors.add("task_type", f"{clash.name!r} already sets targets for service area {area!r} and task type "
                                    f"{task_type!r} here; edit it instead")
    errors.raise_if_any("Invalid SLA config")
    if config is None:
        config = SlaConfig()
        db.session.add(config)
    config.name, config.project_id, config.service_area, config.task_type = values["name"], project_id, area, task_type
    config.response_minutes, config.resolution_minutes = response, resolution
    config.warning_percent, config.pause_states = values["warning_percent"], list(values["pause_states"])
    config.calendar_id, config.enabled = values["calendar_id"], values["enabled"]
    db.session.flush()
    audit.record(user, "update" if config_id is not None else "create", "sla_config", config.id, config_form(config))
    db.session.commit()
    return config


# --- calendars --------------------------------------------------------------------------------------

def list_calendars() -> list[BusinessCalendarConfig]:
    return list(db.session.execute(select(BusinessCalendarConfig).order_by(BusinessCalendarConfig.name)).scalars())


def get_calendar(calendar_id) -> BusinessCalendarConfig:
    row_id = parse_int(calendar_id, FieldErrors(), "id")
    calendar = db.session.get(BusinessCalendarConfig, row_id) if row_id is not None else None
    if calendar is None:
        raise NotFound(f"No business calendar {calendar_id}")
    return calendar


def calendar_form(calendar: BusinessCalendarConfig) -> dict:
    return {"name": calendar.name, "timezone": calendar.timezone, "work_start": calendar.work_start,
            "work_end": calendar.work_end, "workdays": list(calendar.workdays or []), "country": calendar.country or "",
            "subdivision": calendar.subdivision or "", "extra_holidays": list(calendar.extra_holidays or [])}


def _dates(raw, errors: FieldErrors) -> list[str]:
    items = raw if isinstance(raw, list) else re.split(r"[,\s]+", str(raw or ""))
    out, bad = set(), []
    for item in (str(i).strip() for i in items):
        if not item:
            continue
        try:
            out.add(date.fromisoformat(item).isoformat())
        except ValueError:
            bad.append(item)
    if bad:
        errors.add("extra_holidays", f"must be dates like 2026-12-24; not {', '.join(bad[:5])}")
    return sorted(out)


def save_calendar(user: User, data: dict, calendar_id=None) -> BusinessCalendarConfig:
    """Create or update a business calendar (time zone checked with zoneinfo, country with the
    `holidays` package). Commits."""
    require_permission(user, Permission.MANAGE_SLA)
    calendar = get_calendar(calendar_id) if calendar_id is not None else None
    errors = FieldErrors()
    name = errors.text(data, "name", 120)
    if name and db.session.execute(select(BusinessCalendarConfig.id).where(
            BusinessCalendarConfig.name == name, BusinessCalendarConfig.id != (calendar.id if calendar else -1))).first():
        errors.add("name", "is already used by another calendar")
    tz = str(data.get("timezone") or "").strip()
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        errors.add("timezone", f"is not a known time zone (e.g. Africa/Nairobi, Europe/Berlin, UTC), got {tz!r}")
    start, end = (str(data.get(f) or "").strip() for f in ("work_start", "work_end"))
    for field, value in (("work_start", start), ("work_end", end)):
        if not _HHMM.match(value):
            errors.add(field, f"must be a time like 08:00, got {value!r}")
    if _HHMM.match(start) and _HHMM.match(end) and time.fromisoformat(end) <= time.fromisoformat(start):
        errors.add("work_end", "must be after the start of the working day")
    raw_days = data.get("workdays") or []
    workdays = set()
    for raw in (raw_days if isinstance(raw_days, list) else [raw_days]):
        day = parse_int(raw, errors, "workdays", minimum=0)
        if day is not None and day > 6:
            errors.add("workdays", "must be weekday numbers 0 (Monday) to 6 (Sunday)")
        elif day is not None:
            workdays.add(day)
    if not workdays and not errors.errors.get("workdays"):
        errors.add("workdays", "choose at least one working day")
    country = str(data.get("country") or "").strip().upper() or None
    subdivision = str(data.get("subdivision") or "").strip().upper() or None
    supported = holidays_lib.list_supported_countries()
    if country and country not in supported:
        errors.add("country", f"is not a country code the holidays package knows (e.g. KE, DE, US), got {country!r}")
    elif subdivision and not country:
        errors.add("subdivision", "needs a country")
    elif subdivision and subdivision not in supported.get(country, []):
        errors.add("subdivision", f"is not a subdivision of {country}; known: {', '.join(supported[country][:12]) or 'none'}")
    extra = _dates(data.get("extra_holidays"), errors)
    errors.raise_if_any("Invalid business calendar")
    if calendar is None:
        calendar = BusinessCalendarConfig()
        db.session.add(calendar)
    calendar.name, calendar.timezone, calendar.work_start, calendar.work_end = name, tz, start, end
    calendar.workdays, calendar.country, calendar.subdivision = sorted(workdays), country, subdivision
    calendar.extra_holidays = extra
    db.session.flush()
    audit.record(user, "update" if calendar_id is not None else "create", "business_calendar", calendar.id,
                 calendar_form(calendar))
    db.session.commit()
    return calendar
