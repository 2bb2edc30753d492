"""/api/workflow/sla-configs (Bearer only, CSRF-exempt): list, create and change SLA configs.
Errors take the workflow family's shape (`app/errors.py`)."""
from flask import Blueprint, jsonify

from app.blueprints.api.pagination import json_body
from app.security import api_login_required, api_user
from app.services.orchestration import sla_configs as svc

bp = Blueprint("sla_api", __name__, url_prefix="/api/workflow")


@bp.get("/sla-configs")
@api_login_required
def sla_configs():
    """Global configs and those of the caller's projects."""
    return jsonify({"success": True, "items": [svc.config_json(c) for c in svc.list_configs(api_user())]})


@bp.post("/sla-configs")
@api_login_required
def create_sla_config():
    config = svc.save_config(api_user(), json_body())
    return jsonify({"success": True, "message": f"SLA config {config.id} created",
                    "sla_config": svc.config_json(config)}), 201


@bp.patch("/sla-configs/<int:config_id>")
@api_login_required
def update_sla_config(config_id: int):
    config = svc.save_config(api_user(), json_body(), config_id)
    return jsonify({"success": True, "message": f"SLA config {config.id} updated",
                    "sla_config": svc.config_json(config)})
