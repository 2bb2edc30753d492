"""Staff roles and their users (who round-robin picks from)."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.workflows.blueprint import all_rows, bp, manage
from app.extensions import db
from app.services.helpdesk import staff_roles as catalog
from app.services.platform.errors import ValidationFailed


def _roles_page(form: dict | None = None, errors: dict | None = None, status: int = 200):
    return render_template("workflows/roles.html", roles=all_rows(catalog.staff_roles_query(current_user)),
                           form=form or {"max_assignments": "3"}, errors=errors or {},
                           users=catalog.project_users(current_user), projects=current_user.projects), status


@bp.get("/roles")
@manage
def roles():
    return _roles_page()


@bp.post("/roles")
@manage
def create_role():
    form = {k: v for k, v in request.form.items() if k not in ("csrf_token", "user_ids")}
    try:
        role = catalog.create_staff_role(current_user, {**form, "user_ids": request.form.getlist("user_ids")})
    except ValidationFailed as exc:
        db.session.rollback()
        return _roles_page(form, exc.details, 400)
    flash(f"Role '{role.name}' created.", "success")
    return redirect(url_for("workflows.roles"))


@bp.get("/roles/<int:role_id>")
@manage
def role(role_id: int):
    return render_template("workflows/role.html", role=catalog.get_staff_role(current_user, role_id), errors={},
                           users=catalog.project_users(current_user))


@bp.post("/roles/<int:role_id>")
@manage
def update_role(role_id: int):
    data = {"description": request.form.get("description", ""), "max_assignments": request.form.get("max_assignments"),
            "user_ids": request.form.getlist("user_ids")}
    try:
        role = catalog.update_staff_role(current_user, role_id, data)
    except ValidationFailed as exc:
        db.session.rollback()
        return render_template("workflows/role.html", role=catalog.get_staff_role(current_user, role_id),
                               errors=exc.details, users=catalog.project_users(current_user)), 400
    flash(f"Role '{role.name}' saved.", "success")
    return redirect(url_for("workflows.roles"))
