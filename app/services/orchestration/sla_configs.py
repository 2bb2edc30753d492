"""Editing SLA configs and business calendars (pages and /api/workflow/sla-configs).

Configs belong to a project, or to every project (`project_id` NULL: only the platform operator changes those,
since they apply to other projects' tasks). Calendars are shared; anyone with MANAGE_SLA edits them.
A change applies to clocks started afterwards: a running clock keeps the target and calendar it
started with.
"""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import BusinessCalendarConfig, Permission, SlaConfig, User
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.schemas.sla import CalendarIn, SlaConfigChanges, SlaConfigIn
from app.services.platform.access import project_scope, resolve_scope
from app.services.platform.errors import FieldErrors, Forbidden, NotFound


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
    project_id = resolve_scope(user, values.get("project_id"), "project_id" in values, errors)
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
    name = values["name"] or f"{area} / {task_type}"
    config.name, config.project_id, config.service_area, config.task_type = name, project_id, area, task_type
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


def get_calendar(calendar_id: int) -> BusinessCalendarConfig:
    calendar = db.session.get(BusinessCalendarConfig, calendar_id)
    if calendar is None:
        raise NotFound(f"No business calendar {calendar_id}")
    return calendar


def calendar_form(calendar: BusinessCalendarConfig) -> dict:
    return {"name": calendar.name, "timezone": calendar.timezone, "work_start": calendar.work_start,
            "work_end": calendar.work_end, "workdays": list(calendar.workdays or []), "country": calendar.country or "",
            "subdivision": calendar.subdivision or "", "extra_holidays": list(calendar.extra_holidays or [])}


def save_calendar(user: User, data: CalendarIn, calendar_id: int | None = None) -> BusinessCalendarConfig:
    """Create or update a business calendar (its name unique). Commits."""
    require_permission(user, Permission.MANAGE_SLA)
    calendar = get_calendar(calendar_id) if calendar_id is not None else None
    errors = FieldErrors()
    if db.session.execute(select(BusinessCalendarConfig.id).where(
            BusinessCalendarConfig.name == data.name, BusinessCalendarConfig.id != (calendar.id if calendar else -1))).first():
        errors.add("name", "is already used by another calendar")
    errors.raise_if_any("Invalid business calendar")
    if calendar is None:
        calendar = BusinessCalendarConfig()
        db.session.add(calendar)
    for key, value in data.model_dump().items():
        setattr(calendar, key, value)
    db.session.flush()
    audit.record(user, "update" if calendar_id is not None else "create", "business_calendar", calendar.id,
                 calendar_form(calendar))
    db.session.commit()
    return calendar
