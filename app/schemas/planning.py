"""Microplanning (Iaso contract): plannings, their assignments and the bulk assignment calls, the
sampling launch; what each accepts and what the API answers.

The Iaso names are the fields (`team`, `org_unit`); the names the forms and older clients use
(`team_id`, `org_unit_id`, `project`) are folded onto them, so an error always names the field."""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (AfterValidator, BaseModel, BeforeValidator, Field, RootModel, ValidationInfo, field_validator,
                      model_validator)
from pydantic.json_schema import SkipJsonSchema

from app.schemas.common import PageFilters, Paging
from app.schemas.parsing import Input, Unchanged, fold_aliases, not_cleared
from app.schemas.types import INT32_MAX, INT64_MAX, Id, OptionalId, Search, Text

BUILTIN_PIPELINE = "lqas-sampling"
MAX_BULK = 20_000  # org units in one bulk call (within SQLite's 32,766 bound parameters)
MAX_LEVELS = 6  # sampling levels


class PublishingStatus(StrEnum):
    PUBLISHED = "published"
    DRAFT = "draft"


def _pipeline_ref(value: str) -> str:
    if value != BUILTIN_PIPELINE:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError(f"'{value}' is neither '{BUILTIN_PIPELINE}' nor a pipeline UUID") from None
    return value


def _blank_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


def _date_part(value):
    """A date like 2027-01-31, also given as the start of a timestamp (`2027-01-31T00:00:00Z`, as
    JavaScript sends it); blank is none."""
    value = _blank_is_none(value)
    if isinstance(value, str):
        text = value.strip()
        text = text[:10] if len(text) > 10 and text[10] in "T " else text
        try:
            return date.fromisoformat(text) if len(text) == 10 else value
        except ValueError:
            return value  # refused below, naming the field
    return value


PipelineRef = Annotated[Text(64), AfterValidator(_pipeline_ref)]
OptionalDate = Annotated[date | None, BeforeValidator(_date_part)]
# Text that may be cleared: null (or a blank form field) is the empty text.
ClearableText = Annotated[Text(5000) | None, BeforeValidator(_blank_is_none)]
PLANNING_ALIASES = {"team_id": "team", "org_unit_id": "org_unit", "project": "project_id"}


class PlanningChanges(Input):
    """A planning's fields as a PUT/PATCH (or the edit form) changes them: only the fields given."""

    name: Text(160, min_length=1) | SkipJsonSchema[None] = Unchanged()
    description: ClearableText = None
    project_id: OptionalId = Field(default=None, description="Also `project`; fixed once created")
    org_unit: Id | SkipJsonSchema[None] = Unchanged(description="The root org unit (also `org_unit_id`)")
    team: Id | SkipJsonSchema[None] = Unchanged(description="The team (also `team_id`)")
    started_at: OptionalDate = None
    ended_at: OptionalDate = None
    forms: list[Id] | None = Field(default=None, max_length=100)
    pipeline_uuids: list[PipelineRef] | None = Field(default=None, max_length=20,
                                                     description=f"'{BUILTIN_PIPELINE}' or OpenHEXA pipeline UUIDs")
    publishing_status: PublishingStatus | None = None

    @model_validator(mode="before")
    @classmethod
    def _other_names(cls, data):
        return fold_aliases(data, PLANNING_ALIASES)

    _not_cleared = not_cleared("name", "org_unit", "team")


class PlanningIn(PlanningChanges):
    """A new planning."""

    name: Text(160, min_length=1)
    org_unit: Id = Field(description="The root org unit (also `org_unit_id`)")
    team: Id = Field(description="The team (also `team_id`)")
    project_id: OptionalId = Field(default=None, description="Also `project`; needed when you belong to several")


class PlanningFilters(Paging):
    search: Search = None
    publishing_status: PublishingStatus | None = None
    org_unit: OptionalId = None
    team: OptionalId = None
    project: OptionalId = None


class AssignmentOrder(StrEnum):
    ORG_UNIT = "org_unit"
    ORG_UNIT_DESC = "-org_unit"
    CREATED = "created"
    CREATED_DESC = "-created"
    ASSIGNEE = "assignee"
    ASSIGNEE_DESC = "-assignee"


