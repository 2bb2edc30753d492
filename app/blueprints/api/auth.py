"""POST /api/auth/token: exchange a username and password for a short-lived Bearer token."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.pagination import json_body
from app.blueprints.api.serializers import me_json, token_json
from app.security import api_login_required, api_user
from app.services.platform.tokens import issue_user_token
from app.services.platform.errors import FieldErrors
from app.services.platform.permissions import Unauthorized
from app.services.platform.users import authenticate


@bp.post("/auth/token")
def token():
    data = json_body()
    errors = FieldErrors()
    for field in ("username", "password"):
        if not isinstance(data.get(field), str) or not data.get(field):
            errors.add(field, "is required")
    errors.raise_if_any("Cannot issue a token")
    user = authenticate(data["username"], data["password"], request.remote_addr)
    if user is None:
        raise Unauthorized("Invalid username or password")
    return jsonify(token_json(*issue_user_token(user)))


@bp.get("/me/")
@api_login_required
def me():
    return jsonify(me_json(api_user()))
