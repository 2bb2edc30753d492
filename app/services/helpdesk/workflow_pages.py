"""What the workflow admin pages show (MANAGE_WORKFLOWS): the workflows with their departments and
categories, one workflow with its steps; and the page forms (new workflow, department, category,
workflow details, a step, deploy). Each function checks the permission and the project and returns
plain values; a form with bad input comes back with every error named."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Category, Department, Permission, Project, StaffRole, User, Workflow, WorkflowStep
from app.schemas.helpdesk import (
    CategoryIn, DeployIn, DepartmentIn, PublishIn, StepIn, StepMove, WorkflowChanges, WorkflowIn,
)
from app.schemas.parsing import validate_data
from app.services.helpdesk import staff_roles as catalog
from app.services.helpdesk import workflows as svc
from app.services.platform.errors import ValidationFailed
from app.services.platform.permissions import require_permission


def _rows(stmt) -> list:
    return list(db.session.execute(stmt).scalars())


@dataclass
class WorkflowsPage:
    workflows: list[Workflow]
    departments: list[Department]
    categories: list[Category]
    task_counts: dict[int, int]  # workflow id → how many tasks
    projects: list[Project]
    form: dict = field(default_factory=dict)
    errors: dict = field(default_factory=dict)


def workflows_page(user: User, form: dict | None = None, errors: dict | None = None) -> WorkflowsPage:
    """The workflows of the user's projects, with the forms for a new workflow, department and category."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflows = _rows(svc.workflows_query(user))
    return WorkflowsPage(workflows, _rows(catalog.departments_query(user)), _rows(catalog.categories_query(user)),
                         svc.task_counts_by_workflow([w.id for w in workflows]), list(user.projects),
                         form or {}, errors or {})


@dataclass
class Saved:
    """A form submission on the workflows pages: what it made, or the page again with the errors."""

    row: Workflow | Department | Category | WorkflowStep | None = None
    page: WorkflowsPage | WorkflowPage | None = None


def _prefixed(values: dict, prefix: str) -> dict:
    """The values or errors of one of several forms on a page, named for that form's fields."""
    return {f"{prefix}_{k}": v for k, v in values.items()}


def create_workflow_from_form(user: User, form: dict) -> Saved:
    """A new draft workflow from the workflows page's form (as posted)."""
    try:
        return Saved(row=svc.create_workflow(user, validate_data(WorkflowIn, form, "Cannot save workflow")))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflows_page(user, form, exc.details))


def create_department_from_form(user: User, form: dict) -> Saved:
    try:
        return Saved(row=catalog.create_department(user, validate_data(DepartmentIn, form, "Cannot create department")))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflows_page(user, _prefixed(form, "department"), _prefixed(exc.details, "department")))


def create_category_from_form(user: User, form: dict) -> Saved:
    """A category, or a sub-category (`parent_id`), from the workflows page's form."""
    try:
        return Saved(row=catalog.create_category(user, validate_data(CategoryIn, form, "Cannot create category")))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflows_page(user, _prefixed(form, "category"), _prefixed(exc.details, "category")))


@dataclass
class WorkflowPage:
    workflow: Workflow
    roles: list[StaffRole]  # the staff roles of the workflow's project (for its steps)
    departments: list[Department]
    categories: list[Category]
    task_count: int
    form: dict  # the settings form: the workflow's values, or what was typed
    step: dict  # the new-step form: empty, or what was typed
    errors: dict = field(default_factory=dict)


def _settings(workflow: Workflow) -> dict:
    return {"name": workflow.name, "department_id": workflow.department_id, "category_id": workflow.category_id,
            "sub_category_id": workflow.sub_category_id or "", "end_logic": workflow.end_logic,
            "description": workflow.description}


def workflow_page(user: User, workflow_id: int, errors: dict | None = None, form: dict | None = None,
                  step: dict | None = None) -> WorkflowPage:
    """One workflow with its steps and the forms to change it (filled with `form` or `step` as typed)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = svc.get_workflow(user, workflow_id)
    return WorkflowPage(workflow, _rows(catalog.staff_roles_query(user, project_id=workflow.project_id)),
                        _rows(catalog.departments_query(user)), _rows(catalog.categories_query(user)),
                        svc.task_counts_by_workflow([workflow.id]).get(workflow.id, 0),
                        form if form is not None else _settings(workflow), step or {}, errors or {})


def save_workflow_form(user: User, workflow_id: int, form: dict) -> Saved:
    """Change a draft workflow's details from its page's form: every field on it is given, a blank
    one is cleared."""
    try:
        changes = validate_data(WorkflowChanges, {k: None if v == "" else v for k, v in form.items()},
                                "Cannot save workflow")
        return Saved(row=svc.update_workflow(user, workflow_id, changes))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflow_page(user, workflow_id, exc.details, form=form))


def add_step_from_form(user: User, workflow_id: int, form: dict) -> Saved:
    """Add a step to a draft workflow from its page's form."""
    try:
        return Saved(row=svc.add_step(user, workflow_id, validate_data(StepIn, form, "Cannot add step")))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflow_page(user, workflow_id, _prefixed(exc.details, "step"), step=form))


def deploy_from_form(user: User, workflow_id: int, form: dict) -> Saved:
    """Deploy the workflow (it needs steps) or take it back to draft (`deployed`)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    svc.get_workflow(user, workflow_id)
    try:
        return Saved(row=svc.set_deployed(user, workflow_id, validate_data(DeployIn, form, "Invalid form").deployed))
    except ValidationFailed as exc:
        return Saved(page=workflow_page(user, workflow_id, exc.details))


def publish_from_form(user: User, workflow_id: int, form: dict) -> Workflow:
    """Publish the workflow or take it off (`published`)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    svc.get_workflow(user, workflow_id)
    return svc.set_published(user, workflow_id, validate_data(PublishIn, form, "Invalid form").published)


def move_step_from_form(user: User, workflow_id: int, step_id: int, form: dict) -> Workflow:
    """Move a step of a draft workflow up or down (`direction`)."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    svc.get_workflow(user, workflow_id)
    return svc.move_step(user, workflow_id, step_id, validate_data(StepMove, form, "Invalid form"))
