"""POST /api/auth/token: exchange a username and password for a short-lived Bearer token."""
from flask import jsonify, request

from app.blueprints.api import bp
from app.blueprints.api.pagination import json_body
from app.security import api_login_required, api_user
from app.services.platform.tokens import issue_user_token
from app.services.platform.errors import FieldErrors
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
        return jsonify({"error": "Invalid username or password", "details": {}}), 401
    access_token, expires_in = issue_user_token(user)
    return jsonify({"access_token": access_token, "token_type": "Bearer", "expires_in": expires_in})


@bp.get("/me/")
@api_login_required
def me():
    user = api_user()
    return jsonify({"id": user.id, "username": user.username, "role": user.role.name,
                    "permissions": user.role.permissions, "projects": [{"id": p.id, "name": p.name} for p in user.projects]})
