"""Round-robin staffing (DESIGN, "Round-robin").

Who can be picked for a staff role comes from a *role source*: our own role members, or, when
TTS_SERVICE_URL is set, `GET {url}/api/v1/tts/round-robin/?role_name=` → `[user ids]` (the seed's
contract; those ids are taken to be ours too, so local inactive users are still skipped).

Each role has one state row (`round_robin_states.last_user_id`). The transaction that creates a task
locks it — on PostgreSQL with `INSERT … ON CONFLICT DO UPDATE … RETURNING`, which row-locks like
`SELECT … FOR UPDATE` and creates a missing row in the same round trip; on SQLite the transaction
already holds the database's single write lock, its first statement being a write — picks up to
`max_assignments` users starting after the last one served (ids in ascending order, wrapping
round), skipping inactive users, and stores the new last user before committing. So the rotation is
exact under any number of concurrent workers and survives restarts. The state is kept per role rather
than per step, so a role used by several workflows or steps still shares its work out evenly. For a
plain rotation on PostgreSQL, the picks for every possible last user are planned here and the database
chooses among them under the lock (`locked_pick`).

A role may instead balance load (`least_open`: the fewest open tasks first, ties in rotation order)
and cap the open tasks anyone holds. Whoever is away or on leave (`availability`), or at the cap, is
skipped and named in the pick's reason. Availability and open tasks are read after the role's lock is
taken, so they are what the previous holder committed: caps and balance are exact too. When nobody
can take a ticket, it waits (`unassigned`) and is allocated when someone becomes available.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache

import requests
from flask import current_app
from sqlalchemy import DateTime, Integer, bindparam, exists, func, literal, null, select, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.extensions import db
from app.models.base import in_values
from app.models import (
    AgentAvailability, AgentLeave, AssignmentMode, AssignmentStatus, RoundRobinState, StaffRole, TaskAssignment,
    User, user_staff_roles, utcnow,
)
from app.services.platform.bulk_insert import Deferred, send
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
    # Why the member takes no new work now ("away", "on leave" with " until <date>"): empty when available.
    absence: tuple[str, str] | None = None


@dataclass(frozen=True)
class Staffing:
    """Who can be picked for a role, how many of them go on each task, how (AssignmentMode) and the
    most open tasks anyone may hold (None: no cap)."""

    members: list[Member]
    limit: int
    mode: str = AssignmentMode.ROUND_ROBIN.value
    cap: int | None = None


@dataclass(frozen=True)
class Pick:
    user_id: int
    username: str
    reason: str


# --- the role source ----------------------------------------------------------------------------

_STAFFING = (
    select(StaffRole.id, StaffRole.max_assignments, StaffRole.assignment_mode, StaffRole.max_open_tasks,
           User.id, User.username, User.active)
    .select_from(StaffRole.__table__.outerjoin(user_staff_roles, user_staff_roles.c.staff_role_id == StaffRole.id)
                 .outerjoin(User.__table__, User.id == user_staff_roles.c.user_id))
    .where(in_values(StaffRole.id, "ids")).order_by(StaffRole.id, User.id))


def send_local_staffing(role_ids, also: tuple = (), params: dict | None = None) -> Deferred:
    """The query of `local_staffing`, answered later (see `Deferred`); `also`: scalar subqueries each row
    carries after the staffing's columns (their bind `params`)."""
    return send(_staffing_and(also), {"ids": sorted(set(role_ids)), **(params or {})})


@lru_cache(maxsize=8)
def _staffing_and(also: tuple):
    return _STAFFING.add_columns(*also) if also else _STAFFING


def local_staffing(role_ids, sent: Deferred | None = None) -> dict[int, Staffing]:
    """Each role's members (active or not, ascending ids) and users per task, in one query (`sent`:
    that query for these roles, already sent)."""
    if not role_ids and sent is None:
        return {}
    out: dict[int, Staffing] = {}
    for role_id, limit, mode, cap, user_id, username, active, *_also in (sent or send_local_staffing(role_ids)).all():
        staffing = out.setdefault(role_id, Staffing([], limit, mode, cap))
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


