"""What the schedule pages show and do for one user: the list, a schedule with its runs, the
create/edit form, saving it, and pausing/enabling. Schedules are their project's: another project's is
a 404. Changing schedules needs MANAGE_PIPELINES; the form is refused (Forbidden) to whoever may not
submit it."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from flask import current_app

from app.models import Job, Permission, Project, Schedule, User
from app.schemas.parsing import validate_data
from app.schemas.processing import BackfillIn, ScheduleIn
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.processing import schedules as svc
from app.services.processing.registry import Process, all_processes

NEW_SCHEDULE = {"timezone": "UTC", "frequency": "daily", "inputs": "{}", "catch_up": ""}


@dataclass
class SchedulesPage:
    schedules: list[Schedule]
    can_edit: bool


@dataclass
class SchedulePage:
    schedule: Schedule
    runs: list[Job]
    can_edit: bool
    caught_up: list[dict]  # the periods the dispatcher caught up, newest first ("at" a datetime)
    caught_up_runs: dict[str, str]  # job id → the period it caught up
    catch_up_periods: int  # how far back catch-up reaches




@dataclass
class ScheduleForm:
    schedule: Schedule | None
    errors: dict
    form: dict
    processes: list[Process]
    frequencies: tuple[str, ...]
    projects: list[Project]


@dataclass
class SavedSchedule:
    """A form submission: the saved schedule, or the form again with its errors."""

    schedule: Schedule | None = None
    form: ScheduleForm | None = None


def _can_edit(user: User) -> bool:
    return user.has_permission(Permission.MANAGE_PIPELINES)


def schedules_page(user: User) -> SchedulesPage:
    """The schedules of the user's projects by name, and whether the user may change them."""
    return SchedulesPage(svc.list_schedules(user), _can_edit(user))


def schedule_page(user: User, schedule_id: int) -> SchedulePage:
    """A schedule with its latest runs and the periods it caught up."""
    schedule = svc.get_schedule(user, schedule_id)
    notes = [{**note, "at": datetime.fromisoformat(note["at"])} for note in schedule.caught_up or []]
    return SchedulePage(schedule, svc.schedule_runs(user, schedule), _can_edit(user), notes,
                        {note["job_id"]: note["period"] for note in notes},
                        current_app.config["SCHEDULE_CATCH_UP_MAX_PERIODS"])


def _form_values(schedule: Schedule) -> dict:
    return {"name": schedule.name, "process_id": schedule.process_id, "frequency": schedule.frequency,
            "cron": schedule.cron, "timezone": schedule.timezone, "enabled": schedule.enabled,
            "description": schedule.description, "inputs": json.dumps(schedule.inputs, indent=2),
            "catch_up": "on" if schedule.catch_up else "off"}


def _form(user: User, schedule: Schedule | None, form: dict, errors: dict | None = None) -> ScheduleForm:
    return ScheduleForm(schedule, errors or {}, form, all_processes(), svc.FREQUENCIES, user.projects)


def schedule_form(user: User, schedule_id: int | None = None) -> ScheduleForm:
    """The create form (schedule_id None) or the edit form filled from the schedule."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    if schedule_id is None:
        return _form(user, None, dict(NEW_SCHEDULE))
    schedule = svc.get_schedule(user, schedule_id)
    return _form(user, schedule, _form_values(schedule))


def save_schedule_form(user: User, data: dict, schedule_id: int | None = None) -> SavedSchedule:
    """Create (schedule_id None) or update a schedule from the posted form, whose `inputs` is JSON text;
    on bad input, the form again as typed with every error named (nothing written)."""
    require_permission(user, Permission.MANAGE_PIPELINES)
    schedule = svc.get_schedule(user, schedule_id) if schedule_id is not None else None
    fields = {key: value for key, value in data.items() if key != "csrf_token"}
    try:
        return SavedSchedule(schedule=svc.save_schedule(user, validate_data(ScheduleIn, fields, "Invalid schedule"),
                                                        schedule_id))
    except ValidationFailed as exc:
        return SavedSchedule(form=_form(user, schedule, data, exc.details))


def toggle_schedule(user: User, schedule_id: int, enabled: bool) -> Schedule:
    """Pause or enable a schedule (enabling sets its next run from now; catch-up runs the missed periods)."""
    return svc.set_enabled(user, schedule_id, enabled)


def run_now(user: User, schedule_id: int) -> Job:
    """Start the schedule's run for the latest period (MANAGE_PIPELINES)."""
    return svc.run_now(user, schedule_id)


def backfill(user: User, schedule_id: int, form: dict) -> dict:
    """One run per period between the form's `start` and `end` (dates); see schedules.backfill."""
    svc.get_schedule(user, schedule_id)  # another project's schedule is a 404 whatever the form says
    data = validate_data(BackfillIn, {k: v for k, v in form.items() if k != "csrf_token"}, "Invalid backfill")
    return svc.backfill(user, schedule_id, data.start, data.end)
