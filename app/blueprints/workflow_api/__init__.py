"""The orchestration API under /api/workflow/ (Bearer only). Errors: the workflow family's shape,
`{"success": false, "message", "error_code", "details"}`, built in `app/errors.py`."""
from flask import Blueprint, jsonify, request
from sqlalchemy import select

from app.blueprints.api.pagination import json_body, paginated
from app.extensions import db
from app.models import StateTransition
from app.security import api_login_required, api_user
from app.services.orchestration import work_items as svc
from app.services.orchestration import stats as workflow_stats
from app.services.orchestration.state_machines import ACTION_PLAN
from app.services.orchestration.transitions import finish, transition
from app.services.orchestration.transitions import transition_tasks as transition_many

bp = Blueprint("workflow_api", __name__, url_prefix="/api/workflow")


def _history(entity_type: str, entity_id: int) -> list[dict]:
    rows = db.session.execute(select(StateTransition).where(
        StateTransition.entity_type == entity_type, StateTransition.entity_id == entity_id)
        .order_by(StateTransition.id)).scalars()
    return [{"from": r.from_state, "to": r.to_state, "actor_id": r.actor_id, "reason": r.reason,
             "context": r.context, "correlation_id": r.correlation_id, "event_id": r.event_id,
             "at": r.at.isoformat().replace("+00:00", "Z")} for r in rows]


def _changed(result, label: str):
    """Serialize the changed row, then commit (finish): the answer needs no reload after commit."""
    user = api_user()
    body = svc.task_json(result.entity, user) if label == "task" else svc.action_plan_json(result.entity, user)
    finish(result)
    return jsonify({"success": True, "message": f"{label.replace('_', ' ').capitalize()} {body['id']} is now "
                    f"{result.to_state.replace('_', ' ')}", label: body,
                    "transition": {"from": result.from_state, "to": result.to_state, "event_id": result.event_id,
                                   "correlation_id": result.correlation_id}})


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
    return jsonify({"success": True, **paginated(stmt, lambda t: svc.task_json(t, user))})


@bp.post("/tasks")
@api_login_required
def create_task():
    task = svc.create_task(api_user(), json_body())
    return jsonify({"success": True, "message": f"Task {task.id} created",
                    "task": svc.task_json(task, api_user())}), 201


@bp.get("/tasks/<int:task_id>")
@api_login_required
def task(task_id: int):
    user = api_user()
    item = svc.get_task(user, task_id)
    from app.services.orchestration import sla_reports

    return jsonify({"success": True, "task": svc.task_json(item, user), "history": _history("task", item.id),
                    "sla": sla_reports.task_sla_summary([item.id]).get(item.id)})


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
    results = transition_many(api_user(), data.get("transitions"))
    applied = sum(1 for r in results if r["ok"])
    return jsonify({"success": applied == len(results), "message": f"{applied} of {len(results)} transitions applied",
                    "applied": applied, "refused": len(results) - applied, "results": results})


@bp.get("/action-plans")
@api_login_required
def action_plans():
    user = api_user()
    status = ACTION_PLAN.normalise(request.args["status"]) if request.args.get("status") else None
    stmt = svc.action_plans_query(user, status=status, service_area=request.args.get("service_area") or None)
    return jsonify({"success": True, **paginated(stmt, lambda p: svc.action_plan_json(p, user))})


@bp.post("/action-plans")
@api_login_required
def create_action_plan():
    plan = svc.create_action_plan(api_user(), json_body())
    return jsonify({"success": True, "message": f"Action plan {plan.id} created",
                    "action_plan": svc.action_plan_json(plan, api_user())}), 201


@bp.get("/action-plans/<int:plan_id>")
@api_login_required
def action_plan(plan_id: int):
    user = api_user()
    plan = svc.get_action_plan(user, plan_id)
    return jsonify({"success": True, "action_plan": svc.action_plan_json(plan, user),
                    "history": _history("action_plan", plan.id)})


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
    return jsonify({"success": True, **workflow_stats.metadata(api_user())})


@bp.get("/stats")
@api_login_required
def stats():
    return jsonify({"success": True, **workflow_stats.stats(api_user())})
