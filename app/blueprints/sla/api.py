"""/api/workflow/sla-configs (Bearer only, CSRF-exempt): list, create and change SLA configs.
Shapes in `app/blueprints/workflow_api/serializers.py`; errors take the workflow family's shape (`app/errors.py`)."""
from flask import Blueprint, jsonify

from app.blueprints.api.pagination import json_body
from app.blueprints.workflow_api.serializers import sla_config_list_json, sla_config_saved_json
from app.security import api_login_required, api_user
from app.services.orchestration import sla_configs as svc

bp = Blueprint("sla_api", __name__, url_prefix="/api/workflow")


@bp.get("/sla-configs")
@api_login_required
def sla_configs():
    """Global configs and those of the caller's projects."""
    return jsonify(sla_config_list_json(svc.list_configs(api_user())))


@bp.post("/sla-configs")
@api_login_required
def create_sla_config():
    return jsonify(sla_config_saved_json(svc.save_config(api_user(), json_body()), created=True)), 201


@bp.patch("/sla-configs/<int:config_id>")
@api_login_required
def update_sla_config(config_id: int):
    return jsonify(sla_config_saved_json(svc.save_config(api_user(), json_body(), config_id), created=False))
