"""OpenHEXA pipelines (Iaso contract): config, list, detail, launch, and the pipelines' PATCH callback."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.serializers import (
    openhexa_launch_json, openhexa_pipeline_json, openhexa_pipeline_list_json,
)
from app.blueprints.operations import operation
from app.schemas.openhexa import (
    LaunchedTask, OpenHexaConfigStatus, OpenHexaPipelineDetail, OpenHexaPipelineList, PipelineLaunchIn,
    TaskUpdateIn,
)
from app.security import api_actor, api_user
from app.services.planning import openhexa as svc


@bp.get("/openhexa/pipelines/config/")
@operation(responses={200: OpenHexaConfigStatus})
def openhexa_config():
    """Whether OpenHEXA is configured (and the LQAS pipeline's code)"""
    return jsonify(svc.config_status())


@bp.get("/openhexa/pipelines/")
@operation(responses={200: OpenHexaPipelineList, 409: None, 502: None})
def openhexa_pipelines():
    """The workspace's OpenHEXA pipelines"""
    return jsonify(openhexa_pipeline_list_json(svc.list_pipelines(api_user())))


@bp.get("/openhexa/pipelines/<pipeline_id>/")
@operation(responses={200: OpenHexaPipelineDetail, 409: None, 502: None})
def openhexa_pipeline(pipeline_id: str):
    """An OpenHEXA pipeline with the parameters a person fills in"""
    return jsonify(openhexa_pipeline_json(*svc.pipeline_with_parameters(api_user(), pipeline_id)))


@bp.post("/openhexa/pipelines/<pipeline_id>/launch/")
@operation(body=PipelineLaunchIn, responses={201: LaunchedTask, 409: None})
def openhexa_launch(pipeline_id: str, body: PipelineLaunchIn):
    """Launch an OpenHEXA pipeline run; 201 with its Iaso task"""
    job = svc.launch(api_user(), pipeline_id, body.version, body.config, request.host_url)
    return jsonify(openhexa_launch_json(job)), 201


@bp.patch("/openhexa/pipelines/<pipeline_id>/")
@operation(body=TaskUpdateIn, auth="actor", responses={200: LaunchedTask})
def openhexa_callback(pipeline_id: str, body: TaskUpdateIn):
    """A pipeline run reports progress, messages, results (and optionally its status); Iaso's {"task": …}"""
    return jsonify(openhexa_launch_json(svc.apply_callback(api_actor(), pipeline_id, body)))
