"""What the workflow admin pages show (MANAGE_WORKFLOWS): the workflows with their departments and
categories, one workflow with its steps; and the page forms (new workflow, department, category,
workflow details, a step, deploy). Each function checks the permission and the project and returns
plain values; a form with bad input comes back with every error named."""
from __future__ import annotations

from dataclasses import dataclass, field

from app.extensions import db
from app.models import Category, Department, Permission, Project, StaffRole, User, Workflow, WorkflowStep
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


def _prefixed(errors: dict, prefix: str) -> dict:
    """The errors of one of several forms on a page, named for that form's fields."""
    return {f"{prefix}_{k}": v for k, v in errors.items()}


def create_workflow_from_form(user: User, form: dict) -> Saved:
    """A new draft workflow from the workflows page's form."""
    try:
        return Saved(row=svc.create_workflow(user, form))
    except ValidationFailed as exc:
        return Saved(page=workflows_page(user, form, exc.details))


def create_department_from_form(user: User, form: dict) -> Saved:
    try:
        return Saved(row=catalog.create_department(user, form))
    except ValidationFailed as exc:
        return Saved(page=workflows_page(user, {}, _prefixed(exc.details, "department")))


def create_category_from_form(user: User, form: dict) -> Saved:
    """A category, or a sub-category (`parent_id`), from the workflows page's form."""
    try:
        return Saved(row=catalog.create_category(user, form))
    except ValidationFailed as exc:
        return Saved(page=workflows_page(user, {}, _prefixed(exc.details, "category")))


@dataclass
class WorkflowPage:
    workflow: Workflow
    roles: list[StaffRole]  # the staff roles of the workflow's project (for its steps)
    departments: list[Department]
    categories: list[Category]
    task_count: int
    errors: dict = field(default_factory=dict)


def workflow_page(user: User, workflow_id: int, errors: dict | None = None) -> WorkflowPage:
    """One workflow with its steps and the forms to change it."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = svc.get_workflow(user, workflow_id)
    return WorkflowPage(workflow, _rows(catalog.staff_roles_query(user, project_id=workflow.project_id)),
                        _rows(catalog.departments_query(user)), _rows(catalog.categories_query(user)),
                        svc.task_counts_by_workflow([workflow.id]).get(workflow.id, 0), errors or {})


def save_workflow_form(user: User, workflow_id: int, form: dict) -> Saved:
    """Change a draft workflow's details from its page's form."""
    try:
        return Saved(row=svc.update_workflow(user, workflow_id, form))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflow_page(user, workflow_id, exc.details))


def add_step_from_form(user: User, workflow_id: int, form: dict) -> Saved:
    """Add a step to a draft workflow from its page's form."""
    try:
        return Saved(row=svc.add_step(user, workflow_id, form))
    except ValidationFailed as exc:
        db.session.rollback()
        return Saved(page=workflow_page(user, workflow_id, _prefixed(exc.details, "step")))


def deploy_from_form(user: User, workflow_id: int, deployed: bool) -> Saved:
    """Deploy the workflow (it needs steps) or take it back to draft."""
    try:
        return Saved(row=svc.set_deployed(user, workflow_id, deployed))
    except ValidationFailed as exc:
        return Saved(page=workflow_page(user, workflow_id, exc.details))
