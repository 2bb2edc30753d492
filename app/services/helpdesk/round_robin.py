"""Round-robin staffing (DESIGN, "Round-robin").

Who can be picked for a staff role comes from a *role source*: our own role members, or, when
TTS_SERVICE_URL is set, `GET {url}/api/v1/tts/round-robin/?role_name=` → `[user ids]` (the seed's
contract; those ids are taken to be ours too, so local inactive users are still skipped).

Each role has one state row (`round_robin_states.last_user_id`). The transaction that creates a task
locks it — on PostgreSQL with `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which row-locks like
`SELECT … FOR UPDATE` and creates a missing row in the same round trip; on SQLite the transaction
already holds the database's single write lock, its first statement being a write — picks up to
`max_assignments` users starting after the last one served (ids in ascending order, wrapping
round), skipping inactive users, and stores the new last user before committing. So the rotation is exact under any number
of concurrent workers and survives restarts. The state is kept per role rather than per step, so a
role used by several workflows or steps still shares its work out evenly.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import requests
from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models import RoundRobinState, StaffRole, User, user_staff_roles, utcnow
from app.services.platform.errors import DomainError

log = logging.getLogger(__name__)

TTS_PATH = "/api/v1/tts/round-robin/"
_states = RoundRobinState.__table__


class RoleSourceUnreachable(DomainError):
    """The external role source did not answer usefully; the allocation is retried later."""

    status = 503
    code = "role_source_unreachable"
    title = "Role source unreachable"


@dataclass(frozen=True)
class Member:
    user_id: int
    username: str = ""
    active: bool = True


@dataclass(frozen=True)
class Staffing:
    """Who can be picked for a role, and how many of them go on each task."""

    members: list[Member]
    limit: int


@dataclass(frozen=True)
class Pick:
    user_id: int
    username: str
    reason: str


# --- the role source ----------------------------------------------------------------------------

def local_staffing(role_ids) -> dict[int, Staffing]:
    """Each role's members (active or not, ascending ids) and users per task, in one query."""
    ids = sorted(set(role_ids))
    if not ids:
        return {}
    roles, users, links = StaffRole.__table__, User.__table__, user_staff_roles
    rows = db.session.execute(
        select(roles.c.id, roles.c.max_assignments, users.c.id, users.c.username, users.c.active)
        .select_from(roles.outerjoin(links, links.c.staff_role_id == roles.c.id)
                     .outerjoin(users, users.c.id == links.c.user_id))
        .where(roles.c.id.in_(ids)).order_by(roles.c.id, users.c.id)).all()
    out: dict[int, Staffing] = {}
    for role_id, limit, user_id, username, active in rows:
        staffing = out.setdefault(role_id, Staffing([], limit))
        if user_id is not None:
            staffing.members.append(Member(user_id, username, bool(active)))
    return out


def fetch_external_ids(role_name: str) -> list[int]:
    """User ids for a role from the external source; RoleSourceUnreachable on any failure
    (network, timeout, HTTP error other than 404, a body that is not a list of ids)."""
    url = current_app.config["TTS_SERVICE_URL"] + TTS_PATH
    headers = {"Accept": "application/json"}
    if current_app.config.get("TTS_SERVICE_TOKEN"):
        headers["Authorization"] = f"Bearer {current_app.config['TTS_SERVICE_TOKEN']}"
    try:
        response = requests.get(url, params={"role_name": role_name}, headers=headers, timeout=(3, 10))
    except requests.RequestException as exc:
        log.warning("role source unreachable for %r: %s", role_name, type(exc).__name__)
        raise RoleSourceUnreachable(f"The role source at {current_app.config['TTS_SERVICE_URL']} is unreachable "
                                    f"({type(exc).__name__}).") from None
    if response.status_code == 404:
        return []  # the source does not know the role: no users, not an outage
    if response.status_code != 200:
        raise RoleSourceUnreachable(f"The role source answered HTTP {response.status_code} for role '{role_name}'.")
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in body):
        raise RoleSourceUnreachable(f"The role source answered something other than a list of user ids "
                                    f"for role '{role_name}'.")
    return body


