"""The task board: columns by status, "my tasks", action buttons from `allowed_actions`, and each
assignee's own status. Actions answer with the refreshed board partial."""
from flask import Blueprint, request
from flask_login import current_user, login_required

from app.blueprints.rendering import page_or_partial
from app.extensions import db
from app.services.helpdesk import ticket_tasks as svc
from app.services.helpdesk.task_board import board_columns
from app.services.helpdesk.workflows import workflows_query

bp = Blueprint("tasks_board", __name__, url_prefix="/tasks")


def _board(status_code: int = 200):
    mine = request.values.get("mine") == "1"
    workflow_id = request.values.get("workflow_id", type=int)
    board = board_columns(current_user, mine=mine, workflow_id=workflow_id)
    from app.services.orchestration.sla_reports import task_sla_summary

    sla = task_sla_summary([t.id for tasks in board["columns"].values() for t in tasks])
    return page_or_partial(
        "tasks/board.html", "tasks/_board.html", status_code, **board, mine=mine, workflow_id=workflow_id,
        highlight=request.values.get("task", type=int), actions=svc.ACTIONS, sla=sla, allowed=svc.allowed_actions,
        assignment_statuses=[s for s in svc.AssignmentStatus], current=svc.current_assignments,
        workflows=db.session.execute(workflows_query(current_user)).scalars().all())


@bp.get("/")
@login_required
def index():
    return _board()


@bp.post("/<int:task_id>/actions/<action>")
@login_required
def act(task_id: int, action: str):
    # block and cancel ask for a reason (hx-prompt sends it in the HX-Prompt header)
    reason = request.headers.get("HX-Prompt") or request.form.get("reason", "")
    svc.perform_action(current_user, task_id, action, reason)
    return _board()


@bp.post("/<int:task_id>/my-status")
@login_required
def my_status(task_id: int):
    svc.update_user_status(current_user, task_id, {"user_id": current_user.id, "status": request.form.get("status")})
    return _board()
