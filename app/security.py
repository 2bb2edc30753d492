"""Who is asking: browser sessions (flask-login) and API Bearer tokens (JWT). What they may do is the
services' business (`app.services.platform.permissions`)."""
from __future__ import annotations

from functools import wraps

from flask import Flask, g, request
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_login import current_user
from jwt import PyJWTError

from app.extensions import csrf, jwt, login_manager
from app.models import User
from app.services.platform.principals import active_user
from app.services.platform.errors import Forbidden
from app.services.platform.permissions import PipelineActor, Unauthorized


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    return active_user(user_id)


@login_manager.unauthorized_handler
def _unauthorized():
    from flask import redirect, url_for
    from htmx_flask import make_response

    if request.headers.get("HX-Request") == "true":
        # A partial request from an expired session: send the whole page to the login form.
        return make_response("", 401, {"HX-Redirect": url_for("auth.login", next=request.headers.get("HX-Current-URL", "/"))})
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


# --- API tokens -------------------------------------------------------------------------------

@jwt.user_lookup_loader
def _jwt_user(_header, payload) -> User | None:
    return active_user(payload.get("sub", ""))


def _verified_claims() -> dict:
    if not request.headers.get("Authorization", "").startswith("Bearer "):
        raise Unauthorized("Missing Bearer token in the Authorization header.")
    try:
        verify_jwt_in_request()
    except (JWTExtendedException, PyJWTError) as exc:
        message = str(exc) or type(exc).__name__
        if "expired" in message.lower():
            message = "Token has expired"
        raise Unauthorized(f"Invalid token: {message}") from None
    from flask_jwt_extended import current_user as jwt_user

    if jwt_user is None:
        raise Unauthorized(f"Unknown or inactive user {get_jwt_identity()}")
    return get_jwt()


def _bearer_user() -> User:
    """The user of a valid user-scoped Bearer token, or Unauthorized."""
    if _verified_claims().get("scope") != "user":
        raise Forbidden("This token is not allowed here.")
    from flask_jwt_extended import current_user as jwt_user

    return jwt_user


def api_actor() -> "User | PipelineActor":
    """The caller of an endpoint that pipeline tokens may also use."""
    claims = _verified_claims()
    from flask_jwt_extended import current_user as jwt_user

    if claims.get("scope") == "user":
        return jwt_user
    if claims.get("scope") == "pipeline" and claims.get("job_id"):
        return PipelineActor(claims["job_id"], claims.get("planning_id"), jwt_user)
    raise Forbidden("This token is not allowed here.")


def api_user() -> User:
    """The user calling the JSON API (Bearer only), cached on `g`."""
    if "api_user" not in g:
        g.api_user = _bearer_user()
    return g.api_user


def optional_api_user() -> User | None:
    """The caller of a public JSON endpoint that shows more to users: None without an Authorization
    header; with one, its token must be valid (else 401)."""
    return api_user() if request.headers.get("Authorization") else None


def current_actor() -> User:
    """The caller of an endpoint that serves both browsers and clients. An Authorization header makes
    it a token request: its token must be valid (else 401, whatever cookie comes with it). Without one,
    the session's user; neither is a 401."""
    if request.headers.get("Authorization"):
        return api_user()
    if current_user.is_authenticated:
        return current_user._get_current_object()
    raise Unauthorized("Log in, or send a Bearer token in the Authorization header.")


def changing_actor() -> User:
    """The caller of a state-changing endpoint that serves both browsers and clients (OGC execute and
    dismiss). Authentication comes first: no credentials is a 401, not a CSRF refusal. A valid Bearer
    token needs no CSRF token (a cross-site page cannot send one); a session needs its CSRF token — a
    bad or foreign Authorization header never stands in for it."""
    user = current_actor()
    if not request.headers.get("Authorization"):
        csrf.protect()
    return user


def api_login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        api_user()
        return view(*args, **kwargs)

    return wrapper
