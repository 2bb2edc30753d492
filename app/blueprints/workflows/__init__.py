"""Workflow admin pages (MANAGE_WORKFLOWS): workflows with their steps, publish and deploy;
departments and categories; staff roles and their users (`roles.py`). `bp` lives in `blueprint.py`."""
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from app.blueprints.workflows import roles  # noqa: F401  (adds the staff role pages to bp)
from app.blueprints.workflows.blueprint import all_rows, bp, manage
from app.extensions import db
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk import workflows as svc
from app.services.platform.errors import ValidationFailed


def _index_page(form: dict | None = None, errors: dict | None = None, status: int = 200):
    workflows = all_rows(svc.workflows_query(current_user))
    return render_template(
        "workflows/index.html", workflows=workflows, form=form or {}, errors=errors or {},
        departments=all_rows(catalog.departments_query(current_user)),
        categories=all_rows(catalog.categories_query(current_user)),
        task_counts=svc.task_counts_by_workflow([w.id for w in workflows]), projects=current_user.projects), status


@bp.get("/")
@manage
def index():
    return _index_page()


@bp.post("/")
@manage
def create():
    form = {k: v for k, v in request.form.items() if k != "csrf_token"}
    try:
        workflow = svc.create_workflow(current_user, form)
    except ValidationFailed as exc:
        return _index_page(form, exc.details, 400)
    flash(f"Workflow '{workflow.name}' created as a draft. Add its steps, then deploy and publish it.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow.id))


@bp.post("/departments")
@manage
def create_department():
    try:
        department = catalog.create_department(current_user, request.form.to_dict())
    except ValidationFailed as exc:
        return _index_page({}, {f"department_{k}": v for k, v in exc.details.items()}, 400)
    flash(f"Department '{department.name}' added.", "success")
    return redirect(url_for("workflows.index"))


@bp.post("/categories")
@manage
def create_category():
    try:
        category = catalog.create_category(current_user, request.form.to_dict())
    except ValidationFailed as exc:
        return _index_page({}, {f"category_{k}": v for k, v in exc.details.items()}, 400)
    flash(f"{'Sub-category' if category.parent_id else 'Category'} '{category.name}' added.", "success")
    return redirect(url_for("workflows.index"))


def _detail_page(workflow, errors: dict | None = None, status: int = 200):
    return render_template("workflows/detail.html", workflow=workflow, errors=errors or {},
                           roles=all_rows(catalog.staff_roles_query(current_user, project_id=workflow.project_id)),
                           departments=all_rows(catalog.departments_query(current_user)),
                           categories=all_rows(catalog.categories_query(current_user)),
                           task_count=svc.task_counts_by_workflow([workflow.id]).get(workflow.id, 0)), status


@bp.get("/<int:workflow_id>")
@manage
def detail(workflow_id: int):
    return _detail_page(svc.get_workflow(current_user, workflow_id))


@bp.post("/<int:workflow_id>")
@manage
def update(workflow_id: int):
    try:
        svc.update_workflow(current_user, workflow_id, {k: v for k, v in request.form.items() if k != "csrf_token"})
    except ValidationFailed as exc:
        db.session.rollback()
        return _detail_page(svc.get_workflow(current_user, workflow_id), exc.details, 400)
    flash("Workflow saved.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps")
@manage
def add_step(workflow_id: int):
    try:
        step = svc.add_step(current_user, workflow_id, request.form.to_dict())
    except ValidationFailed as exc:
        db.session.rollback()
        return _detail_page(svc.get_workflow(current_user, workflow_id),
                            {f"step_{k}": v for k, v in exc.details.items()}, 400)
    flash(f"Step '{step.name}' added.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps/<int:step_id>/delete")
@manage
def delete_step(workflow_id: int, step_id: int):
    svc.delete_step(current_user, workflow_id, step_id)
    flash("Step deleted.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/steps/<int:step_id>/move")
@manage
def move_step(workflow_id: int, step_id: int):
    svc.move_step(current_user, workflow_id, step_id, request.form.get("direction", "down"))
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/publish")
@manage
def publish(workflow_id: int):
    workflow = svc.set_published(current_user, workflow_id, request.form.get("published") == "1")
    flash("Workflow published." if workflow.is_published else "Workflow unpublished.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))


@bp.post("/<int:workflow_id>/deploy")
@manage
def deploy(workflow_id: int):
    try:
        workflow = svc.set_deployed(current_user, workflow_id, request.form.get("deployed") == "1")
    except ValidationFailed as exc:
        return _detail_page(svc.get_workflow(current_user, workflow_id), exc.details, 400)
    flash("Workflow deployed." if workflow.status == "deployed" else "Workflow back to draft.", "success")
    return redirect(url_for("workflows.detail", workflow_id=workflow_id))
