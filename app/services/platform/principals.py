"""The user a request (or a job's worker) acts as, reused between requests while nothing about it changed.

The users this process has loaded are kept by id with their principal_version. A request reads the user's
version (one integer) and, while it is the one cached, works with a copy of the cached user instead of
loading the user, role and projects again. Database triggers give the version a new, never-reused value on
any change to the user, their role, memberships or projects (migration f3a9c2e7d5b1), so a deactivation or a
removed permission counts from the next request, in every process. `app.security` authenticates with it;
the job engine checks a job's launcher with it.
"""
from __future__ import annotations

from sqlalchemy import bindparam, inspect, select
from sqlalchemy.orm import Session, joinedload

from app.extensions import db
from app.models import User

# The users this process has loaded, by id: (principal_version, a detached copy with role and projects).
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
