"""Teams: hierarchy, members, colour; create and edit. Parse → one service call → render."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.services.planning import team_pages as pages
from app.services.planning import teams as svc

bp = Blueprint("teams", __name__, url_prefix="/teams")


@bp.get("/")
@login_required
def index():
    return render_template("teams/index.html", **vars(pages.team_tree(current_user)))


@bp.get("/<int:team_id>")
@login_required
def detail(team_id: int):
    return render_template("teams/detail.html", **vars(pages.team_page(current_user, team_id)))


@bp.post("/<int:team_id>")
@login_required
def update(team_id: int):
    data = {k: v for k, v in request.form.items() if k in ("name", "description", "colour", "manager_id")}
    if request.form.get("members") == "1":  # the members fieldset was on the form
        data["user_ids"] = request.form.getlist("user_ids")
    saved = pages.save_team(current_user, team_id, data)
    if saved.page is not None:
        return render_template("teams/detail.html", **vars(saved.page)), 400
    flash(f"Team '{saved.team.name}' saved.", "success")
    return redirect(url_for("teams.detail", team_id=saved.team.id))


def _new_page(form: pages.NewTeamForm, status: int = 200):
    return render_template("teams/new.html", **vars(form)), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    if request.method == "GET":
        return _new_page(pages.new_team_form(current_user, request.args.get("parent_id", "")))
    created = pages.create_team_from_form(current_user, request.form.to_dict(), request.form.getlist("user_ids"))
    if created.form is not None:
        return _new_page(created.form, 400)
    flash(f"Team '{created.team.name}' created.", "success")
    return redirect(url_for("teams.detail", team_id=created.team.id))


@bp.post("/<int:team_id>/delete")
@login_required
def delete(team_id: int):
    svc.delete_team(current_user, team_id)
    flash("Team deleted.", "success")
    return redirect(url_for("teams.index"))
