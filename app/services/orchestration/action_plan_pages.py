"""What the action plan pages show: the list with its filters, the create form, one plan with its
state panel (status, allowed buttons, history) and tasks; and the page actions (create, change
state). Each function authorizes the acting user (permission and project) and returns plain values."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_sqlalchemy.pagination import Pagination

from app.models import ActionPlan, Permission, Project, StateTransition, User
from app.schemas.parsing import validate_data
from app.schemas.workflow import ActionPlanIn, ActionPlanListFilters
from app.services.orchestration import work_items as svc
from app.services.orchestration.state_machines import ACTION_PLAN
from app.services.orchestration.task_queries import tasks_query
from app.services.orchestration.transitions import allowed_transitions, transition
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission
from app.services.platform.paging import page_of

PER_PAGE = 50


@dataclass
class ActionPlanList:
    page: Pagination
    status: str | None  # the status filter, normalised (None: all)
    service_area: str
    statuses: tuple[str, ...]
    task_counts: dict[int, int]  # plan id → how many tasks
    can_create: bool


def action_plan_list(user: User, filters: ActionPlanListFilters) -> ActionPlanList:
    """One page (50) of the user's projects' action plans, newest first, by status (aliases accepted)
    and service area."""
    plans = page_of(svc.action_plans_query(user, filters.status, filters.service_area), filters.page, PER_PAGE)
    return ActionPlanList(plans, filters.status, filters.service_area or "", ACTION_PLAN.states,
                          svc.action_plan_task_counts([p.id for p in plans.items]),
                          user.has_permission(Permission.CREATE_ACTION_PLAN))


@dataclass
class ActionPlanForm:
    form: dict
    projects: list[Project]
    errors: dict = field(default_factory=dict)


def action_plan_form(user: User, form: dict | None = None, errors: dict | None = None) -> ActionPlanForm:
    """The create form (CREATE_ACTION_PLAN), filled with `form` and its `errors`."""
    require_permission(user, Permission.CREATE_ACTION_PLAN)
    return ActionPlanForm(form if form is not None else {"service_area": "general"}, list(user.projects), errors or {})


@dataclass
class SavedActionPlan:
    """A create-form submission: the plan, or the form again with the errors (`form`)."""

    plan: ActionPlan | None = None
    form: ActionPlanForm | None = None


def create_action_plan_from_form(user: User, form: dict) -> SavedActionPlan:
    """Create a draft action plan from the form (as posted); on bad input, the form again with every
    error named."""
    try:
        data = validate_data(ActionPlanIn, {k: v for k, v in form.items() if k != "csrf_token"},
                             "Cannot create the action plan")
        return SavedActionPlan(plan=svc.create_action_plan(user, data))
    except ValidationFailed as exc:
        return SavedActionPlan(form=action_plan_form(user, form, exc.details))


@dataclass
class PlanState:
    """The state panel: the plan, the states the user may move it to now, its history."""

    plan: ActionPlan
    allowed: list[str]
    history: list[StateTransition]


def _state(user: User, plan: ActionPlan) -> PlanState:
    return PlanState(plan, allowed_transitions(plan, user), svc.action_plan_history(plan))


@dataclass
class ActionPlanPage(PlanState):
    tasks: Pagination


def action_plan_page(user: User, plan_id: int, page: int) -> ActionPlanPage:
    """One plan: its state panel and one page (50) of its tasks."""
    plan = svc.get_action_plan(user, plan_id)
    tasks = page_of(tasks_query(user, action_plan_id=plan.id), page, PER_PAGE)
    return ActionPlanPage(**vars(_state(user, plan)), tasks=tasks)


@dataclass
class PlanStateChange:
    to_state: str
    state: PlanState  # the panel after the change


def change_plan_state(user: User, plan_id: int, to_state: str | None, reason: str = "") -> PlanStateChange:
    """Activate or archive a plan (one `transition()`: permission, edge, audit row, event, commit);
    a refusal is raised (InvalidTransition, Forbidden, Conflict)."""
    result = transition(user, "action_plan", plan_id, to_state, reason=reason)
    return PlanStateChange(result.to_state, _state(user, result.entity))
