"""The task board: columns by status, "my tasks", action buttons from `allowed_actions`, and each
assignee's own status. Actions answer with the refreshed board partial. Parse → one service call →
render."""
from flask import Blueprint, flash, redirect, request, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data, included, page_query
from app.blueprints.rendering import page_or_partial
from app.schemas.parsing import validate_data
from app.schemas.helpdesk import AvailabilityIn, BoardActionIn, BoardQuery
from app.services.helpdesk import availability
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


@bp.post("/<int:task_id>/reassign")
@login_required
def reassign(task_id: int):
    # the button asks for the reason (hx-prompt sends it in the HX-Prompt header)
    form = {"reason": request.headers.get("HX-Prompt") or request.form.get("reason", ""),
            **({"user_id": request.form["user_id"]} if request.form.get("user_id") else {})}
    return _render(svc.reassign_on_board(current_user, task_id, form, included(BoardQuery)))


@bp.post("/availability/<int:user_id>")
@login_required
def set_availability(user_id: int):
    change = availability.set_availability(current_user, user_id, validate_data(
        AvailabilityIn, form_data(AvailabilityIn), "Cannot change availability"))
    view = change.availability
    flash(f"{view.user.username} is {'away' if view.away else 'available'}"
          + (f"; {len(change.handed_back)} task(s) handed back" if change.handed_back else "")
          + (f"; {change.allocated} waiting ticket(s) assigned" if change.allocated else "") + ".", "success")
    role_id = request.args.get("role_id", type=int)  # set from a role's page: back to it
    return redirect(url_for("workflows.role", role_id=role_id) if role_id else url_for("tasks_board.index"))


@bp.post("/availability/<int:user_id>/leaves")
@login_required
def add_leave(user_id: int):
    refusal = availability.add_leave_from_form(current_user, user_id, {k: request.form.get(k) for k in
                                                                       ("starts_on", "ends_on", "note")})
    flash(refusal or "Leave added: no new tasks for you those days.", "error" if refusal else "success")
    return redirect(url_for("tasks_board.index"))


@bp.post("/leaves/<int:leave_id>/remove")
@login_required
def remove_leave(leave_id: int):
    availability.remove_leave(current_user, leave_id)
    flash("Leave removed.", "success")
    return redirect(url_for("tasks_board.index"))
