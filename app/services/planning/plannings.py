"""Plannings: scoped reads, validated create/update, publish, soft delete."""
from __future__ import annotations

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Form, OrgUnit, Permission, Planning, Team, User, utcnow
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.schemas.planning import BUILTIN_PIPELINE, PlanningChanges, PlanningIn, PublishingStatus
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import FieldErrors, NotFound, ValidationFailed


def plannings_query(user: User, search: str | None = None, published: bool | None = None,
                    org_unit_id: int | None = None, team_id: int | None = None, project_id: int | None = None) -> Select:
    stmt = select(Planning).where(Planning.project_id.in_(project_scope(user)), Planning.deleted_at.is_(None))
    if drafts_hidden(user):
        stmt = stmt.where(Planning.published_at.is_not(None))
    if search:
        stmt = stmt.where(Planning.name.ilike(f"%{search.strip()}%"))
    if published is True:
        stmt = stmt.where(Planning.published_at.is_not(None))
    elif published is False:
        stmt = stmt.where(Planning.published_at.is_(None))
    if org_unit_id is not None:
        stmt = stmt.where(Planning.org_unit_id == org_unit_id)
    if team_id is not None:
        stmt = stmt.where(Planning.team_id == team_id)
    if project_id is not None:
        stmt = stmt.where(Planning.project_id == project_id)
    return stmt.order_by(Planning.created_at.desc(), Planning.id.desc())


def drafts_hidden(user: User) -> bool:
    """Drafts are the planners' own: who may not manage plannings (agents) sees published ones only."""
    return not user.has_permission(Permission.MANAGE_PLANNING)


def get_planning(user: User, planning_id) -> Planning:
    """The live planning if the user's projects include it (and, for those who do not plan, it is
    published); 404 otherwise."""
    planning = get_scoped(Planning, planning_id, user, "planning")
    if planning.published_at is None and drafts_hidden(user):
        raise NotFound(f"No planning {planning.id}")
    return planning


def planning_input(principal, planning_id: int, invalid: str) -> Planning:
    """The planning a process's `planning_id` input names, checked as `GET /plannings/<id>` checks it; one
    the principal may not see reads as a missing one (ValidationFailed "<invalid> — planning_id: …")."""
    try:
        return get_planning(principal, planning_id)
    except NotFound:
        message = f"planning {planning_id} does not exist"
        raise ValidationFailed(f"{invalid} — planning_id: {message}", {"planning_id": [message]}) from None


def forms_query(user: User) -> Select:
    return select(Form).where(Form.project_id.in_(project_scope(user))).order_by(Form.name, Form.version)


def create_form(user: User, name: str, version: str = "1", project_id: int | None = None) -> Form:
    require_permission(user, Permission.MANAGE_PLANNING)
    errors = FieldErrors()
    if not (name or "").strip():
        errors.add("name", "is required")
    project = resolve_project(user, project_id, errors)
    errors.raise_if_any("Cannot create form")
    form = Form(project_id=project, name=name.strip()[:160], version=str(version or "1")[:40])
    db.session.add(form)
    db.session.commit()
    return form


def _in_project(model, row_id: int, project_id: int | None, field: str, errors: FieldErrors) -> bool:
    row = db.session.get(model, row_id)
    if row is None or row.project_id != project_id or getattr(row, "deleted_at", None) is not None:
        errors.add(field, f"{field.replace('_', ' ')} {row_id} does not exist in this project")
        return False
    return True


