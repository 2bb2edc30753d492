"""The orchestration API under /api/workflow/ (Bearer only). Errors: the workflow family's shape,
`{"success": false, "message", "error_code", "details"}`, built in `app/errors.py`. Parse → one
service call → JSON."""
from flask import Blueprint, jsonify, request

from app.blueprints.api.pagination import paginated, paging
from app.blueprints.operations import operation
from app.blueprints.workflow_api.serializers import (
    action_plan_created_json, action_plan_detail_json, succeeded, task_created_json, task_detail_json,
    transition_result_json, transitions_batch_json, workflow_action_plan_json, workflow_task_json,
)
from app.schemas.parsing import validate_data
from app.schemas.workflow import (
    ActionPlanCreated, CorrelationHeader, ActionPlanDetail, ActionPlanFilters, ActionPlanIn, ActionPlanOut, ActionPlanTransitioned,
    MetadataOut, PlanChangeIn, StatsOut, TaskCreated, TaskDetail, TaskFilters, TaskIn, TaskTransitioned,
    TransitionIn, TransitionsIn, TransitionsOut, WorkflowPage, WorkflowTaskOut,
)
from app.security import api_user, optional_api_user
from app.services.orchestration import stats as workflow_stats
from app.services.orchestration import work_items as svc
from app.services.orchestration.transitions import transition_described
from app.services.orchestration.transitions import transition_tasks as transition_many
from app.services.platform.paging import paginate

bp = Blueprint("workflow_api", __name__, url_prefix="/api/workflow")

DESCRIBE = {"task": workflow_task_json, "action_plan": workflow_action_plan_json}


def _correlation_id() -> str | None:
    """X-Correlation-ID, if sent."""
    header = {"X-Correlation-ID": request.headers.get("X-Correlation-ID") or None}
    return validate_data(CorrelationHeader, header, "Invalid X-Correlation-ID header").correlation_id


def _transitioned(entity_type: str, entity_id: int, to_state, **options):
    """Change the state; the answer is the changed row (described before the commit) and the transition."""
    user = api_user()
    result, body = transition_described(user, entity_type, entity_id, to_state,
                                        lambda entity: DESCRIBE[entity_type](entity, user), **options)
    return jsonify(transition_result_json(entity_type, body, result))


@bp.get("/tasks")
@operation(query=TaskFilters, responses={200: WorkflowPage[WorkflowTaskOut]})
def tasks(query: TaskFilters):
    """List tasks of both kinds (`kind`; `status` or `state`, with aliases; `mine`: assigned to me now;
    `created_by_id`; `search`: the title)"""
    user = api_user()
    return jsonify(succeeded(paginated(paginate(svc.task_list_query(user, query), *paging(query)),
                                       lambda t: workflow_task_json(t, user))))


@bp.post("/tasks")
@operation(body=TaskIn, responses={201: TaskCreated})
def create_task(body: TaskIn):
    """Create a task"""
    task = svc.create_task(api_user(), body)
    return jsonify(task_created_json(task, api_user())), 201


@bp.get("/tasks/<int:task_id>")
@operation(responses={200: TaskDetail})
def task(task_id: int):
    """A task with its history and SLA clock"""
    detail = svc.task_detail(api_user(), task_id)
    return jsonify(task_detail_json(detail.task, api_user(), detail.history, detail.sla))


@bp.post("/tasks/<int:task_id>/transition")
@operation(body=TransitionIn, responses={200: TaskTransitioned, 409: None})
def transition_task(task_id: int, body: TransitionIn):
    """Move a task to another state (`X-Correlation-ID` honoured)

    Completing a ticket task before its workflow's last step needs `skip_remaining_steps` (else 409
    STEPS_REMAINING naming the steps left)."""
    return _transitioned("task", task_id, body.to_state, reason=body.reason, context=body.audit_context(),
                         expected_state=body.expected_state, correlation_id=_correlation_id(),
                         skip_remaining_steps=body.skip_remaining_steps)


@bp.post("/tasks/transitions")
@operation(body=TransitionsIn, responses={200: TransitionsOut})
def transition_tasks(body: TransitionsIn):
    """Many task transitions in one request and one transaction (a field team syncing a day's work),
    applied in order, each on its own: one result per item (`ok`, or the refusal's error_code,
    message and details, as the single endpoint would answer)."""
    return jsonify(transitions_batch_json(transition_many(api_user(), body.transitions)))


@bp.get("/action-plans")
@operation(query=ActionPlanFilters, responses={200: WorkflowPage[ActionPlanOut]})
def action_plans(query: ActionPlanFilters):
    """List action plans"""
    user = api_user()
    stmt = svc.action_plans_query(user, status=query.status, service_area=query.service_area)
    return jsonify(succeeded(paginated(paginate(stmt, *paging(query)), lambda p: workflow_action_plan_json(p, user))))


@bp.post("/action-plans")
@operation(body=ActionPlanIn, responses={201: ActionPlanCreated})
def create_action_plan(body: ActionPlanIn):
    """Create an action plan (a draft)"""
    plan = svc.create_action_plan(api_user(), body)
    return jsonify(action_plan_created_json(plan, api_user())), 201


@bp.get("/action-plans/<int:plan_id>")
@operation(responses={200: ActionPlanDetail})
def action_plan(plan_id: int):
    """An action plan with its history"""
    detail = svc.action_plan_detail(api_user(), plan_id)
    return jsonify(action_plan_detail_json(detail.plan, api_user(), detail.history))


@bp.post("/action-plans/<int:plan_id>/activate")
@operation(body=PlanChangeIn, body_required=False, responses={200: ActionPlanTransitioned, 409: None})
def activate_action_plan(plan_id: int, body: PlanChangeIn):
    """Activate an action plan"""
    return _transitioned("action_plan", plan_id, "active", reason=body.reason, correlation_id=_correlation_id())


@bp.post("/action-plans/<int:plan_id>/archive")
@operation(body=PlanChangeIn, body_required=False, responses={200: ActionPlanTransitioned, 409: None})
def archive_action_plan(plan_id: int, body: PlanChangeIn):
    """Archive an action plan"""
    return _transitioned("action_plan", plan_id, "archived", reason=body.reason, correlation_id=_correlation_id())


@bp.get("/metadata")
@operation(auth="public", responses={200: MetadataOut})
def metadata():
    """State machines, task types, priorities and the event catalogue (public, as the seed's example calls
    it); with a Bearer token also the automation rules that apply to your projects"""
    return jsonify(succeeded(workflow_stats.metadata(optional_api_user())))


@bp.get("/stats")
@operation(responses={200: StatsOut})
def stats():
    """Counts for your projects: tasks, action plans, automation, outbox, SLA"""
    return jsonify(succeeded(workflow_stats.stats(api_user())))
