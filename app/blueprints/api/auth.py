"""POST /api/auth/token: exchange a username and password for a short-lived Bearer token."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import json_body
from app.blueprints.api.serializers import me_json, token_json
from app.security import api_login_required, api_user
from app.services.platform.tokens import exchange_credentials


@bp.post("/auth/token")
def token():
    return jsonify(token_json(*exchange_credentials(json_body(), request.remote_addr)))


@bp.get("/me/")
@api_login_required
def me():
    return jsonify(me_json(api_user()))