def _checked(data: PlanningChanges, given: set[str], project_id: int | None, planning: Planning | None,
             errors: FieldErrors) -> dict:
    """The column values of the `given` fields, after what needs the database: team, root and forms
    in the project, the name free, the dates in order (with the stored ones); each problem is
    recorded on `errors` under its field."""
    out: dict = {}
    if "name" in given:
        out["name"] = data.name
        clash = select(Planning.id).where(Planning.project_id == project_id, Planning.deleted_at.is_(None),
                                          func.lower(Planning.name) == data.name.lower())
        if planning is not None:
            clash = clash.where(Planning.id != planning.id)
        if project_id is not None and db.session.execute(clash).first():
            errors.add("name", f"a planning named '{data.name}' already exists in this project")
    if "description" in given:
        out["description"] = data.description or ""
    for field, column, model in (("team", "team_id", Team), ("org_unit", "org_unit_id", OrgUnit)):
        if field in given and _in_project(model, getattr(data, field), project_id, field, errors):
            out[column] = getattr(data, field)
    for field in ("started_at", "ended_at"):
        if field in given:
            out[field] = getattr(data, field)
    start = out.get("started_at", planning.started_at if planning else None)
    end = out.get("ended_at", planning.ended_at if planning else None)
    if start and end and end < start:
        errors.add("ended_at", "must not be before the start date")
    if "forms" in given:
        out["forms"] = []
        for form_id in dict.fromkeys(data.forms or []):
            form = db.session.get(Form, form_id)
            if form is None or form.project_id != project_id:
                errors.add("forms", f"form {form_id} does not exist in this project")
            else:
                out["forms"].append(form)
    if "pipeline_uuids" in given:
        out["pipeline_uuids"] = list(dict.fromkeys(data.pipeline_uuids or []))
    if data.publishing_status is not None:
        out["published"] = data.publishing_status == PublishingStatus.PUBLISHED
    return out


def _apply_publish(planning: Planning, published: bool | None) -> None:
    if published is True and planning.published_at is None:
        planning.published_at = utcnow()
    elif published is False:
        planning.published_at = None


def create_planning(user: User, data: PlanningIn, source: str = "web") -> Planning:
    """Create a planning; every bad field is named and nothing is written on error."""
    require_permission(user, Permission.MANAGE_PLANNING)
    errors = FieldErrors()
    project_id = resolve_project(user, data.project_id, errors)
    values = _checked(data, set(PlanningIn.model_fields), project_id, None, errors)
    errors.raise_if_any("Cannot save planning")
    published = values.pop("published", None)
    planning = Planning(created_by_id=user.id, project_id=project_id, **values)
    _apply_publish(planning, published)
    db.session.add(planning)
    db.session.flush()
    audit.record(user, "create", "planning", planning.id, {"name": planning.name}, source)
    db.session.commit()
    return planning


def update_planning(user: User, planning_id: int, data: PlanningChanges, source: str = "web") -> Planning:
    """Change the fields given (a planning stays in its project); every bad field is named."""
    require_permission(user, Permission.MANAGE_PLANNING)
    planning = get_planning(user, planning_id)
    errors = FieldErrors()
    if data.project_id is not None and data.project_id != planning.project_id:
        errors.add("project_id", "cannot be changed after creation")
    values = _checked(data, data.model_fields_set, planning.project_id, planning, errors)
    errors.raise_if_any("Cannot save planning")
    _apply_publish(planning, values.pop("published", None))
    changed = {}
    for key, value in values.items():
        before = getattr(planning, key)
        if key == "forms":
            before, value_repr = [f.id for f in before], [f.id for f in value]
        else:
            value_repr = value
        if before != value_repr:
            changed[key] = {"from": str(before), "to": str(value_repr)}
        setattr(planning, key, value)
    audit.record(user, "update", "planning", planning.id, changed, source)
    db.session.commit()
    return planning


def publish_planning(user: User, planning_id: int, published: bool = True) -> Planning:
    status = PublishingStatus.PUBLISHED if published else PublishingStatus.DRAFT
    return update_planning(user, planning_id, PlanningChanges(publishing_status=status))


def delete_planning(user: User, planning_id: int, source: str = "web") -> None:
    """Soft delete (Iaso keeps deleted plannings)."""
    require_permission(user, Permission.MANAGE_PLANNING)
    planning = get_planning(user, planning_id)
    planning.deleted_at = utcnow()
    audit.record(user, "delete", "planning", planning.id, {}, source)
    db.session.commit()


def available_pipelines(planning: Planning) -> list[str]:
    """Pipelines offered for sampling: the built-in one always, plus the planning's others."""
    return [BUILTIN_PIPELINE] + [p for p in (planning.pipeline_uuids or []) if p != BUILTIN_PIPELINE]