def role_staffing(roles: dict[int, str], sent: Deferred | None = None) -> dict[int, Staffing | RoleSourceUnreachable]:
    """Candidates for each role ({role id: role name}) from the role source; an unreachable source
    is returned, not raised, so one role's outage does not stop the others. `sent`: the
    `send_local_staffing` query for exactly these roles, already sent."""
    local = local_staffing(roles, sent)
    if not current_app.config.get("TTS_SERVICE_URL"):
        return dict(local)
    out: dict[int, Staffing | RoleSourceUnreachable] = {}
    for role_id, name in roles.items():
        try:
            out[role_id] = replace(local[role_id], members=external_members(name))
        except RoleSourceUnreachable as exc:
            out[role_id] = exc
    return out


# --- availability and load, read inside the transaction holding the role's lock -------------------

OPEN_ASSIGNMENT = (AssignmentStatus.ASSIGNED.value, AssignmentStatus.IN_PROGRESS.value, AssignmentStatus.ON_HOLD.value)


_ABSENCES = (
    select(AgentLeave.user_id, literal("on leave").label("why"), func.max(AgentLeave.ends_on).label("until"))
    .where(in_values(AgentLeave.user_id, "ids"), AgentLeave.starts_on <= bindparam("today"),
           AgentLeave.ends_on >= bindparam("today"))
    .group_by(AgentLeave.user_id)
    .union_all(select(AgentAvailability.user_id, literal("away"), null())
               .where(in_values(AgentAvailability.user_id, "ids"),
                      AgentAvailability.away.is_(True))))
_OPEN_TASKS = (select(TaskAssignment.user_id, func.count().label("held"))
               .where(in_values(TaskAssignment.user_id, "ids"),
                      TaskAssignment.status.in_(OPEN_ASSIGNMENT))
               .group_by(TaskAssignment.user_id))


def _read_absences(rows) -> dict[int, tuple[str, str]]:
    out = {row[0]: ("on leave", f" until {row[2].isoformat()}") for row in rows if row[1] == "on leave"}
    out.update((row[0], ("away", "")) for row in rows if row[1] == "away")  # away says more than on leave
    return out


def absences(user_ids, today: date) -> dict[int, tuple[str, str]]:
    """{user id: (why, detail)} for the users who take no new work today: away (their own switch, or a
    lead's), or on leave (a date range holding today). One query."""
    ids = sorted(set(user_ids))
    return _read_absences(send(_ABSENCES, {"ids": ids, "today": today}).all()) if ids else {}


def open_tasks(user_ids) -> dict[int, int]:
    """{user id: open assignments} (assigned, in progress or on hold on a task's current step: a
    task's step moving on or the task closing closes them)."""
    ids = sorted(set(user_ids))
    return {row[0]: row[1] for row in send(_OPEN_TASKS, {"ids": ids}).all()} if ids else {}


@dataclass
class AvailabilitySent:
    """The absences and open-task reads of `send_availability`, answered later."""

    staffing: dict[int, Staffing]
    away: Deferred | None
    load: Deferred | None
    counted: set[int]


def send_availability(staffing: dict, today: date) -> AvailabilitySent:
    """Send the reads `with_availability` needs (inside `pipelined()`, with the `send_lock_states`
    before them: they run after the lock is taken)."""
    found = {rid: s for rid, s in staffing.items() if isinstance(s, Staffing)}
    everyone = sorted({m.user_id for s in found.values() for m in s.members})
    counted = {m.user_id for s in found.values() if s.mode == AssignmentMode.LEAST_OPEN.value or s.cap is not None
               for m in s.members}
    return AvailabilitySent(found, send(_ABSENCES, {"ids": everyone, "today": today}) if everyone else None,
                            send(_OPEN_TASKS, {"ids": sorted(counted)}) if counted else None, counted)


