"""The task board: columns by status, "my tasks", action buttons from `allowed_actions`, and each
assignee's own status. Actions answer with the refreshed board partial. Parse → one service call →
render."""
from flask import Blueprint, request
from flask_login import current_user, login_required

from app.blueprints.inputs import included, page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.helpdesk import BoardActionIn, BoardQuery
from app.services.helpdesk import task_board as svc

bp = Blueprint("tasks_board", __name__, url_prefix="/tasks")


def _render(board: svc.TaskBoard):
    return page_or_partial("tasks/board.html", "tasks/_board.html", **vars(board))


@bp.get("/")
@login_required
def index():
    return _render(svc.task_board(current_user, page_query(BoardQuery)))


@bp.post("/<int:task_id>/actions/<action>")
@login_required
def act(task_id: int, action: str):
    # block and cancel ask for a reason (hx-prompt sends it in the HX-Prompt header)
    reason = request.headers.get("HX-Prompt") or request.form.get("reason", "")
    return _render(svc.act_on_task(current_user, task_id, action, reason, included(BoardQuery),
                                   included(BoardActionIn).skip_remaining_steps))


@bp.post("/<int:task_id>/my-status")
@login_required
def my_status(task_id: int):
    return _render(svc.set_my_status(current_user, task_id, request.form.get("status"), included(BoardQuery)))
