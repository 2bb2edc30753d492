"""Which workflow takes a ticket: exact department + category + sub-category, else the workflow for
department + category with no sub-category; only published and deployed workflows count.

Names are compared case-insensitively, ignoring surrounding spaces (senders are not consistent).
A workflow for another sub-category of the same category never takes the ticket.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models import Category, Department, StaffRole, Workflow, WorkflowStatus, WorkflowStep
from app.services.platform.bulk_insert import Deferred, send


@dataclass(frozen=True)
class Route:
    """A deployed workflow and its first step (step fields are None when it has no steps)."""

    workflow_id: int
    workflow_name: str
    end_logic: str
    step_id: int | None = None
    step_name: str | None = None
    role_id: int | None = None
    role_name: str | None = None


def _key(department, category, sub_category) -> tuple:
    def norm(value):
        return (value or "").strip().casefold() or None

    return norm(department), norm(category), norm(sub_category)


# {(database, project): (stamp, index)}: the index is rebuilt only when the project's workflows
# change (their count or latest updated_at; steps change only in drafts, and deploying stamps).
_CACHE: dict[tuple[str, int], tuple[tuple, dict]] = {}


_STAMP = select(func.count(), func.max(Workflow.updated_at)).where(Workflow.project_id == bindparam("project_id"))
# The same stamp as two columns (bind parameter `project_id`), for a query that reads something else too.
STAMP_COLUMNS = tuple(select(column).where(Workflow.project_id == bindparam("project_id")).scalar_subquery()
                      for column in (func.count(), func.max(Workflow.updated_at)))


def send_matching_stamp(project_id: int) -> Deferred:
    """The query that tells whether the project's cached index is still good, answered later (see
    `Deferred`: intake sends it with the staffing read)."""
    return send(_STAMP, {"project_id": project_id})


def _cache_key(project_id: int) -> tuple[str, int]:
    return str(db.session.get_bind().url), project_id


def cached_matching_index(project_id: int) -> dict[tuple, Route] | None:
    """The index built last for this project, perhaps stale (`matching_index` checks)."""
    cached = _CACHE.get(_cache_key(project_id))
    return cached[1] if cached is not None else None


def matching_is_current(project_id: int, stamp: tuple) -> bool:
    """Whether the index built last for this project is still good (`stamp`: the row of
    `send_matching_stamp`, or the `STAMP_COLUMNS` of another)."""
    cached = _CACHE.get(_cache_key(project_id))
    return cached is not None and cached[0] == tuple(stamp)


def matching_index(project_id: int, stamp: Deferred | None = None) -> dict[tuple, Route]:
    """Every published, deployed workflow of the project by its (department, category,
    sub-category) key, with its first step by order. One small query when nothing changed
    (`stamp`: that query, already sent)."""
    stamp = tuple((stamp or send_matching_stamp(project_id)).all()[0])
    if matching_is_current(project_id, stamp):
        return _CACHE[_cache_key(project_id)][1]
    index = _build_index(project_id)
    _CACHE[_cache_key(project_id)] = (stamp, index)
    return index


def _build_index(project_id: int) -> dict[tuple, Route]:
    sub = aliased(Category)
    rows = db.session.execute(
        select(Workflow.id, Workflow.name, Workflow.end_logic, Department.name, Category.name, sub.name)
        .join(Department, Department.id == Workflow.department_id)
        .join(Category, Category.id == Workflow.category_id)
        .outerjoin(sub, sub.id == Workflow.sub_category_id)
        .where(Workflow.project_id == project_id, Workflow.is_published.is_(True),
               Workflow.status == WorkflowStatus.DEPLOYED.value)
        .order_by(Workflow.id)
    ).all()
    if not rows:
        return {}
    first_steps: dict[int, tuple] = {}
    for step in db.session.execute(
        select(WorkflowStep.workflow_id, WorkflowStep.id, WorkflowStep.name, StaffRole.id, StaffRole.name)
        .join(StaffRole, StaffRole.id == WorkflowStep.role_id)
        .where(WorkflowStep.workflow_id.in_([r[0] for r in rows]))
        .order_by(WorkflowStep.workflow_id, WorkflowStep.order, WorkflowStep.id)
    ).all():
        first_steps.setdefault(step[0], step[1:])
    index: dict[tuple, Route] = {}
    for wf_id, name, end_logic, department, category, sub_name in rows:
        step = first_steps.get(wf_id)
        route = Route(wf_id, name, end_logic, *(step or ()))
        index.setdefault(_key(department, category, sub_name), route)  # oldest wins a (rare) tie
    return index


def match(index: dict[tuple, Route], department, category, sub_category) -> Route | None:
    """The route for a ticket: exact key first, then the department + category workflow."""
    key = _key(department, category, sub_category)
    if key[2] is not None and key in index:
        return index[key]
    return index.get((key[0], key[1], None))


def find_matching_workflow(project_id: int, department, category, sub_category) -> Route | None:
    """The seed's helper, for one ticket."""
    return match(matching_index(project_id), department, category, sub_category)
