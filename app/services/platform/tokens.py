"""API tokens: short-lived JWTs for users (`scope: user`) and for one pipeline run (`scope: pipeline`,
limited to its job and planning)."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask_jwt_extended import create_access_token

from app.models import User
from app.schemas.auth import TokenIn
from app.services.platform.permissions import Unauthorized
from app.services.platform.users import authenticate


def issue_user_token(user: User) -> tuple[str, int]:
    """A short-lived access token for this user; returns (token, expires_in seconds)."""
    expires = current_app.config["JWT_ACCESS_TOKEN_EXPIRES"]
    token = create_access_token(identity=str(user.id), additional_claims={"scope": "user"})
    return token, int(expires.total_seconds())


def exchange_credentials(credentials: TokenIn, address: str) -> tuple[str, int]:
    """A user token for a username and password: (token, expires_in seconds); Unauthorized for wrong
    credentials. Failures are throttled per username and `address`."""
    user = authenticate(credentials, address)
    if user is None:
        raise Unauthorized("Invalid username or password")
    return issue_user_token(user)


def issue_pipeline_token(job_id: str, planning_id: int | None, launcher: User, expires: timedelta) -> str:
    """A JWT scoped to one job and one planning, valid for the run's timeout (plus a margin)."""
    return create_access_token(identity=str(launcher.id), expires_delta=expires,
                               additional_claims={"scope": "pipeline", "job_id": job_id, "planning_id": planning_id})