def with_availability(staffing: dict[int, Staffing], today: date) -> tuple[dict[int, Staffing], dict[int, int]]:
    """The staffings with each member's absence filled in, and the open tasks of the members of roles
    that need them (least-open mode or a cap). Call after `lock_states`: what is read then is what
    the previous holder of the role's lock committed, so caps and balance hold under concurrency."""
    return read_availability(send_availability(staffing, today))


def read_availability(sent: AvailabilitySent) -> tuple[dict[int, Staffing], dict[int, int]]:
    """`with_availability` from the reads `send_availability` sent."""
    away = _read_absences(sent.away.all()) if sent.away else {}
    load = {uid: 0 for uid in sent.counted} | ({row[0]: row[1] for row in sent.load.all()} if sent.load else {})
    out = {rid: replace(s, members=[replace(m, absence=away.get(m.user_id)) for m in s.members])
           for rid, s in sent.staffing.items()}
    return out, load


# --- picking ------------------------------------------------------------------------------------

def _skipped(skipped: list[tuple[int, str, str]]) -> str:
    """"inactive users 4, 5; away user 6; on leave user 7 until 2026-12-03" (in order of first skip)."""
    groups: dict[str, list[str]] = {}
    for user_id, why, detail in skipped:
        groups.setdefault(why, []).append(f"{user_id}{detail}")
    return "; ".join(f"{why} {'user' if len(ids) == 1 else 'users'} {', '.join(ids)}" for why, ids in groups.items())


def _reason(role_name: str, previous: int | None, skipped: list[tuple[int, str, str]]) -> str:
    text = f"round-robin for role {role_name}: " + (
        f"next after user {previous}" if previous is not None else "first in the rotation")
    return text + (f" (skipped {_skipped(skipped)})" if skipped else "")


def _why_not(member: Member, cap: int | None, load: dict[int, int]) -> tuple[str, str] | None:
    if not member.active:
        return ("inactive", "")
    if member.absence:
        return member.absence
    if cap is not None and load.get(member.user_id, 0) >= cap:
        return (f"at the cap of {cap} open tasks", "")
    return None


def nobody_free(staffing: Staffing, load: dict[int, int]) -> str:
    """Why none of a role's members can take work now ("away user 6; on leave user 7 until …")."""
    return _skipped([(m.user_id, *why) for m in staffing.members if (why := _why_not(m, staffing.cap, load))]) \
        or "no members"


def next_assignees(members: list[Member], last_user_id: int | None, limit: int, role_name: str, *,
                   mode: str = AssignmentMode.ROUND_ROBIN.value, cap: int | None = None,
                   load: dict[int, int] | None = None) -> tuple[list[Pick], int | None]:
    """Up to `limit` members who can take work (active, not away or on leave, under the `cap` of open
    tasks), each with the reason it was picked, and the new last user.

    Round-robin: the next ones after `last_user_id` (ascending ids, wrapping round). Least open: the
    ones with the fewest open tasks (`load`), ties going to the next in the rotation. `load` is
    updated with the picks, so one call per task of a batch keeps balance and caps. Nobody can take
    work: no picks and the state unchanged."""
    ordered = sorted({m.user_id: m for m in members}.values(), key=lambda m: m.user_id)
    if not ordered or limit < 1:
        return [], last_user_id
    load = {} if load is None else load
    start = 0
    if last_user_id is not None:
        start = next((i for i, m in enumerate(ordered) if m.user_id > last_user_id), 0)
    rotation = [ordered[(start + k) % len(ordered)] for k in range(len(ordered))]
    if mode == AssignmentMode.LEAST_OPEN.value:
        return _least_open(rotation, last_user_id, limit, role_name, cap, load)
    picks: list[Pick] = []
    previous, skipped = last_user_id, []
    for member in rotation:
        why = _why_not(member, cap, load)
        if why:
            skipped.append((member.user_id, *why))
            continue
        picks.append(Pick(member.user_id, member.username, _reason(role_name, previous, skipped)))
        load[member.user_id] = load.get(member.user_id, 0) + 1
        previous, skipped = member.user_id, []
        if len(picks) == limit:
            break
    return picks, (previous if picks else last_user_id)


