"""Org units and org unit types: what creating one accepts, what the API answers, list filters."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.models import AreaType, OrgUnitCategory
from app.schemas.common import Paging
from app.schemas.parsing import Input
from app.schemas.types import Id, JsonObject, OptionalId, Search, Text

Latitude = Field(default=None, ge=-90, le=90)
Longitude = Field(default=None, ge=-180, le=180)


class OrgUnitTypeIn(Input):
    name: Text(120, min_length=1)
    short_name: Text(40) = ""
    depth: int = Field(default=0, ge=0, le=20)
    category: OrgUnitCategory | None = None
    project_id: OptionalId = None
    sub_unit_type_ids: list[Id] = Field(default_factory=list, max_length=100)


class OrgUnitIn(Input):
    name: Text(255, min_length=1)
    org_unit_type_id: Id
    parent_id: OptionalId = None
    area_type: AreaType | None = None
    latitude: float | None = Latitude
    longitude: float | None = Longitude
    geometry: JsonObject | None = Field(default=None, description="GeoJSON Polygon or MultiPolygon")
    source_ref: Text(120) | None = None


class OrgUnitTypeFilters(Paging):
    project_id: OptionalId = None


class OrgUnitFilters(Paging):
    org_unit_type_id: OptionalId = None
    type: OptionalId = Field(default=None, description="Alias of org_unit_type_id")
    parent_id: OptionalId = None
    roots: bool = Field(default=False, description="Only units without a parent")
    search: Search = None
    under: OptionalId = Field(default=None, description="Only units in this unit's subtree")
    area_type: AreaType | None = None
    order: str | None = Field(default=None, pattern="^(id|name)$")
    geometry: bool = Field(default=False, description="Include each unit's geometry")


class OrgUnitTypeOut(BaseModel):
    id: int
    project_id: int
    name: str
    short_name: str
    depth: int
    category: str | None
    sub_unit_types: list[int]


class OrgUnitOut(BaseModel):
    id: int
    name: str
    project_id: int
    org_unit_type_id: int
    org_unit_type_name: str | None
    parent_id: int | None
    path: str
    depth: int
    latitude: float | None
    longitude: float | None
    area_type: str | None
    source_ref: str | None
    created_at: datetime | None
    updated_at: datetime | None
    geometry: dict[str, Any] | None = Field(default=None, description="With ?geometry=1 and on detail")


class OrgUnitSearch(Input):
    """The org unit tree page: a search instead of the tree."""

    q: Search = None
