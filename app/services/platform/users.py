"""Users, roles and projects: creation, authentication, login throttling."""
from __future__ import annotations

import logging

import redis
from flask import current_app
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from app.extensions import db, get_redis
from app.models import DEFAULT_ROLES, Project, Role, User, user_projects, utcnow
from app.schemas.auth import TokenIn
from app.schemas.users import ProfileIn, UserIn
from app.services.platform.access import project_scope
from app.services.platform.errors import FieldErrors, RateLimited

log = logging.getLogger(__name__)

_DUMMY_HASHES: dict[str, str] = {}


def hash_password(password: str) -> str:
    """The stored form of a password, with the configured method (scrypt unless overridden)."""
    return generate_password_hash(password, method=current_app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def _dummy_hash() -> str:
    """A hash to compare against when the username is unknown, so timing does not reveal it."""
    method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
    if method not in _DUMMY_HASHES:
        _DUMMY_HASHES[method] = generate_password_hash("fieldflow-dummy-password", method=method)
    return _DUMMY_HASHES[method]


def ensure_default_roles() -> dict[str, Role]:
    """Create the built-in roles if missing and keep their permissions current."""
    roles = {r.name: r for r in db.session.execute(select(Role)).scalars()}
    for name, (description, permissions) in DEFAULT_ROLES.items():
        role = roles.get(name)
        if role is None:
            role = Role(name=name, description=description, permissions=list(permissions))
            db.session.add(role)
            roles[name] = role
        elif sorted(role.permissions or []) != sorted(permissions):
            role.permissions = list(permissions)
    db.session.commit()
    return roles


def get_or_create_project(name: str) -> Project:
    project = db.session.execute(select(Project).where(Project.name == name)).scalar_one_or_none()
    if project is None:
        project = Project(name=name)
        db.session.add(project)
        db.session.flush()
    return project


def create_user(data: UserIn, commit: bool = True) -> User:
    """Create a user with a hashed password in its projects (created if missing); the username free and
    the role one of the roles, else ValidationFailed naming the field. `platform_operator` grants the
    deployment's consoles and project-less settings (never another project's rows)."""
    errors = FieldErrors()
    if db.session.execute(select(User.id).where(User.username == data.username)).first():
        errors.add("username", f"'{data.username}' is already taken")
    roles = {r.name: r for r in db.session.execute(select(Role)).scalars()}
    if not roles:
        roles = ensure_default_roles()
    if data.role not in roles:
        errors.add("role", f"unknown role '{data.role}'; choose one of {', '.join(sorted(roles))}")
    errors.raise_if_any("Cannot create user")
    user = User(username=data.username, password_hash=hash_password(data.password), role=roles[data.role],
                email=data.email, full_name=data.full_name, platform_operator=data.platform_operator)
    user.projects = [get_or_create_project(name) for name in dict.fromkeys(data.projects)]
    db.session.add(user)
    if commit:
        db.session.commit()
    return user


def set_platform_operator(username: str, operator: bool) -> User:
    """Grant or revoke the platform operator flag (the command line only: no page changes it)."""
    from app.services.platform.errors import NotFound

    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user '{username}'")
    user.platform_operator = operator
    db.session.commit()
    return user


def _throttle_key(username: str, address: str) -> str:
    return f"fieldflow:login-failures:{username.lower()}:{address}"


def _failures(key: str) -> tuple[int, int]:
    try:
        client = get_redis()
        count = int(client.get(key) or 0)
        return count, max(int(client.ttl(key)), 1)
    except redis.RedisError:
        log.warning("login throttle unavailable: Redis unreachable")
        return 0, 0


def _record_failure(key: str) -> None:
    try:
        client = get_redis()
        pipe = client.pipeline()
        # The window starts at the first failure (SET NX), later failures only count.
        pipe.set(key, 0, ex=current_app.config["LOGIN_WINDOW_SECONDS"], nx=True)
        pipe.incr(key)
        pipe.execute()
    except redis.RedisError:
        log.warning("login throttle unavailable: Redis unreachable")


def authenticate(credentials: TokenIn, address: str) -> User | None:
    """The active user with these credentials, or None.

    Raises RateLimited after LOGIN_MAX_FAILURES failures for this username and address
    within LOGIN_WINDOW_SECONDS; a success clears the count.
    """
    username, password = credentials.username, credentials.password
    key = _throttle_key(username, address or "unknown")
    count, ttl = _failures(key)
    if count >= current_app.config["LOGIN_MAX_FAILURES"]:
        raise RateLimited(f"Too many failed logins; try again in {ttl} seconds.", retry_after=ttl)
    user = db.session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    valid = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if not (user and valid and user.is_active):
        _record_failure(key)
        return None
    try:
        get_redis().delete(key)
    except redis.RedisError:
        pass
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def project_users(user: User) -> list[User]:
    """Active users of the caller's projects, by username (team members, managers, staff roles)."""
    return list(db.session.execute(
        select(User).join(user_projects, user_projects.c.user_id == User.id)
        .where(user_projects.c.project_id.in_(project_scope(user)), User.active.is_(True))
        .order_by(User.username).distinct()).scalars())


def update_profile(user: User, data: ProfileIn) -> User:
    """The user's own settings (their time zone); commits."""
    user.time_zone = data.time_zone or None
    db.session.commit()
    return user


def time_zone_choices() -> list[str]:
    from zoneinfo import available_timezones

    return sorted(z for z in available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))
