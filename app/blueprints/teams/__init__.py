"""Teams: hierarchy, members, colour; create and edit."""
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.extensions import db
from app.models import Team, User, user_projects
from app.services.planning import teams as svc
from app.services.platform.access import project_scope
from app.services.platform.errors import ValidationFailed

bp = Blueprint("teams", __name__, url_prefix="/teams")


def _project_users():
    return db.session.execute(
        select(User).join(user_projects, user_projects.c.user_id == User.id)
        .where(user_projects.c.project_id.in_(project_scope(current_user)), User.active.is_(True))
        .order_by(User.username).distinct()
    ).scalars().all()


@bp.get("/")
@login_required
def index():
    teams = db.session.execute(svc.teams_query(current_user)).scalars().all()
    by_parent: dict = {}
    for team in teams:
        by_parent.setdefault(team.parent_id, []).append(team)
    ids = {t.id for t in teams}
    roots = [t for t in teams if t.parent_id is None or t.parent_id not in ids]
    return render_template("teams/index.html", roots=roots, by_parent=by_parent, total=len(teams))


@bp.get("/<int:team_id>")
@login_required
def detail(team_id: int):
    team = svc.get_team(current_user, team_id)
    subs = db.session.execute(svc.teams_query(current_user, parent_id=team.id)).scalars().all()
    return render_template("teams/detail.html", team=team, sub_teams=subs, users=_project_users(), errors={})


@bp.post("/<int:team_id>")
@login_required
def update(team_id: int):
    data = {k: v for k, v in request.form.items() if k in ("name", "description", "colour", "manager_id")}
    if request.form.get("members") == "1":
        data["user_ids"] = request.form.getlist("user_ids")
    try:
        team = svc.update_team(current_user, team_id, data)
    except ValidationFailed as exc:
        team = svc.get_team(current_user, team_id)
        db.session.rollback()
        subs = db.session.execute(svc.teams_query(current_user, parent_id=team.id)).scalars().all()
        return render_template("teams/detail.html", team=team, sub_teams=subs, users=_project_users(),
                               errors=exc.details), 400
    flash(f"Team '{team.name}' saved.", "success")
    return redirect(url_for("teams.detail", team_id=team.id))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def create():
    errors, form = {}, request.form.to_dict() if request.method == "POST" else {"parent_id": request.args.get("parent_id", "")}
    if request.method == "POST":
        data = {**form, "user_ids": request.form.getlist("user_ids")}
        try:
            team = svc.create_team(current_user, data)
        except ValidationFailed as exc:
            errors = exc.details
        else:
            flash(f"Team '{team.name}' created.", "success")
            return redirect(url_for("teams.detail", team_id=team.id))
    parents = db.session.execute(svc.teams_query(current_user, team_type="TEAM_OF_TEAMS")).scalars().all()
    return render_template("teams/new.html", form=form, errors=errors, parents=parents, users=_project_users(),
                           projects=current_user.projects), 400 if errors else 200


@bp.post("/<int:team_id>/delete")
@login_required
def delete(team_id: int):
    svc.delete_team(current_user, team_id)
    flash("Team deleted.", "success")
    return redirect(url_for("teams.index"))


__all__ = ["bp", "Team"]