class AssignmentFilters(Paging):
    planning: Id
    team: OptionalId = None
    user: OptionalId = None
    order: AssignmentOrder = AssignmentOrder.ORG_UNIT


class PlanningListFilters(PageFilters):
    """The plannings page's filters."""

    q: Search = None
    status: PublishingStatus | None = None


class AssignmentsQuery(PageFilters):
    """A planning's assignments table: its order and page."""

    sort: AssignmentOrder = AssignmentOrder.ORG_UNIT


class PlanningMapQuery(AssignmentsQuery):
    """A planning's page: also the org unit type its map shows (absent: the most assigned one)."""

    type: OptionalId = None


class AssignmentRow(Input):
    """One org unit given to a team, a user, or a user of a team (both: the user works it as a member of
    that team; they must belong to it)."""

    org_unit: Id
    team: OptionalId = None
    user: OptionalId = None


class BulkAssignIn(Input):
    """Iaso's `bulk_create_assignments`: every org unit to one team or user."""

    planning: Id
    team: OptionalId = None
    user: OptionalId = None
    org_units: list[Id] = Field(min_length=1, max_length=MAX_BULK)


class BulkUnassignIn(Input):
    """Iaso's `bulk_delete_assignments`: the planning's assignments (only these org units when given)."""

    planning: Id
    org_units: list[Id] | None = Field(default=None, max_length=MAX_BULK)


class AssignmentRowsIn(Input):
    """The seed's shorthand bulk create: one row per org unit."""

    planning: Id
    assignments: list[AssignmentRow] = Field(min_length=1, max_length=MAX_BULK)


class PlanningRef(Input):
    """`?planning=ID` (the seed's `DELETE /api/assignments/`)."""

    planning: Id


def _assignee(value):
    """The map's selected assignee, "team:ID" or "user:ID", as (kind, id)."""
    if isinstance(value, str):
        kind, _, number = value.partition(":")
        if kind in ("team", "user") and number.isascii() and number.isdigit() and len(number) <= 10 \
                and 1 <= int(number) <= INT32_MAX:
            return kind, int(number)
    raise ValueError("choose a team or user")


class MapClick(Input):
    """A click on the planning's map: this org unit to the selected team or user (or back off)."""

    org_unit_id: Id
    assignee: Annotated[tuple[str, int], BeforeValidator(_assignee)]


# --- sampling ----------------------------------------------------------------------------------

def _number_or_text(part: str):
    part = part.strip()
    try:
        return int(part) if part.isascii() and part.isdigit() else part
    except ValueError:  # more digits than Python converts: refused as a number out of range below
        return part


def _level_list(value):
    """A per-level list may also arrive as one string — JSON (`"[1, 2]"`) or comma-separated
    (`"1,2"`) — as the OpenHEXA SDK and forms send it."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except (ValueError, RecursionError):
            return value  # refused: not a list
    return [_number_or_text(part) for part in text.split(",")] if text else []


def _level_exceptions(value):
    """One level's exceptions: ids, one id, "1,2", or "-" / "" / null for none."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "-")):
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return _level_list(value)


def _level_criterion(value):
    """URBAN / RURAL (any case), or "-" / "" / null for none."""
    if isinstance(value, str):
        value = value.strip().upper()
        if value in ("", "-"):
            return None
        if value not in AreaCriterion.__members__:
            raise ValueError(f"must be URBAN, RURAL or '-', got {value!r}")
    return value


def _also_text(schema: dict) -> None:
    """The document says that a per-level list may also come as one string (JSON or comma-separated)."""
    listed = {key: schema.pop(key) for key in list(schema) if key not in ("title", "description", "default")}
    text = {"type": "string", "maxLength": 10_000, "description": "the list as JSON, or comma-separated"}
    schema["anyOf"] = (listed["anyOf"] if set(listed) == {"anyOf"} else [listed]) + [text]


class AreaCriterion(StrEnum):
    URBAN = "URBAN"
    RURAL = "RURAL"