def external_members(role_name: str) -> list[Member]:
    ids = sorted(set(fetch_external_ids(role_name)))
    known = {row.id: row for row in db.session.execute(
        select(User.id, User.username, User.active).where(User.id.in_(ids))).all()} if ids else {}
    return [Member(uid, known[uid].username, bool(known[uid].active)) if uid in known else Member(uid)
            for uid in ids]


def role_staffing(roles: dict[int, str]) -> dict[int, Staffing | RoleSourceUnreachable]:
    """Candidates for each role ({role id: role name}) from the role source; an unreachable source
    is returned, not raised, so one role's outage does not stop the others."""
    local = local_staffing(roles)
    if not current_app.config.get("TTS_SERVICE_URL"):
        return dict(local)
    out: dict[int, Staffing | RoleSourceUnreachable] = {}
    for role_id, name in roles.items():
        try:
            out[role_id] = Staffing(external_members(name), local[role_id].limit)
        except RoleSourceUnreachable as exc:
            out[role_id] = exc
    return out


# --- picking ------------------------------------------------------------------------------------

def _reason(role_name: str, previous: int | None, skipped: list[int]) -> str:
    text = f"round-robin for role {role_name}: " + (
        f"next after user {previous}" if previous is not None else "first in the rotation")
    if skipped:
        label = "user" if len(skipped) == 1 else "users"
        text += f" (skipped inactive {label} {', '.join(str(s) for s in skipped)})"
    return text


def next_assignees(members: list[Member], last_user_id: int | None, limit: int,
                   role_name: str) -> tuple[list[Pick], int | None]:
    """Up to `limit` active members starting after `last_user_id` (ascending ids, wrapping round),
    each with the reason it was picked; and the new last user. Fewer active members than `limit`:
    all of them. None active: no picks and the state unchanged."""
    ordered = sorted({m.user_id: m for m in members}.values(), key=lambda m: m.user_id)
    if not ordered or limit < 1:
        return [], last_user_id
    start = 0
    if last_user_id is not None:
        start = next((i for i, m in enumerate(ordered) if m.user_id > last_user_id), 0)
    picks: list[Pick] = []
    previous, skipped = last_user_id, []
    for k in range(len(ordered)):
        member = ordered[(start + k) % len(ordered)]
        if not member.active:
            skipped.append(member.user_id)
            continue
        picks.append(Pick(member.user_id, member.username, _reason(role_name, previous, skipped)))
        previous, skipped = member.user_id, []
        if len(picks) == limit:
            break
    return picks, (previous if picks else last_user_id)


# --- the state rows -----------------------------------------------------------------------------

def lock_states(role_ids) -> dict[int, int | None]:
    """Lock each role's state row, creating it if missing, and return {role id: last user id}.
    One upsert: ON CONFLICT DO UPDATE locks the existing rows (in id order, so concurrent
    transactions cannot deadlock). Call inside the transaction creating the tasks."""
    ids = sorted(set(role_ids))
    if not ids:
        return {}
    insert = pg_insert if db.session.get_bind().dialect.name == "postgresql" else sqlite_insert
    statement = insert(_states).values([{"staff_role_id": i, "last_user_id": None, "updated_at": utcnow()}
                                        for i in ids])
    statement = statement.on_conflict_do_update(index_elements=["staff_role_id"],
                                                set_={"updated_at": statement.excluded.updated_at})
    rows = db.session.execute(statement.returning(_states.c.staff_role_id, _states.c.last_user_id)).all()
    return {role_id: last for role_id, last in rows}


def save_states(states: dict[int, int | None]) -> None:
    """Store the new last users (same transaction as lock_states)."""
    if not states:
        return
    now = utcnow()
    if db.session.get_bind().dialect.name == "postgresql":  # raw, so it can go in a pipeline
        from app.services.platform.bulk_insert import driver_connection

        with driver_connection().cursor() as cursor:
            cursor.execute("UPDATE round_robin_states SET last_user_id = v.last, updated_at = %(now)s "
                           "FROM unnest(%(ids)s::int[], %(lasts)s::int[]) AS v(id, last) WHERE staff_role_id = v.id",
                           {"now": now, "ids": list(states), "lasts": list(states.values())})
        return
    db.session.execute(
        update(_states).where(_states.c.staff_role_id == bindparam("rid"))
        .values(last_user_id=bindparam("last"), updated_at=bindparam("now")),
        [{"rid": rid, "last": last, "now": now} for rid, last in states.items()])
