"""SLA configs (/api/workflow/sla-configs and the config form on /sla/configs): what creating and
changing one accepts, the list filter, and what the API answers."""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema

from app.schemas.parsing import Input
from app.schemas.types import OptionalId, ProjectScope, Slug, Text

PAUSABLE_STATES = ("new", "in_progress", "blocked")  # the task states that are not terminal
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


class SlaConfigIn(Input):
    """A new SLA config; also the config form, new or edited."""

    name: Name
    project_id: ProjectScope = Field(None, description=PROJECT)
    service_area: AreaScope = Field("*", description='"*" for any')
    task_type: TypeScope = Field("*", description='"*" for any')
    response_minutes: Minutes | None = Field(None, description="Minutes until work starts (optional)")
    resolution_minutes: Minutes
    warning_percent: Percent = 80
    pause_states: PauseStates = Field(default_factory=lambda: ["blocked"])
    calendar_id: OptionalId = Field(None, description="null: the default calendar")
    enabled: bool = True


class SlaConfigChanges(Input):
    """A change to an SLA config (PATCH): the fields given change, the others stay."""

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
    scope: Literal["global", "project"]
    updated_at: str | None


class SlaConfigList(BaseModel):
    success: bool
    items: list[SlaConfigOut]


class SlaConfigSaved(BaseModel):
    success: bool
    message: str
    sla_config: SlaConfigOut
