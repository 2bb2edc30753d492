"""Teams (Iaso model): what creating and changing one accepts, the list filters, what the API answers."""
from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field, StringConstraints, model_validator
from pydantic.json_schema import SkipJsonSchema

from app.models import TeamType
from app.schemas.common import Paging
from app.schemas.parsing import Input, Unchanged, fold_aliases, not_cleared
from app.schemas.types import Id, OptionalId, Search, Text

DEFAULT_COLOUR = "#4f46e5"
MAX_MEMBERS = 1000


def _blank_is_none(value):
    return None if isinstance(value, str) and not value.strip() else value


# A hex colour like #1f77b4 (also `color`); null or blank is the default colour.
HexColour = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^#[0-9a-fA-F]{6}$")]
Colour = Annotated[HexColour | None, BeforeValidator(_blank_is_none),
                   Field(description=f"Hex colour like #1f77b4 (default {DEFAULT_COLOUR})")]
ClearableText = Annotated[Text(2000) | None, BeforeValidator(_blank_is_none)]
TEAM_ALIASES = {"color": "colour"}


class TeamChanges(Input):
    """A team's fields as PATCH (or the team's form) changes them: only the fields given. Type,
    parent and project are fixed once created (given, they must be the current ones)."""

    name: Text(160, min_length=1) | SkipJsonSchema[None] = Unchanged()
    description: ClearableText = None
    colour: Colour = None
    manager_id: OptionalId = Field(default=None, description="null removes the manager")
    user_ids: list[Id] | None = Field(default=None, max_length=MAX_MEMBERS, description="The members (a team of users)")
    type: TeamType | None = None
    parent_id: OptionalId = None
    project_id: OptionalId = None

    @model_validator(mode="before")
    @classmethod
    def _other_names(cls, data):
        return fold_aliases(data, TEAM_ALIASES)

    _not_cleared = not_cleared("name")


class TeamIn(TeamChanges):
    """A new team."""

    name: Text(160, min_length=1)
    type: TeamType
    parent_id: OptionalId = Field(default=None, description="A team of teams (none: a top-level team)")
    project_id: OptionalId = Field(default=None, description="Needed when you belong to several projects")


class TeamFilters(Paging):
    parent_id: OptionalId = None
    roots: bool = Field(default=False, description="Only top-level teams")
    type: TeamType | None = None
    search: Search = None
    project_id: OptionalId = None


class UserBrief(BaseModel):
    id: int
    username: str
    full_name: str | None


class TeamOut(BaseModel):
    id: int
    project_id: int
    name: str
    description: str | None
    type: TeamType
    parent_id: int | None
    path: str
    manager: UserBrief | None
    users: list[UserBrief]
    colour: str
    created_at: datetime | None
    updated_at: datetime | None
