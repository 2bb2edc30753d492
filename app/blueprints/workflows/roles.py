"""Staff roles and their users (who round-robin picks from). Parse → one service call → render."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data
from app.blueprints.workflows.blueprint import bp
from app.schemas.helpdesk import StaffRoleChanges, StaffRoleIn
from app.services.helpdesk import staff_role_pages as pages


def _roles_page(page: pages.RolesPage, status: int = 200):
    return render_template("workflows/roles.html", **vars(page)), status


def _role_page(page: pages.RolePage, status: int = 200):
    return render_template("workflows/role.html", **vars(page)), status


@bp.get("/roles")
@login_required
def roles():
    return _roles_page(pages.roles_page(current_user))


@bp.post("/roles")
@login_required
def create_role():
    saved = pages.create_role_from_form(current_user, form_data(StaffRoleIn))
    if saved.page is not None:
        return _roles_page(saved.page, 400)
    flash(f"Role '{saved.role.name}' created.", "success")
    return redirect(url_for("workflows.roles"))


@bp.get("/roles/<int:role_id>")
@login_required
def role(role_id: int):
    return _role_page(pages.role_page(current_user, role_id))


@bp.post("/roles/<int:role_id>")
@login_required
def update_role(role_id: int):
    saved = pages.save_role_form(current_user, role_id, form_data(StaffRoleChanges))
    if saved.page is not None:
        return _role_page(saved.page, 400)
    flash(f"Role '{saved.role.name}' saved.", "success")
    return redirect(url_for("workflows.roles"))
