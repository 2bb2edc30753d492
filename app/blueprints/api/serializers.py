"""The Iaso-style API's JSON shapes (/api/...): auth, org units and types, teams, microplanning
(plannings, assignments), OpenHEXA pipelines and their tasks. Job statusInfo is OGC's
(`app/blueprints/ogc/documents.py`); error bodies are built in `app/errors.py`."""
from __future__ import annotations

from app.models import Job, OrgUnit, OrgUnitType, Planning, Team, User
from app.services.processing import job_status as st


def iso(value):
    return value.isoformat().replace("+00:00", "Z") if value else None


def token_json(access_token: str, expires_in: int) -> dict:
    return {"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in}


def me_json(user: User) -> dict:
    return {"id": user.id, "username": user.username, "role": user.role.name,
            "permissions": user.role.permissions, "projects": [{"id": p.id, "name": p.name} for p in user.projects]}


def org_unit_type_json(t: OrgUnitType) -> dict:
    return {
        "id": t.id, "project_id": t.project_id, "name": t.name, "short_name": t.short_name, "depth": t.depth,
        "category": t.category, "sub_unit_types": [s.id for s in t.sub_unit_types],
    }


def org_unit_json(u: OrgUnit, with_geometry: bool = False) -> dict:
    out = {
        "id": u.id, "name": u.name, "project_id": u.project_id, "org_unit_type_id": u.org_unit_type_id,
        "org_unit_type_name": u.org_unit_type.name if u.org_unit_type else None,
        "parent_id": u.parent_id, "path": u.path.rstrip("."), "depth": u.depth,
        "latitude": u.latitude, "longitude": u.longitude, "area_type": u.area_type, "source_ref": u.source_ref,
        "created_at": iso(u.created_at), "updated_at": iso(u.updated_at),
    }
    if with_geometry:
        out["geometry"] = u.geometry
    return out


def user_brief(u: User | None) -> dict | None:
    if u is None:
        return None
    return {"id": u.id, "username": u.username, "full_name": u.full_name}


def team_json(t: Team) -> dict:
    return {
        "id": t.id, "project_id": t.project_id, "name": t.name, "description": t.description, "type": t.type,
        "parent_id": t.parent_id, "path": t.path.rstrip("."), "manager": user_brief(t.manager),
        "users": [user_brief(u) for u in t.users], "colour": t.colour,
        "created_at": iso(t.created_at), "updated_at": iso(t.updated_at),
    }


def planning_json(p) -> dict:
    return {
        "id": p.id, "name": p.name, "description": p.description, "project": p.project_id,
        "org_unit": p.org_unit_id, "org_unit_details": {"id": p.org_unit.id, "name": p.org_unit.name,
                                                        "org_unit_type": p.org_unit.org_unit_type_id},
        "team": p.team_id, "team_details": {"id": p.team.id, "name": p.team.name, "type": p.team.type},
        "forms": [f.id for f in p.forms], "started_at": p.started_at.isoformat() if p.started_at else None,
        "ended_at": p.ended_at.isoformat() if p.ended_at else None, "published_at": iso(p.published_at),
        "pipeline_uuids": p.pipeline_uuids or [], "created_at": iso(p.created_at), "updated_at": iso(p.updated_at),
    }


def assignment_json(a) -> dict:
    return {
        "id": a.id, "planning": a.planning_id, "org_unit": a.org_unit_id, "team": a.team_id, "user": a.user_id,
        "org_unit_details": {"id": a.org_unit.id, "name": a.org_unit.name, "org_unit_type": a.org_unit.org_unit_type_id},
        "created_by": a.created_by_id, "created_at": iso(a.created_at), "updated_at": iso(a.updated_at),
    }


def bulk_delete_json(planning: Planning, deleted: int) -> dict:
    """Iaso's answer (`message`, `deleted_count`, `planning_id`), with our earlier keys kept."""
    return {"message": f"{deleted} assignment(s) deleted", "deleted_count": deleted, "planning_id": planning.id,
            "planning": planning.id, "deleted": deleted}


def shorthand_bulk_create_json(planning: Planning, created: list) -> dict:
    """The seed's shorthand bulk create answer: a count and the assignments made."""
    return {"planning": planning.id, "created": len(created), "assignments": [assignment_json(a) for a in created]}


def openhexa_pipeline_list_json(pipelines: list[dict]) -> dict:
    return {"results": pipelines}


def openhexa_pipeline_json(pipeline: dict, parameters: list[dict]) -> dict:
    """A pipeline as OpenHEXA describes it, with only the parameters a person fills in."""
    return {**pipeline, "parameters": parameters}


def openhexa_task_json(job: Job) -> dict:
    """The Iaso task shape of an OpenHEXA run's job."""
    results = job.results or {}
    return {
        "id": job.number, "job_id": job.id, "name": job.process_id, "status": st.to_iaso(job.status, bool(results.get("skipped"))),
        "progress_value": job.progress, "end_value": 100, "progress_message": job.message,
        "result": results, "external_id": job.external_ref,
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "ended_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def openhexa_launch_json(job: Job) -> dict:
    return {"task": openhexa_task_json(job)}
