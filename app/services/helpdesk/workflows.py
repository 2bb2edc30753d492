"""Workflow admin: workflows and their steps, publish and deploy.

Steps change only while a workflow is a draft; a deployed workflow is what live tickets match.
At most one published, deployed workflow per (department, category, sub-category) in a project,
so matching is never a coin toss.
"""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import (
    Category, Department, Permission, StaffRole, Task, User, Workflow, WorkflowStatus, WorkflowStep, utcnow,
)
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.schemas.helpdesk import StepIn, StepMove, WorkflowChanges, WorkflowIn
from app.services.platform.access import project_scope, resolve_project
from app.services.platform.errors import Conflict, FieldErrors, NotFound


def workflows_query(user: User, status: str | None = None, project_id: int | None = None) -> Select:
    stmt = select(Workflow).where(Workflow.project_id.in_(project_scope(user)))
    if status:
        stmt = stmt.where(Workflow.status == status)
    if project_id is not None:
        stmt = stmt.where(Workflow.project_id == project_id)
    return stmt.order_by(Workflow.name, Workflow.id)


def get_workflow(user: User, workflow_id) -> Workflow:
    found = db.session.execute(select(Workflow).where(
        Workflow.id == _id_or_404(workflow_id, "workflow"), Workflow.project_id.in_(project_scope(user)))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound(f"No workflow {workflow_id}")
    return found


def _id_or_404(raw, label: str) -> int:
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise NotFound(f"No {label} {raw!r}") from None


def _in_project(model, project_id: int | None, row_id: int | None, errors: FieldErrors, field: str, label: str):
    if row_id is None or project_id is None:
        return None
    row = db.session.get(model, row_id)
    if row is None or row.project_id != project_id:
        errors.add(field, f"{label} {row_id} does not exist in this project")
        return None
    return row


def _checked(user: User, data: WorkflowChanges, workflow: Workflow | None) -> dict:
    """The column values of the fields `data` gives (all of them for a new workflow), after what
    needs the database: the project, and its department and categories (the sub-category under the
    category); each problem named under its field."""
    errors = FieldErrors()
    project_id = workflow.project_id if workflow else resolve_project(user, data.project_id, errors)
    given = data.model_fields_set if workflow else set(WorkflowIn.model_fields)
    out = data.model_dump(include=given & {"name", "description", "end_logic"})
    routing = ("department_id", "category_id", "sub_category_id")
    if given & set(routing):
        wanted = {field: getattr(data, field) if field in given or workflow is None else getattr(workflow, field)
                  for field in routing}
        department = _in_project(Department, project_id, wanted["department_id"], errors, "department_id",
                                 "department")
        category = _in_project(Category, project_id, wanted["category_id"], errors, "category_id", "category")
        sub = _in_project(Category, project_id, wanted["sub_category_id"], errors, "sub_category_id", "category")
        if category is not None and category.parent_id is not None:
            errors.add("category_id", f"'{category.name}' is a sub-category; choose a top-level category")
        if sub is not None and category is not None and sub.parent_id != category.id:
            errors.add("sub_category_id", f"'{sub.name}' is not a sub-category of '{category.name}'")
        out.update(department_id=department.id if department else None, category_id=category.id if category else None,
                   sub_category_id=sub.id if sub else None)
    errors.raise_if_any("Cannot save workflow")
    out["project_id"] = project_id
    return out


def create_workflow(user: User, data: WorkflowIn) -> Workflow:
    """A new draft workflow (unpublished); validation errors name every bad field."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    values = _checked(user, data, None)
    workflow = Workflow(created_by_id=user.id, is_published=False, status=WorkflowStatus.DRAFT.value, **values)
    db.session.add(workflow)
    db.session.flush()
    audit.record(user, "create", "workflow", workflow.id, {"name": workflow.name})
    db.session.commit()
    return workflow


def _require_draft(workflow: Workflow) -> None:
    if workflow.status != WorkflowStatus.DRAFT:
        raise Conflict(f"Workflow '{workflow.name}' is deployed; take it back to draft to change it.")


def update_workflow(user: User, workflow_id, data: WorkflowChanges) -> Workflow:
    """Change the fields `data` gives of a draft workflow."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    _require_draft(workflow)
    values = _checked(user, data, workflow)
    values.pop("project_id")
    for key, value in values.items():
        setattr(workflow, key, value)
    audit.record(user, "update", "workflow", workflow.id, {k: v for k, v in values.items() if k != "description"})
    db.session.commit()
    return workflow


def add_step(user: User, workflow_id, data: StepIn) -> WorkflowStep:
    """Append a step (or put it at `order`); its role must be one of the project's staff roles."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    _require_draft(workflow)
    errors = FieldErrors()
    role = _in_project(StaffRole, workflow.project_id, data.role_id, errors, "role_id", "role")
    errors.raise_if_any("Cannot add step")
    order = data.order or max((s.order for s in workflow.steps), default=0) + 1
    step = WorkflowStep(workflow=workflow, name=data.name, role_id=role.id, order=order)
    db.session.add(step)
    db.session.flush()
    audit.record(user, "add_step", "workflow", workflow.id, {"step": data.name, "role": role.name, "order": order})
    db.session.commit()
    return step


def _step_of(workflow: Workflow, step_id) -> WorkflowStep:
    step = next((s for s in workflow.steps if str(s.id) == str(step_id)), None)
    if step is None:
        raise NotFound(f"Workflow '{workflow.name}' has no step {step_id}")
    return step


def delete_step(user: User, workflow_id, step_id) -> None:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    _require_draft(workflow)
    step = _step_of(workflow, step_id)
    used = db.session.scalar(select(func.count()).select_from(Task).where(Task.current_step_id == step.id))
    if used:
        raise Conflict(f"Step '{step.name}' is the current step of {used} task(s); it cannot be deleted.")
    workflow.steps.remove(step)
    audit.record(user, "delete_step", "workflow", workflow.id, {"step": step.name})
    db.session.commit()


def move_step(user: User, workflow_id, step_id, move: StepMove) -> Workflow:
    """Swap a step with its neighbour (up or down); orders are renumbered 1..n."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    _require_draft(workflow)
    steps = list(workflow.steps)
    i = steps.index(_step_of(workflow, step_id))
    j = i - 1 if move.direction == "up" else i + 1
    if 0 <= j < len(steps):
        steps[i], steps[j] = steps[j], steps[i]
    for n, step in enumerate(steps, start=1):
        step.order = n
    db.session.commit()
    db.session.refresh(workflow)
    return workflow


def _live_clash(workflow: Workflow) -> Workflow | None:
    return db.session.execute(select(Workflow).where(
        Workflow.project_id == workflow.project_id, Workflow.id != workflow.id, Workflow.is_published.is_(True),
        Workflow.status == WorkflowStatus.DEPLOYED.value, Workflow.department_id == workflow.department_id,
        Workflow.category_id == workflow.category_id,
        Workflow.sub_category_id.is_(None) if workflow.sub_category_id is None
        else Workflow.sub_category_id == workflow.sub_category_id)).scalars().first()


def _check_live(workflow: Workflow) -> None:
    if workflow.is_published and workflow.status == WorkflowStatus.DEPLOYED:
        other = _live_clash(workflow)
        if other is not None:
            db.session.rollback()
            raise Conflict(f"Workflow '{other.name}' already takes these tickets (same department, category and "
                           f"sub-category); take it back to draft or unpublish it first.")


def set_published(user: User, workflow_id, published: bool) -> Workflow:
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    workflow.is_published = bool(published)
    _check_live(workflow)
    audit.record(user, "publish" if published else "unpublish", "workflow", workflow.id)
    db.session.commit()
    return workflow


def set_deployed(user: User, workflow_id, deployed: bool) -> Workflow:
    """Deploy (it needs steps) or take back to draft; new tickets match it only when published too."""
    require_permission(user, Permission.MANAGE_WORKFLOWS)
    workflow = get_workflow(user, workflow_id)
    if deployed and not workflow.steps:
        errors = FieldErrors()
        errors.add("steps", "add at least one step before deploying")
        errors.raise_if_any(f"Cannot deploy workflow '{workflow.name}'")
    workflow.status = (WorkflowStatus.DEPLOYED if deployed else WorkflowStatus.DRAFT).value
    workflow.deployed_at = utcnow() if deployed else workflow.deployed_at
    _check_live(workflow)
    audit.record(user, "deploy" if deployed else "undeploy", "workflow", workflow.id)
    db.session.commit()
    return workflow


def task_counts_by_workflow(workflow_ids: list[int]) -> dict[int, int]:
    if not workflow_ids:
        return {}
    return dict(db.session.execute(select(Task.workflow_id, func.count()).where(Task.workflow_id.in_(workflow_ids))
                                   .group_by(Task.workflow_id)).all())
