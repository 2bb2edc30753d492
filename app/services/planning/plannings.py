"""Plannings: scoped reads, validated create/update, publish, soft delete."""
from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import Form, OrgUnit, Permission, Planning, Team, User, utcnow
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.services.platform.access import get_scoped, parse_int, project_scope, resolve_project
from app.services.platform.errors import FieldErrors

BUILTIN_PIPELINE = "lqas-sampling"


def plannings_query(user: User, search: str | None = None, published: bool | None = None,
                    org_unit_id: int | None = None, team_id: int | None = None, project_id: int | None = None) -> Select:
    stmt = select(Planning).where(Planning.project_id.in_(project_scope(user)), Planning.deleted_at.is_(None))
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


def get_planning(user: User, planning_id) -> Planning:
    """The live planning if the user's projects include it; 404 otherwise."""
    return get_scoped(Planning, planning_id, user, "planning")


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


def _parse_date(raw, field: str, errors: FieldErrors) -> date | None:
    if raw in (None, ""):
        return None
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        errors.add(field, f"must be a date like 2026-01-31, got {raw!r}")
        return None


def _valid_pipeline_id(value) -> bool:
    if value == BUILTIN_PIPELINE:
        return True
    try:
        uuid.UUID(str(value))
        return True
    except ValueError:
        return False


def _validate(user: User, data: dict, planning: Planning | None) -> dict:
    errors = FieldErrors()
    out: dict = {}
    project_id = planning.project_id if planning else resolve_project(user, data.get("project_id", data.get("project")), errors)
    if planning is None or "name" in data:
        out["name"] = errors.text(data, "name", 160)
    if planning is None or "description" in data:
        out["description"] = str(data.get("description") or "")[:5000]
    for field, key, model in (("team", "team_id", Team), ("org_unit", "org_unit_id", OrgUnit)):
        if planning is not None and field not in data and key not in data:
            continue
        raw = data.get(key, data.get(field))
        if raw in (None, ""):
            errors.add(field, "is required")
            continue
        value = parse_int(raw, errors, field)
        if value is None:
            continue
        row = db.session.get(model, value)
        if row is None or row.project_id != project_id or row.deleted_at is not None:
            errors.add(field, f"{field.replace('_', ' ')} {value} does not exist in this project")
        else:
            out[key] = value
    dates = {}
    for field in ("started_at", "ended_at"):
        if planning is None or field in data:
            dates[field] = out[field] = _parse_date(data.get(field), field, errors)
    start = dates.get("started_at", planning.started_at if planning else None)
    end = dates.get("ended_at", planning.ended_at if planning else None)
    if start and end and end < start:
        errors.add("ended_at", "must not be before started_at")
    if planning is None or "forms" in data:
        raw_forms = data.get("forms") or []
        if not isinstance(raw_forms, list):
            errors.add("forms", "must be a list of form ids")
            raw_forms = []
        forms = []
        for raw in raw_forms:
            form_id = parse_int(raw, errors, "forms")
            form = db.session.get(Form, form_id) if form_id is not None else None
            if form_id is not None and (form is None or form.project_id != project_id):
                errors.add("forms", f"form {form_id} does not exist in this project")
            elif form is not None:
                forms.append(form)
        out["forms"] = forms
    if planning is None or "pipeline_uuids" in data:
        raw_pipelines = data.get("pipeline_uuids") or []
        if not isinstance(raw_pipelines, list) or not all(isinstance(p, str) for p in raw_pipelines):
            errors.add("pipeline_uuids", "must be a list of pipeline ids")
            raw_pipelines = []
        for value in raw_pipelines:
            if not _valid_pipeline_id(value):
                errors.add("pipeline_uuids", f"'{value}' is neither '{BUILTIN_PIPELINE}' nor a pipeline UUID")
        out["pipeline_uuids"] = list(dict.fromkeys(raw_pipelines))
    status = data.get("publishing_status")
    if status is not None:
        if status not in ("published", "draft"):
            errors.add("publishing_status", "must be 'published' or 'draft'")
        else:
            out["published"] = status == "published"
    if project_id is not None and out.get("name"):
        clash = select(Planning.id).where(Planning.project_id == project_id, Planning.deleted_at.is_(None),
                                          func.lower(Planning.name) == out["name"].lower())
        if planning is not None:
            clash = clash.where(Planning.id != planning.id)
        if db.session.execute(clash).first():
            errors.add("name", f"a planning named '{out['name']}' already exists in this project")
    errors.raise_if_any("Cannot save planning")
    out["project_id"] = project_id
    return out


def _apply_publish(planning: Planning, values: dict) -> None:
    published = values.pop("published", None)
    if published is True and planning.published_at is None:
        planning.published_at = utcnow()
    elif published is False:
        planning.published_at = None


def create_planning(user: User, data: dict, source: str = "web") -> Planning:
    """Create a planning; every bad field is named and nothing is written on error."""
    require_permission(user, Permission.MANAGE_PLANNING)
    values = _validate(user, data, None)
    published = values.get("published")
    planning = Planning(created_by_id=user.id, **{k: v for k, v in values.items() if k != "published"})
    _apply_publish(planning, {"published": published})
    db.session.add(planning)
    db.session.flush()
    audit.record(user, "create", "planning", planning.id, {"name": planning.name}, source)
    db.session.commit()
    return planning


def update_planning(user: User, planning_id: int, data: dict, source: str = "web") -> Planning:
    require_permission(user, Permission.MANAGE_PLANNING)
    planning = get_planning(user, planning_id)
    values = _validate(user, data, planning)
    values.pop("project_id", None)
    _apply_publish(planning, values)
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
    return update_planning(user, planning_id, {"publishing_status": "published" if published else "draft"})


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