def _least_open(rotation: list[Member], last_user_id: int | None, limit: int, role_name: str, cap: int | None,
                load: dict[int, int]) -> tuple[list[Pick], int | None]:
    skipped = [(m.user_id, *why) for m in rotation if (why := _why_not(m, cap, load))]
    free = [m for m in rotation if not _why_not(m, cap, load)]
    picks: list[Pick] = []
    for _ in range(min(limit, len(free))):
        member = min(free, key=lambda m: load.get(m.user_id, 0))  # min keeps the first of equals: rotation order
        free.remove(member)
        held = load.get(member.user_id, 0)
        note = f" (skipped {_skipped(skipped)})" if skipped else ""
        picks.append(Pick(member.user_id, member.username,
                          f"least open tasks for role {role_name}: {held} open{note}"))
        load[member.user_id] = held + 1
    return picks, (picks[-1].user_id if picks else last_user_id)


# --- the state rows -----------------------------------------------------------------------------

# A state row for each role id of `ids` (PostgreSQL); what happens to rows that exist is said below.
_NEW_STATES_PG = pg_insert(_states).from_select(
    ["staff_role_id", "last_user_id", "updated_at"],
    select(func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer))), null(),
           bindparam("now", type_=DateTime(timezone=True))))
_LOCK_STATES_PG = _NEW_STATES_PG.on_conflict_do_update(
    index_elements=["staff_role_id"], set_={"updated_at": _NEW_STATES_PG.excluded.updated_at},
).returning(_states.c.staff_role_id, _states.c.last_user_id)
_ENSURE_STATES_PG = _NEW_STATES_PG.on_conflict_do_nothing(index_elements=["staff_role_id"])


def send_lock_states(role_ids) -> Deferred:
    """`lock_states`, its rows (role id, last user id) read later (see `Deferred`)."""
    ids = sorted(set(role_ids))
    if not ids:
        return Deferred(rows=[])
    if db.session.get_bind().dialect.name == "postgresql":
        return send(_LOCK_STATES_PG, {"ids": ids, "now": utcnow()})
    statement = sqlite_insert(_states).values([{"staff_role_id": i, "last_user_id": None, "updated_at": utcnow()}
                                               for i in ids])
    statement = statement.on_conflict_do_update(index_elements=["staff_role_id"],
                                                set_={"updated_at": statement.excluded.updated_at})
    return Deferred(rows=db.session.execute(
        statement.returning(_states.c.staff_role_id, _states.c.last_user_id)).all())


# Whether the role of a `_STAFFING` row has its state row (a column for `send_local_staffing(also=…)`).
STATE_EXISTS = exists().where(_states.c.staff_role_id == StaffRole.id).correlate(StaffRole.__table__)


def send_ensure_states(role_ids) -> None:
    """Create the roles' missing state rows, without locking the existing ones (PostgreSQL; for
    `locked_pick`, whose statement locks them), before the statement that locks them: a request that
    created a row holds it until its COMMIT, and another one's insert waits for that, so the second finds
    the row (and its lock) instead of starting the rotation again. Sent for the rows the request found
    missing, in the same transaction (remembering which rows exist, per process, let two first requests
    for a role both start it: the test of concurrent tickets caught that)."""
    send(_ENSURE_STATES_PG, {"ids": sorted(set(role_ids)), "now": utcnow()})


def lock_states(role_ids) -> dict[int, int | None]:
    """Lock each role's state row, creating it if missing, and return {role id: last user id}.
    One upsert: ON CONFLICT DO UPDATE locks the existing rows (in id order, so concurrent
    transactions cannot deadlock). Call inside the transaction creating the tasks."""
    return {role_id: last for role_id, last in send_lock_states(role_ids).all()}


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
