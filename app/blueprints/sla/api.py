"""/api/workflow/sla-configs (Bearer only, CSRF-exempt): list, create and change SLA configs.
Shapes in `app/blueprints/workflow_api/serializers.py`; errors take the workflow family's shape (`app/errors.py`)."""
from flask import Blueprint, jsonify

from app.blueprints.operations import operation
from app.blueprints.workflow_api.serializers import sla_config_list_json, sla_config_saved_json
from app.schemas.sla import SlaConfigChanges, SlaConfigFilters, SlaConfigIn, SlaConfigList, SlaConfigSaved
from app.security import api_user
from app.services.orchestration import sla_configs as svc

bp = Blueprint("sla_api", __name__, url_prefix="/api/workflow")


@bp.get("/sla-configs")
@operation(query=SlaConfigFilters, responses={200: SlaConfigList})
def sla_configs(query: SlaConfigFilters):
    """SLA configs: the global ones and those of your projects"""
    return jsonify(sla_config_list_json(svc.list_configs(api_user(), query.active_only)))


@bp.post("/sla-configs")
@operation(body=SlaConfigIn, responses={201: SlaConfigSaved})
def create_sla_config(body: SlaConfigIn):
    """Create an SLA config"""
    return jsonify(sla_config_saved_json(svc.save_config(api_user(), body), created=True)), 201


@bp.patch("/sla-configs/<int:config_id>")
@operation(body=SlaConfigChanges, responses={200: SlaConfigSaved})
def update_sla_config(config_id: int, body: SlaConfigChanges):
    """Change an SLA config (only the fields given)"""
    return jsonify(sla_config_saved_json(svc.save_config(api_user(), body, config_id), created=False))
