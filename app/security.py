"""Who is asking: browser sessions (flask-login) and API Bearer tokens (JWT). What they may do is the
services' business (`app.services.platform.permissions`)."""
from __future__ import annotations

from functools import wraps

from flask import Flask, g, request
from flask_jwt_extended import get_jwt, get_jwt_identity, verify_jwt_in_request
from flask_jwt_extended.exceptions import JWTExtendedException
from flask_login import current_user
from jwt import PyJWTError
from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, joinedload

from app.extensions import csrf, db, jwt, login_manager
from app.models import User
from app.services.platform.errors import Forbidden
from app.services.platform.permissions import PipelineActor, Unauthorized


def init_app(app: Flask) -> None:
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please log in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"


# The users this process has loaded, by id: (principal_version, a detached copy with role and projects).
# A request reads the user's principal_version (one integer) and, while it is the one cached, works with a
# copy of the cached user instead of loading the user, role and projects again. Database triggers give the
# version a new, never-reused value on any change to the user, their role, memberships or projects
# (migration f3a9c2e7d5b1), so a deactivation or a removed permission counts from the next request, in
# every process.
_principals: dict[int, tuple[int, User]] = {}
_PRINCIPALS_KEPT = 10_000
_VERSION = select(User.principal_version).where(User.id == bindparam("id"), User.active.is_(True))


def active_user(user_id) -> User | None:
    """The active user with this id, with role and projects (every request does this: one integer read
    while the user is unchanged)."""
    if not str(user_id).isdigit():
        return None
    user_id = int(user_id)
    version = _principal_version(user_id)
    if version is None:
        _principals.pop(user_id, None)
        return None
    user = principal_at(user_id, version)
    return user if user is not None and user.is_active else None


def principal_at(user_id: int, version: int) -> User | None:
    """The user with role and projects, whose principal_version the caller read as `version`: a copy of
    the cached user while that is the version cached, else loaded (and cached)."""
    cached = _principals.get(user_id)
    if cached is not None and cached[0] == version:
        return db.session.merge(cached[1], load=False)
    user = db.session.get(User, user_id, options=[joinedload(User.projects)])
    if user is not None and user.is_active:
        _keep(user)
    return user


def _principal_version(user_id: int) -> int | None:
    """The active user's principal_version, read on its own (autocommit): no BEGIN and no ROLLBACK, so a
    request that reads nothing else (`GET /api/me/`, a poll answered from the cache) makes one round trip.
    A request that goes on to query starts its own transaction, as it would have anyway; what it sees is
    as current as within one transaction under READ COMMITTED, where each statement sees the latest commit."""
    with db.engine.connect() as connection:
        return connection.execution_options(isolation_level="AUTOCOMMIT").execute(_VERSION, {"id": user_id}).scalar()


def _keep(user: User) -> None:
    """Cache a detached copy of `user` as loaded (not one with changes pending in this session)."""
    if user in db.session.dirty or {"role", "projects", "principal_version"} & inspect(user).unloaded:
        return
    if len(_principals) >= _PRINCIPALS_KEPT and user.id not in _principals:
        return
    holder = Session()
    copy = holder.merge(user, load=False)  # copies the role and projects too (merge cascades)
    holder.close()
    _principals[user.id] = (user.principal_version, copy)


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