def _positive(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be positive, got {value}")
    return value


Quantity = Annotated[int, Field(le=1_000_000, json_schema_extra={"minimum": 1}), AfterValidator(_positive)]
LevelExceptions = Annotated[list[Id], BeforeValidator(_level_exceptions)]
LevelCriterion = Annotated[AreaCriterion | None, BeforeValidator(_level_criterion)]
TYPES = "org_unit_type_sequence_identifiers"


class SamplingIn(Input):
    """The LQAS sampling parameters (the planning is the one in the URL). Per-level lists keep their
    positions, one entry per level; each may also be given as one JSON or comma-separated string."""

    org_unit_type_sequence_identifiers: Annotated[list[Id], BeforeValidator(_level_list)] = Field(
        min_length=1, max_length=MAX_LEVELS, title="Org unit type per level",
        description="The org unit type picked at each level, top down", json_schema_extra=_also_text)
    org_unit_type_quantities: Annotated[list[Quantity], BeforeValidator(_level_list)] = Field(
        min_length=1, max_length=MAX_LEVELS, title="Quantity per level",
        description="How many units to pick at each level", json_schema_extra=_also_text)
    org_unit_type_exceptions: Annotated[list[LevelExceptions], BeforeValidator(_level_list)] | None = Field(
        default=None, max_length=MAX_LEVELS, title="Excluded org units per level ('-' for none)",
        description="Org units never picked, per level ('-' for none)", json_schema_extra=_also_text)
    org_unit_type_criteria: Annotated[list[LevelCriterion], BeforeValidator(_level_list)] | None = Field(
        default=None, max_length=MAX_LEVELS, title="URBAN/RURAL per level ('-' for none)",
        description="URBAN or RURAL only, per level ('-' for any)", json_schema_extra=_also_text)
    seed: int | None = Field(default=None, ge=0, le=INT64_MAX, title="Random seed",
                             description="Random seed (one is drawn when absent)")

    @field_validator("org_unit_type_exceptions", "org_unit_type_criteria", mode="before")
    @classmethod
    def _none_marker(cls, value):
        return None if isinstance(value, str) and value.strip() in ("", "-") else value

    @field_validator("org_unit_type_quantities", "org_unit_type_exceptions", "org_unit_type_criteria")
    @classmethod
    def _one_per_level(cls, value, info: ValidationInfo):
        levels = len(info.data[TYPES]) if TYPES in info.data else None
        if value is None or levels is None or len(value) == levels:
            return value
        if info.field_name == "org_unit_type_quantities":
            raise ValueError(f"has {len(value)} values for {levels} levels")
        raise ValueError(f"has {len(value)} entries for {levels} levels (use '-' for none)")


class SamplingPlanning(Input):
    planning_id: Id = Field(title="Planning", description="The planning whose assignments the sampling replaces")


class LqasInputs(SamplingIn, SamplingPlanning):
    """The `lqas-sampling` process's inputs: the planning and its sampling parameters, under the names
    Iaso's and OpenHEXA's LQAS pipelines use."""


# --- what the API answers ------------------------------------------------------------------------

class OrgUnitBrief(BaseModel):
    id: int
    name: str
    org_unit_type: int


class TeamBrief(BaseModel):
    id: int
    name: str
    type: str


class PlanningOut(BaseModel):
    id: int
    name: str
    description: str
    project: int
    org_unit: int
    org_unit_details: OrgUnitBrief
    team: int
    team_details: TeamBrief
    forms: list[int]
    started_at: date | None
    ended_at: date | None
    published_at: datetime | None
    pipeline_uuids: list[str]
    created_at: datetime | None
    updated_at: datetime | None


class AssignmentOut(BaseModel):
    id: int
    planning: int
    org_unit: int
    team: int | None
    user: int | None
    org_unit_details: OrgUnitBrief
    created_by: int | None
    created_at: datetime | None
    updated_at: datetime | None


class AssignmentList(RootModel[list[AssignmentOut]]):
    """The assignments made (Iaso's bulk create answers a bare list)."""


class AssignmentsDeleted(BaseModel):
    message: str
    deleted_count: int
    planning_id: int
    planning: int = Field(description="= planning_id (kept for earlier clients)")
    deleted: int = Field(description="= deleted_count (kept for earlier clients)")


class AssignmentsCreated(BaseModel):
    """The seed's shorthand bulk create answer: a count and the assignments made."""

    planning: int
    created: int
    assignments: list[AssignmentOut]

