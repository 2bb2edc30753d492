"""Workflow admin pages (MANAGE_WORKFLOWS, checked by the services): workflows with their steps,
publish and deploy; departments and categories; staff roles and their users (`roles.py`). `bp` lives
in `blueprint.py`. Parse → one service call → render."""
from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.blueprints.inputs import form_data
from app.blueprints.workflows import roles  # noqa: F401  (adds the staff role pages to bp)
from app.blueprints.workflows.blueprint import bp
from app.schemas.helpdesk import CategoryIn, DeployIn, DepartmentIn, PublishIn, StepIn, StepMove, WorkflowIn
from app.services.helpdesk import workflow_pages as pages
from app.services.helpdesk import workflows as svc


def _index_page(page: pages.WorkflowsPage, status: int = 200):
    return render_template("workflows/index.html", **vars(page)), status


def _detail_page(page: pages.WorkflowPage, status: int = 200):
    return render_template("workflows/detail.html", **vars(page)), status


@bp.get("/")
@login_required
def index():
    return _index_page(pages.workflows_page(current_user))


@bp.post("/")
@login_required
def create():
    saved = pages.create_workflow_from_form(current_user, form_data(WorkflowIn))
    if saved.page is not None:
        return _index_page(saved.page, 400)
    flash(f"Workflow '{saved.row.name}' created as a draft. Add its steps, then deploy and publish it.", "success")
    return redirect(url_for("workflows.detail", workflow_id=saved.row.id))


@bp.post("/departments")
@login_required
def create_department():
    saved = pages.create_department_from_form(current_user, form_data(DepartmentIn))
    if saved.page is not None:
        return _index_page(saved.page, 400)
    flash(f"Department '{saved.row.name}' added.", "success")
    return redirect(url_for("workflows.index"))


@bp.post("/categories")
@login_required
def create_category():
    saved = pages.create_category_from_form(current_user, form_data(CategoryIn))
    if saved.page is not None:
        return _index_page(saved.page, 400)
    flash(f"{'Sub-category' if saved.row.parent_id else 'Category'} '{saved.row.name}' added.", "success")
    return redirect(url_for("workflows.index"))


@bp.get("/<int:workflow_id>")
@login_required
def detail(workflow_id: int):
    return _detail_page(pages.workflow_page(current_user, workflow_id))


@bp.post("/<int:workflow_id>")
@login_required
def update(workflow_id: int):
    saved = pages.save_workflow_form(current_user, workflow_id, form_data(WorkflowIn))
    if saved.page is not None:
        return _detail_page(saved.page, 400)
    flash("Workflow saved.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps")
@login_required
def add_step(workflow_id: int):
    saved = pages.add_step_from_form(current_user, workflow_id, form_data(StepIn))
    if saved.page is not None:
        return _detail_page(saved.page, 400)
    flash(f"Step '{saved.row.name}' added.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps/<int:step_id>/delete")
@login_required
def delete_step(workflow_id: int, step_id: int):
    svc.delete_step(current_user, workflow_id, step_id)
    flash("Step deleted.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps/<int:step_id>/move")
@login_required
def move_step(workflow_id: int, step_id: int):
    pages.move_step_from_form(current_user, workflow_id, step_id, form_data(StepMove))
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/publish")
@login_required
def publish(workflow_id: int):
    workflow = pages.publish_from_form(current_user, workflow_id, form_data(PublishIn))
    flash("Workflow published." if workflow.is_published else "Workflow unpublished.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/deploy")
@login_required
def deploy(workflow_id: int):
    saved = pages.deploy_from_form(current_user, workflow_id, form_data(DeployIn))
    if saved.page is not None:
        return _detail_page(saved.page, 400)
    flash("Workflow deployed." if saved.row.status == "deployed" else "Workflow back to draft.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))
