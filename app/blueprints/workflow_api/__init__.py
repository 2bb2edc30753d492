"""The orchestration API under /api/workflow/ (Bearer only). Errors: the workflow family's shape,
`{"success": false, "message", "error_code", "details"}`, built in `app/errors.py`."""
from flask import Blueprint, jsonify, request

from app.blueprints.api.pagination import json_body, page_args, paginated
from app.services.platform.paging import paginate
from app.blueprints.workflow_api.serializers import (
    action_plan_created_json, action_plan_detail_json, succeeded, task_created_json, task_detail_json,
    transition_result_json, transitions_batch_json, workflow_action_plan_json, workflow_task_json,
)
from app.security import api_login_required, api_user
from app.services.orchestration import work_items as svc
from app.services.orchestration import stats as workflow_stats
from app.services.orchestration.state_machines import ACTION_PLAN
from app.services.orchestration.transitions import finish, transition
from app.services.orchestration.transitions import transition_tasks as transition_many

bp = Blueprint("workflow_api", __name__, url_prefix="/api/workflow")


def _changed(result, label: str):
    """Serialize the changed row, then commit (finish): the answer needs no reload after commit."""
    user = api_user()
    body = (workflow_task_json(result.entity, user) if label == "task"
            else workflow_action_plan_json(result.entity, user))
    finish(result)
    return jsonify(transition_result_json(label, body, result))


def _transition_body() -> dict:
    data = json_body()
    return {"to_state": data.get("to_state", data.get("state", data.get("to"))), "reason": data.get("reason", ""),
            "context": data.get("context") if isinstance(data.get("context"), dict) else None,
            "expected_state": data.get("expected_state"),
            "correlation_id": request.headers.get("X-Correlation-ID") or None}


@bp.get("/tasks")
@api_login_required
def tasks():
    """Filters: status (aliases accepted), task_type, service_area, priority, assignee_id, action_plan_id,
    mine=1 (created by or assigned to me), search (title)."""
    user = api_user()
    stmt = svc.tasks_query(user, **svc.parse_task_filters(request.args))
    return jsonify(succeeded(paginated(paginate(stmt, *page_args()), lambda t: workflow_task_json(t, user))))


@bp.post("/tasks")
@api_login_required
def create_task():
    task = svc.create_task(api_user(), json_body())
    return jsonify(task_created_json(task, api_user())), 201


@bp.get("/tasks/<int:task_id>")
@api_login_required
def task(task_id: int):
    user = api_user()
    item = svc.get_task(user, task_id)
    from app.services.orchestration import sla_reports

    return jsonify(task_detail_json(item, user, svc.state_history("task", item.id),
                                    sla_reports.task_sla_summary([item.id]).get(item.id)))


@bp.post("/tasks/<int:task_id>/transition")
@api_login_required
def transition_task(task_id: int):
    return _changed(transition(api_user(), "task", task_id, **_transition_body(), commit=False), "task")


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
    status = ACTION_PLAN.normalise(request.args["status"]) if request.args.get("status") else None
    stmt = svc.action_plans_query(user, status=status, service_area=request.args.get("service_area") or None)
    return jsonify(succeeded(paginated(paginate(stmt, *page_args()), lambda p: workflow_action_plan_json(p, user))))


@bp.post("/action-plans")
@api_login_required
def create_action_plan():
    plan = svc.create_action_plan(api_user(), json_body())
    return jsonify(action_plan_created_json(plan, api_user())), 201


@bp.get("/action-plans/<int:plan_id>")
@api_login_required
def action_plan(plan_id: int):
    user = api_user()
    plan = svc.get_action_plan(user, plan_id)
    return jsonify(action_plan_detail_json(plan, user, svc.state_history("action_plan", plan.id)))


def _plan_change(plan_id: int, to_state: str):
    data = request.get_json(silent=True) or {}
    reason = data.get("reason", "") if isinstance(data, dict) else ""
    result = transition(api_user(), "action_plan", plan_id, to_state, reason=reason,
                        correlation_id=request.headers.get("X-Correlation-ID") or None, commit=False)
    return _changed(result, "action_plan")


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
