"""POST /api/auth/token: exchange a username and password for a short-lived Bearer token."""
from flask import jsonify, request

from app.blueprints.api.blueprint import bp
from app.blueprints.api.serializers import me_json, token_json
from app.blueprints.operations import operation
from app.schemas.auth import MeOut, TokenIn, TokenOut
from app.security import api_user
from app.services.platform.tokens import exchange_credentials


@bp.post("/auth/token")
@operation(body=TokenIn, auth="public", responses={200: TokenOut, 401: None, 429: None})
def token(body: TokenIn):
    """A Bearer token for a username and password"""
    return jsonify(token_json(*exchange_credentials(body, request.remote_addr)))


@bp.get("/me/")
@operation(responses={200: MeOut})
def me():
    """The user the token belongs to"""
    return jsonify(me_json(api_user()))
