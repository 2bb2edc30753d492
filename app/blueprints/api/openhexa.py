"""OpenHEXA pipelines (Iaso contract): config, list, detail, launch, and the pipelines' PATCH callback."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import json_body
from app.blueprints.api.serializers import (
    openhexa_launch_json, openhexa_pipeline_json, openhexa_pipeline_list_json, openhexa_task_json,
)
from app.security import api_actor, api_login_required, api_user
from app.services.planning import openhexa as svc


@bp.get("/openhexa/pipelines/config/")
@api_login_required
def openhexa_config():
    return jsonify(svc.config_status())


@bp.get("/openhexa/pipelines/")
@api_login_required
def openhexa_pipelines():
    return jsonify(openhexa_pipeline_list_json(svc.list_pipelines(api_user())))


@bp.get("/openhexa/pipelines/<pipeline_id>/")
@api_login_required
def openhexa_pipeline(pipeline_id: str):
    return jsonify(openhexa_pipeline_json(*svc.pipeline_with_parameters(api_user(), pipeline_id)))


@bp.post("/openhexa/pipelines/<pipeline_id>/launch/")
@api_login_required
def openhexa_launch(pipeline_id: str):
    data = json_body()
    job = svc.launch(api_user(), pipeline_id, data.get("version"), data.get("config") or {}, request.host_url)
    return jsonify(openhexa_launch_json(job)), 201


@bp.patch("/openhexa/pipelines/<pipeline_id>/")
def openhexa_callback(pipeline_id: str):
    job = svc.apply_callback(api_actor(), pipeline_id, json_body())
    return jsonify(openhexa_task_json(job))
