"""The orchestration API under /api/workflow/ (Bearer only). Errors: the workflow family's shape,
`{"success": false, "message", "error_code", "details"}`, built in `app/errors.py`. Parse → one
service call → JSON."""
from flask import Blueprint, jsonify, request

from app.blueprints.api.pagination import json_body, page_args, paginated
from app.services.platform.paging import paginate
from app.blueprints.workflow_api.serializers import (
    action_plan_created_json, action_plan_detail_json, succeeded, task_created_json, task_detail_json,
    transition_result_json, transitions_batch_json, workflow_action_plan_json, workflow_task_json,
)
from app.security import api_login_required, api_user
from app.services.orchestration import stats as workflow_stats
from app.services.orchestration import work_items as svc
from app.services.orchestration.transitions import transition_described
from app.services.orchestration.transitions import transition_tasks as transition_many

bp = Blueprint("workflow_api", __name__, url_prefix="/api/workflow")

DESCRIBE = {"task": workflow_task_json, "action_plan": workflow_action_plan_json}


def _transitioned(entity_type: str, entity_id: int, to_state, **options):
    """Change the state; the answer is the changed row (described before the commit) and the transition."""
    user = api_user()
    result, body = transition_described(user, entity_type, entity_id, to_state,
                                        lambda entity: DESCRIBE[entity_type](entity, user), **options)
    return jsonify(transition_result_json(entity_type, body, result))


def _correlation_id() -> str | None:
    return request.headers.get("X-Correlation-ID") or None


@bp.get("/tasks")
@api_login_required
def tasks():
    """Filters: status (aliases accepted), task_type, service_area, priority, assignee_id, action_plan_id,
    mine=1 (created by or assigned to me), search (title)."""
    user = api_user()
    return jsonify(succeeded(paginated(paginate(svc.task_list_query(user, request.args), *page_args()),
                                       lambda t: workflow_task_json(t, user))))


@bp.post("/tasks")
@api_login_required
def create_task():
    task = svc.create_task(api_user(), json_body())
    return jsonify(task_created_json(task, api_user())), 201


@bp.get("/tasks/<int:task_id>")
@api_login_required
def task(task_id: int):
    detail = svc.task_detail(api_user(), task_id)
    return jsonify(task_detail_json(detail.task, api_user(), detail.history, detail.sla))


@bp.post("/tasks/<int:task_id>/transition")
@api_login_required
def transition_task(task_id: int):
    data = json_body()
    return _transitioned("task", task_id, data.get("to_state", data.get("state", data.get("to"))),
                         reason=data.get("reason", ""),
                         context=data.get("context") if isinstance(data.get("context"), dict) else None,
                         expected_state=data.get("expected_state"), correlation_id=_correlation_id())


@bp.post("/tasks/transitions")
@api_login_required
def transition_tasks():
    """Many task transitions in one request and one transaction (a field team syncing a day's work):
    `{"transitions": [{"task_id", "to_state", "reason", "context", "expected_state"}, ...]}`, applied
    in order, each on its own: 200 with one result per item (`ok`, or the refusal's error_code,
    message and details, as the single endpoint would answer)."""
    data = json_body()
    return jsonify(transitions_batch_json(transition_many(api_user(), data.get("transitions"))))


@bp.get("/action-plans")
@api_login_required
def action_plans():
    user = api_user()
    stmt = svc.action_plans_query(user, status=request.args.get("status"),
                                  service_area=request.args.get("service_area") or None)
    return jsonify(succeeded(paginated(paginate(stmt, *page_args()), lambda p: workflow_action_plan_json(p, user))))


@bp.post("/action-plans")
@api_login_required
def create_action_plan():
    plan = svc.create_action_plan(api_user(), json_body())
    return jsonify(action_plan_created_json(plan, api_user())), 201


@bp.get("/action-plans/<int:plan_id>")
@api_login_required
def action_plan(plan_id: int):
    detail = svc.action_plan_detail(api_user(), plan_id)
    return jsonify(action_plan_detail_json(detail.plan, api_user(), detail.history))


def _plan_change(plan_id: int, to_state: str):
    data = request.get_json(silent=True) or {}
    reason = data.get("reason", "") if isinstance(data, dict) else ""
    return _transitioned("action_plan", plan_id, to_state, reason=reason, correlation_id=_correlation_id())


@bp.post("/action-plans/<int:plan_id>/activate")
@api_login_required
def activate_action_plan(plan_id: int):
    return _plan_change(plan_id, "active")


@bp.post("/action-plans/<int:plan_id>/archive")
@api_login_required
def archive_action_plan(plan_id: int):
    return _plan_change(plan_id, "archived")


@bp.get("/metadata")
@api_login_required
def metadata():
    return jsonify(succeeded(workflow_stats.metadata(api_user())))


@bp.get("/stats")
@api_login_required
def stats():
    return jsonify(succeeded(workflow_stats.stats(api_user())))
