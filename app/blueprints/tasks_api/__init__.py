"""The seed's task API under /tasks/api/tasks/ (Bearer only). Errors use the workflow family's shape,
`{"success": false, "message", "error_code", "details"}` (STYLE 8), built in `app/errors.py`.
Parse → one service call → JSON."""
from flask import Blueprint, jsonify, request

from app.blueprints.api.pagination import int_arg, json_body, page_args, paginated
from app.services.platform.paging import paginate
from app.blueprints.tickets_api.serializers import ticket_task_action_json, ticket_task_json
from app.security import api_login_required, api_user
from app.services.helpdesk import ticket_tasks as svc

bp = Blueprint("tasks_api", __name__, url_prefix="/tasks/api/tasks")


def _ok(task, message: str, status: int = 200):
    return jsonify(ticket_task_action_json(task, message, api_user())), status


def _reason() -> str:
    """The optional `reason` of an action's JSON body (the body itself is optional)."""
    data = request.get_json(silent=True)
    return str(data.get("reason") or "") if isinstance(data, dict) else ""


@bp.get("/")
@api_login_required
def tasks():
    """Filters: status (seed aliases accepted), ticket_id, workflow_id, user_id (assigned to the current step)."""
    user = api_user()
    stmt = svc.task_list_query(user, status=request.args.get("status"), mine=request.args.get("mine") in ("1", "true"),
                               assigned_user_id=int_arg("user_id") or int_arg("assigned_to"),
                               ticket_id=int_arg("ticket_id"), workflow_id=int_arg("workflow_id"),
                               project_id=int_arg("project_id"))
    return jsonify(paginated(paginate(stmt, *page_args()), lambda t: ticket_task_json(t, user)))


@bp.get("/<int:task_id>/")
@api_login_required
def task(task_id: int):
    return jsonify(ticket_task_json(svc.get_task(api_user(), task_id), api_user()))


@bp.post("/create_task_for_ticket/")
@api_login_required
def create_task_for_ticket():
    return _ok(svc.create_task_for_ticket(api_user(), json_body().get("ticket_id")), "Task created", 201)


@bp.post("/<int:task_id>/assign_user/")
@api_login_required
def assign_user(task_id: int):
    assignment = svc.assign_user(api_user(), task_id, json_body())
    return _ok(assignment.task, f"User {assignment.user_id} assigned")


@bp.post("/<int:task_id>/update_user_status/")
@api_login_required
def update_user_status(task_id: int):
    assignment = svc.update_user_status(api_user(), task_id, json_body())
    return _ok(assignment.task, f"User {assignment.user_id} is now {assignment.status}")


@bp.post("/<int:task_id>/complete_task/")
@api_login_required
def complete_task(task_id: int):
    return _ok(svc.complete_task(api_user(), task_id, _reason()), "Task completed")


@bp.post("/<int:task_id>/move_to_next_step/")
@api_login_required
def move_to_next_step(task_id: int):
    task = svc.move_to_next_step(api_user(), task_id)
    return _ok(task, "Task completed at its last step" if task.status == "completed"
               else f"Task moved to step '{task.current_step.name}'")


@bp.post("/<int:task_id>/<action>/")
@api_login_required
def action(task_id: int, action: str):
    """The board's other actions: start, block, resume, cancel."""
    task = svc.perform_action(api_user(), task_id, action, _reason())
    return _ok(task, f"Task {task.id} is now {task.status.replace('_', ' ')}")


@bp.get("/workflow_statistics/")
@api_login_required
def workflow_statistics():
    return jsonify(svc.workflow_statistics(api_user(), int_arg("project_id")))
