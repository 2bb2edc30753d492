"""What the SLA pages show and do for one user: the at-risk and breached lists, configs and business
calendars with their forms, and saving those forms. Changing configs and calendars needs MANAGE_SLA:
a form is refused (Forbidden) to whoever may not submit it. Each function returns plain values for
the template."""
from __future__ import annotations

from dataclasses import dataclass

from flask_sqlalchemy.pagination import Pagination

from app.models import BusinessCalendarConfig, Permission, Project, SlaConfig, User
from app.schemas.parsing import validate_data
from app.schemas.sla import PAUSABLE_STATES, WEEKDAYS, CalendarIn, SlaConfigIn
from app.services.orchestration import sla_configs as svc
from app.services.orchestration import sla_reports
from app.services.orchestration.sla import DEFAULT_CALENDAR_NAME
from app.services.orchestration.state_machines import DEFAULT_PAUSE_STATES
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.paging import page_of

PER_PAGE = 50
NEW_CALENDAR = {"timezone": "UTC", "work_start": "08:00", "work_end": "17:00", "workdays": [0, 1, 2, 3, 4]}


# --- at risk / breached ---------------------------------------------------------------------------

@dataclass
class RecordsPage:
    page: Pagination
    rows: list[dict]


def records_page(user: User, which: str, page: int) -> RecordsPage:
    """One page (50) of the open clocks of the user's projects that are at risk or breached, due first,
    with their tasks."""
    listing = page_of(sla_reports.records_query(user, which), page, PER_PAGE)
    return RecordsPage(listing, sla_reports.record_rows(listing.items))


# --- configs ----------------------------------------------------------------------------------------

@dataclass
class ConfigsPage:
    configs: list[SlaConfig]
    editable: set[int]
    can_create: bool


@dataclass
class ConfigForm:
    config: SlaConfig | None
    form: dict
    errors: dict
    calendars: list[BusinessCalendarConfig]
    pausable: tuple[str, ...]
    projects: list[Project]
    may_global: bool


@dataclass
class SavedConfig:
    """A form submission: the saved config, or the form again with its errors."""

    config: SlaConfig | None = None
    form: ConfigForm | None = None


def configs_page(user: User) -> ConfigsPage:
    """Global configs and those of the user's projects; which ones the user may edit, and whether they
    may create one."""
    configs = svc.list_configs(user)
    return ConfigsPage(configs, {c.id for c in configs if svc.may_edit(user, c)},
                       user.has_permission(Permission.MANAGE_SLA))


def _config_form(user: User, config: SlaConfig | None, form: dict, errors: dict | None = None) -> ConfigForm:
    return ConfigForm(config, form, errors or {}, svc.list_calendars(), PAUSABLE_STATES, user.projects,
                      user.is_platform_operator)


def config_form(user: User, config_id: int | None = None, initial: dict | None = None) -> ConfigForm:
    """The create form (config_id None: defaults in the user's first project, overridden by `initial`,
    e.g. a global config to override) or the edit form of a config the user may change."""
    require_permission(user, Permission.MANAGE_SLA)
    if config_id is not None:
        config = svc.editable_config(user, config_id)
        return _config_form(user, config, svc.config_form(config))
    defaults = {"service_area": "*", "task_type": "*", "warning_percent": 80, "pause_states": list(DEFAULT_PAUSE_STATES),
                "enabled": True, "project_id": user.project_ids[0] if user.project_ids else ""}
    return _config_form(user, None, {**defaults, **(initial or {})})


def save_config_form(user: User, form: dict, config_id: int | None = None) -> SavedConfig:
    """Create (config_id None) or update a config from the form (as posted; its "All projects" option
    is an empty project); on bad input, the form again as typed with every error named (nothing written)."""
    require_permission(user, Permission.MANAGE_SLA)
    config = svc.editable_config(user, config_id) if config_id is not None else None
    values = {k: v for k, v in form.items() if k != "csrf_token"}
    if values.get("project_id") == "":
        values["project_id"] = "*"
    try:
        data = validate_data(SlaConfigIn, values, "Invalid SLA config")
        return SavedConfig(config=svc.save_config(user, data, config_id))
    except ValidationFailed as exc:
        return SavedConfig(form=_config_form(user, config, form, exc.details))


# --- calendars --------------------------------------------------------------------------------------

@dataclass
class CalendarsPage:
    calendars: list[BusinessCalendarConfig]
    weekdays: tuple[str, ...]
    default_name: str
    can_edit: bool


@dataclass
class CalendarForm:
    calendar: BusinessCalendarConfig | None
    form: dict
    errors: dict
    weekdays: tuple[str, ...]


@dataclass
class SavedCalendar:
    """A form submission: the saved calendar, or the form again with its errors."""

    calendar: BusinessCalendarConfig | None = None
    form: CalendarForm | None = None


def calendars_page(user: User) -> CalendarsPage:
    """Every business calendar, and whether the user may change them."""
    return CalendarsPage(svc.list_calendars(), WEEKDAYS, DEFAULT_CALENDAR_NAME,
                         user.has_permission(Permission.MANAGE_SLA))


def calendar_form(user: User, calendar_id: int | None = None) -> CalendarForm:
    """The create form (calendar_id None: UTC, Monday to Friday, 08:00–17:00) or the edit form."""
    require_permission(user, Permission.MANAGE_SLA)
    if calendar_id is None:
        return CalendarForm(None, dict(NEW_CALENDAR), {}, WEEKDAYS)
    calendar = svc.get_calendar(calendar_id)
    return CalendarForm(calendar, svc.calendar_form(calendar), {}, WEEKDAYS)


def save_calendar_form(user: User, form: dict, calendar_id: int | None = None) -> SavedCalendar:
    """Create (calendar_id None) or update a calendar from the form (as posted); on bad input, the form
    again as typed with every error named (nothing written)."""
    require_permission(user, Permission.MANAGE_SLA)
    calendar = svc.get_calendar(calendar_id) if calendar_id is not None else None
    try:
        data = validate_data(CalendarIn, form, "Invalid business calendar")
        return SavedCalendar(calendar=svc.save_calendar(user, data, calendar_id))
    except ValidationFailed as exc:
        return SavedCalendar(form=CalendarForm(calendar, {**NEW_CALENDAR, **form}, exc.details, WEEKDAYS))
