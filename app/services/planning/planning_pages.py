"""What each planning page shows: the list, the create/edit form, the assignment map page, the
assignments table and the assignees panel; and the page actions (save the form, click the map,
clear assignments). Each function authorizes the acting user (permission and project) and returns
plain values for the template."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination
from app.extensions import db
from app.models import Form, OrgUnit, OrgUnitType, Permission, Planning, Project, Team, User
from app.services.planning import assignments as assign_svc
from app.services.planning import plannings as svc
from app.services.planning import assignment_map
from app.services.planning.assignment_map import RenderedMap, build_map, display_types
from app.services.planning.orgunits import org_units_query
from app.services.planning.pipeline_choices import PipelineList, fetch_pipelines, known_pipelines
from app.services.planning.teams import teams_query
from app.schemas.parsing import validate_data
from app.schemas.planning import (
    AssignmentsQuery, MapClick, PlanningChanges, PlanningIn, PlanningListFilters, PlanningMapQuery,
)
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.paging import page_of

PER_PAGE = 25
STATUSES = {"published": True, "draft": False}


def _can_manage(user: User) -> bool:
    return user.has_permission(Permission.MANAGE_PLANNING)


# --- the list ---------------------------------------------------------------------------------

@dataclass
class PlanningList:
    page: Pagination
    q: str
    status: str | None
    can_manage: bool


def planning_list(user: User, filters: PlanningListFilters) -> PlanningList:
    """The user's projects' plannings, searched by name and filtered by status, 25 a page."""
    status = filters.status.value if filters.status else None
    stmt = svc.plannings_query(user, search=filters.q, published=STATUSES.get(status))
    return PlanningList(page_of(stmt, filters.page, PER_PAGE), filters.q or "", status, _can_manage(user))


# --- the create/edit form ---------------------------------------------------------------------

@dataclass
class PipelineChoices:
    """The form's pipeline picker: what is selected, and OpenHEXA's pipelines as far as known."""

    selected: list[str]
    listing: PipelineList
    builtin: str = svc.BUILTIN_PIPELINE

    @property
    def unlisted(self) -> list[str]:
        """Selected OpenHEXA pipelines not in the list (not loaded yet, or gone): kept, by id."""
        known = {p["id"] for p in self.listing.pipelines}
        return [p for p in self.selected if p != self.builtin and p not in known]


@dataclass
class PlanningForm:
    form: dict
    errors: dict
    planning: Planning | None
    teams: list[Team]
    roots: list[OrgUnit]
    forms: list[Form]
    projects: list[Project]
    choices: PipelineChoices


@dataclass
class SavedPlanning:
    """A form submission: the saved planning, or the form again with its errors."""

    planning: Planning | None = None
    form: PlanningForm | None = None


def _form_values(planning: Planning | None) -> dict:
    if planning is None:
        return {"pipeline_uuids": [svc.BUILTIN_PIPELINE]}
    return {"name": planning.name, "description": planning.description, "team_id": str(planning.team_id),
            "org_unit_id": str(planning.org_unit_id), "started_at": planning.started_at or "",
            "ended_at": planning.ended_at or "", "forms": [str(f.id) for f in planning.forms],
            "pipeline_uuids": planning.pipeline_uuids or []}


def _form_page(user: User, form: dict, errors: dict, planning: Planning | None) -> PlanningForm:
    # Plannings are rooted at a country, region or district; deeper units are too small to plan.
    roots = org_units_query(user).where(OrgUnit.depth <= 2).order_by(None).order_by(OrgUnit.path)
    return PlanningForm(
        form=form, errors=errors, planning=planning,
        teams=list(db.session.execute(teams_query(user)).scalars()),
        roots=list(db.session.execute(roots).scalars()),
        forms=list(db.session.execute(svc.forms_query(user)).scalars()),
        projects=list(user.projects),
        choices=PipelineChoices(form.get("pipeline_uuids") or [], known_pipelines()))


def planning_form(user: User, planning_id: int | None = None) -> PlanningForm:
    """The create form (planning_id None) or the edit form filled from the planning. OpenHEXA's
    pipelines come from the cache only; a cold cache leaves them to `pipeline_choices`."""
    require_permission(user, Permission.MANAGE_PLANNING)
    planning = svc.get_planning(user, planning_id) if planning_id is not None else None
    return _form_page(user, _form_values(planning), {}, planning)


def save_planning_form(user: User, data: dict, planning_id: int | None = None) -> SavedPlanning:
    """Create (planning_id None) or update a planning from the form (`data` as posted, `forms` and
    `pipeline_uuids` as lists) with the API's schemas; on bad input, the form again with every error
    named (nothing written). On the edit form every field is given: a blank one is cleared."""
    try:
        if planning_id is None:
            return SavedPlanning(planning=svc.create_planning(user, validate_data(PlanningIn, data, "Cannot save planning")))
        edited = {key: None if value == "" else value for key, value in data.items()}
        changes = validate_data(PlanningChanges, edited, "Cannot save planning")
        return SavedPlanning(planning=svc.update_planning(user, planning_id, changes))
    except ValidationFailed as exc:  # raised before anything changed: nothing to roll back
        planning = svc.get_planning(user, planning_id) if planning_id is not None else None
        return SavedPlanning(form=_form_page(user, data, exc.details, planning))


def pipeline_choices(user: User, selected: list[str]) -> PipelineChoices:
    """The form's pipeline picker with OpenHEXA's list (cached, else asked now): the HTMX partial
    the form loads after the page."""
    require_permission(user, Permission.MANAGE_PLANNING)
    return PipelineChoices(selected, fetch_pipelines(user))


# --- the assignment map page ------------------------------------------------------------------

@dataclass
class AssigneesPanel:
    planning: Planning
    assignees: list[dict]
    count: int
    can_manage: bool


@dataclass
class AssignmentsTable:
    planning: Planning
    table: Pagination
    sort: str


@dataclass
class PlanningPage:
    planning: Planning
    map: RenderedMap
    lookups: dict
    types: list[OrgUnitType]
    assignees: list[dict]
    count: int
    pipelines: list[str]
    can_manage: bool
    table: Pagination
    sort: str


def _table(planning: Planning, query: AssignmentsQuery) -> Pagination:
    stmt = assign_svc.assignments_query(planning.id, sort=query.sort.value)
    return page_of(stmt, query.page, PER_PAGE)


def planning_page(user: User, planning_id: int, query: PlanningMapQuery, shapes_url: str) -> PlanningPage:
    """The planning's page: the map of units of one type (`query.type`, else the most assigned type),
    the assignees, and one page of the assignments table."""
    planning = svc.get_planning(user, planning_id)
    assignees = assign_svc.assignee_summary(planning)
    rendered = build_map(planning, query.type, shapes_url, assignees)
    return PlanningPage(planning=planning, map=rendered, lookups=rendered.lookups, types=display_types(planning),
                        assignees=assignees, count=assign_svc.live_count(planning.id),
                        pipelines=svc.available_pipelines(planning), can_manage=_can_manage(user),
                        table=_table(planning, query), sort=query.sort.value)


def map_shapes(user: User, planning_id: int, query: PlanningMapQuery) -> dict:
    """The compact geometry of the planning's map (units of one type and their parents' borders)."""
    return assignment_map.map_shapes(svc.get_planning(user, planning_id), query.type)


def assignments_table(user: User, planning_id: int, query: AssignmentsQuery) -> AssignmentsTable:
    planning = svc.get_planning(user, planning_id)
    return AssignmentsTable(planning, _table(planning, query), query.sort.value)


def _panel(user: User, planning: Planning) -> AssigneesPanel:
    return AssigneesPanel(planning, assign_svc.assignee_summary(planning), assign_svc.live_count(planning.id),
                          _can_manage(user))


def assignees_panel(user: User, planning_id: int) -> AssigneesPanel:
    return _panel(user, svc.get_planning(user, planning_id))


@dataclass
class MapChange:
    """After a click on the map: the refreshed panel and the `assignment-changed` event for the page."""

    panel: AssigneesPanel
    event: dict = field(default_factory=dict)


def click_on_map(user: User, planning_id: int, org_unit_id: str | None, assignee: str | None) -> MapChange:
    """Assign the clicked unit to the selected team/user ("team:ID" / "user:ID"), or remove it if
    already theirs."""
    planning = svc.get_planning(user, planning_id)
    click = validate_data(MapClick, {"org_unit_id": org_unit_id, "assignee": assignee}, "Choose a team or user first.")
    result = assign_svc.toggle_assignment(user, planning, click)
    key = None if result is None else (f"team:{result.team_id}" if result.team_id else f"user:{result.user_id}")
    return MapChange(_panel(user, planning), {"org_unit": click.org_unit_id, "assignee": key})


def clear_assignments(user: User, planning_id: int) -> int:
    """Soft-delete every live assignment of the planning; returns how many."""
    return assign_svc.bulk_delete(user, svc.get_planning(user, planning_id), source="web")
