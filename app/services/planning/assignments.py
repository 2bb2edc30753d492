"""Assignments: a planning's org units given to teams or users.

Rules: a team, a user, or both (a user of that team: they must be a member of it); the org unit inside the planning's root subtree; the team inside
the planning's team tree; the user a member of a team in it; one live assignment per org unit.
Every bulk call is one transaction: one bad row and nothing is written.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.orm import lazyload

from app.extensions import db
from app.models.base import under_path
from app.models import Assignment, OrgUnit, Permission, Planning, Team, User, team_users, utcnow
from app.services.platform.permissions import require_permission
from app.services.platform import audit
from app.schemas.planning import AssignmentRow, MapClick
from app.services.platform.errors import FieldErrors

USER_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
                "#bcbd22", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d"]
UNASSIGNED = "#b8bec9"


def user_colour(user_id: int) -> str:
    return USER_PALETTE[user_id % len(USER_PALETTE)]


@dataclass(frozen=True)
class Row:
    org_unit_id: int
    team_id: int | None
    user_id: int | None


# --- the planning's trees ---------------------------------------------------------------------

def team_tree(planning: Planning) -> list[Team]:
    """Live teams of the planning's team tree (its root team included), by path; their members are
    loaded only if asked for (`team_tree_members` reads them for the whole tree at once)."""
    return list(db.session.execute(
        select(Team).where(under_path(Team.path, planning.team.path), Team.deleted_at.is_(None)).order_by(Team.path)
        .options(lazyload(Team.users))
    ).scalars())


def team_tree_members(team_ids: list[int]) -> set[int]:
    if not team_ids:
        return set()
    return set(db.session.execute(select(team_users.c.user_id).where(team_users.c.team_id.in_(team_ids))).scalars())


def _units_in_root(planning: Planning, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    root_path = planning.org_unit.path
    found = set()
    id_list = sorted(ids)
    for start in range(0, len(id_list), 5000):
        chunk = id_list[start:start + 5000]
        found |= set(db.session.execute(
            select(OrgUnit.id).where(OrgUnit.id.in_(chunk), under_path(OrgUnit.path, root_path), OrgUnit.deleted_at.is_(None))
        ).scalars())
    return found


# --- validation -------------------------------------------------------------------------------

def validate_rows(planning: Planning, rows: list[AssignmentRow], label: str) -> list[Row]:
    """Check every row against the planning (a team, a user or both, the org unit under its root, the
    team in its tree, the user a member of it — of the row's team when both are given —, each org unit
    once); raise one ValidationFailed naming each bad row (e.g. `assignments[3]`)."""
    errors = FieldErrors()
    parsed = [(f"{label}[{index}]", row.org_unit, row.team, row.user) for index, row in enumerate(rows)]
    for name, _, team, user in parsed:
        if team is None and user is None:
            errors.add(name, "give a team, a user, or both (a user of that team)")
    errors.raise_if_any("Invalid assignments")
    pairs = {(team, user) for _, _, team, user in parsed if team is not None and user is not None}
    paired = set()
    if pairs:
        paired = set(map(tuple, db.session.execute(select(team_users.c.team_id, team_users.c.user_id).where(
            team_users.c.team_id.in_({team for team, _ in pairs}),
            team_users.c.user_id.in_({user for _, user in pairs})))))

    tree = team_tree(planning)
    tree_ids = {t.id for t in tree}
    members = team_tree_members(list(tree_ids))
    inside = _units_in_root(planning, {unit for _, unit, _, _ in parsed})
    seen: dict[int, str] = {}
    valid: list[Row] = []
    for name, unit, team, user in parsed:
        if unit not in inside:
            errors.add(name, f"org unit {unit} does not exist or is outside the planning's root '{planning.org_unit.name}'")
        elif unit in seen:
            errors.add(name, f"org unit {unit} appears twice (also {seen[unit]})")
        else:
            seen[unit] = name
        if team is not None and team not in tree_ids:
            errors.add(name, f"team {team} is not in the planning's team tree ('{planning.team.name}')")
        if user is not None and user not in members:
            errors.add(name, f"user {user} is not a member of a team in the planning's team tree")
        elif team is not None and user is not None and team in tree_ids and (team, user) not in paired:
            errors.add(name, f"user {user} is not a member of team {team}")
        valid.append(Row(unit, team, user))
    errors.raise_if_any("Invalid assignments")
    return valid


# --- writes -----------------------------------------------------------------------------------

def _live_by_unit(planning_id: int, unit_ids: list[int] | None = None) -> dict[int, Assignment]:
    stmt = select(Assignment).where(Assignment.planning_id == planning_id, Assignment.deleted_at.is_(None))
    if unit_ids is not None:
        stmt = stmt.where(Assignment.org_unit_id.in_(unit_ids))
    return {a.org_unit_id: a for a in db.session.execute(stmt).scalars()}


def bulk_create(actor: User | None, planning: Planning, assignments: list[AssignmentRow], label: str = "assignments",
                source: str = "api") -> list[Assignment]:
    """Create or re-assign many org units in one transaction (an existing live assignment of an
    org unit is moved to the new team/user)."""
    if actor is not None:
        require_permission(actor, Permission.MANAGE_PLANNING)
    rows = validate_rows(planning, assignments, label)
    existing = _live_by_unit(planning.id, [r.org_unit_id for r in rows])
    out, created, moved = [], 0, 0
    for row in rows:
        current = existing.get(row.org_unit_id)
        if current is not None:
            if (current.team_id, current.user_id) != (row.team_id, row.user_id):
                current.team_id, current.user_id = row.team_id, row.user_id
                moved += 1
            out.append(current)
        else:
            assignment = Assignment(planning_id=planning.id, org_unit_id=row.org_unit_id, team_id=row.team_id,
                                    user_id=row.user_id, created_by_id=actor.id if actor else None)
            db.session.add(assignment)
            out.append(assignment)
            created += 1
    audit.record(actor, "bulk_create_assignments", "planning", planning.id,
                 {"created": created, "moved": moved, "org_units": [r.org_unit_id for r in rows][:1000]}, source)
    db.session.commit()
    return out


def bulk_delete(actor: User | None, planning: Planning, org_unit_ids: list[int] | None = None,
                source: str = "api") -> int:
    """Soft-delete the planning's live assignments (only those org units when given)."""
    if actor is not None:
        require_permission(actor, Permission.MANAGE_PLANNING)
    ids = list(dict.fromkeys(org_unit_ids)) if org_unit_ids is not None else None
    stmt = update(Assignment).where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
    if ids is not None:
        stmt = stmt.where(Assignment.org_unit_id.in_(ids))
    count = db.session.execute(stmt.values(deleted_at=utcnow())).rowcount
    audit.record(actor, "bulk_delete_assignments", "planning", planning.id,
                 {"deleted": count, "org_units": (ids or [])[:1000]}, source)
    db.session.commit()
    return count


def replace_assignments(planning_id: int, rows: list[Row], actor_id: int | None, job_id: str | None) -> int:
    """Replace all live assignments of a planning by `rows`, atomically: the old ones are removed
    only in the same transaction that writes the new set. Caller has validated the rows."""
    now = utcnow()
    db.session.execute(update(Assignment).where(Assignment.planning_id == planning_id, Assignment.deleted_at.is_(None))
                       .values(deleted_at=now))
    if rows:
        db.session.execute(insert(Assignment), [
            {"planning_id": planning_id, "org_unit_id": r.org_unit_id, "team_id": r.team_id, "user_id": r.user_id,
             "created_by_id": actor_id, "created_at": now, "updated_at": now, "job_id": job_id} for r in rows])
    audit.record(db.session.get(User, actor_id) if actor_id else None, "replace_assignments", "planning", planning_id,
                 {"created": len(rows), "job_id": job_id}, "job")
    db.session.commit()
    return len(rows)


def toggle_assignment(actor: User, planning: Planning, click: MapClick) -> Assignment | None:
    """The map's click: assign the org unit to the chosen team or user, or remove the assignment
    when it already belongs to them. Returns the live assignment or None."""
    require_permission(actor, Permission.MANAGE_PLANNING)
    kind, assignee_id = click.assignee
    row = validate_rows(planning, [AssignmentRow(org_unit=click.org_unit_id, **{kind: assignee_id})], "org_unit")[0]
    current = _live_by_unit(planning.id, [row.org_unit_id]).get(row.org_unit_id)
    if current is not None and (current.team_id, current.user_id) == (row.team_id, row.user_id):
        current.deleted_at = utcnow()
        audit.record(actor, "unassign", "planning", planning.id, {"org_unit": row.org_unit_id}, "web")
        db.session.commit()
        return None
    if current is not None:
        current.team_id, current.user_id = row.team_id, row.user_id
        result = current
    else:
        result = Assignment(planning_id=planning.id, org_unit_id=row.org_unit_id, team_id=row.team_id,
                            user_id=row.user_id, created_by_id=actor.id)
        db.session.add(result)
    audit.record(actor, "assign", "planning", planning.id, {"org_unit": row.org_unit_id, kind: assignee_id}, "web")
    db.session.commit()
    return result


# --- reads ------------------------------------------------------------------------------------

SORTS = {
    "org_unit": OrgUnit.name,
    "-org_unit": OrgUnit.name.desc(),
    "created": Assignment.created_at,
    "-created": Assignment.created_at.desc(),
}


def assignments_query(planning_id: int, team_id: int | None = None, user_id: int | None = None,
                      sort: str = "org_unit") -> Select:
    stmt = (select(Assignment).join(OrgUnit, OrgUnit.id == Assignment.org_unit_id)
            .where(Assignment.planning_id == planning_id, Assignment.deleted_at.is_(None)))
    if team_id is not None:
        stmt = stmt.where(Assignment.team_id == team_id)
    if user_id is not None:
        stmt = stmt.where(Assignment.user_id == user_id)
    if sort in ("assignee", "-assignee"):
        name = func.coalesce(Team.name, User.username)
        stmt = (stmt.outerjoin(Team, Team.id == Assignment.team_id).outerjoin(User, User.id == Assignment.user_id)
                .order_by(name.desc() if sort.startswith("-") else name, OrgUnit.name))
    else:
        stmt = stmt.order_by(SORTS.get(sort, OrgUnit.name), Assignment.id)
    return stmt


def assignee_summary(planning: Planning) -> list[dict]:
    """Teams and users that can take assignments, with colour and live assignment counts."""
    whole_tree = team_tree(planning)
    tree = [t for t in whole_tree if t.id != planning.team_id]
    counts_team = dict(db.session.execute(
        select(Assignment.team_id, func.count()).where(Assignment.planning_id == planning.id,
                                                       Assignment.deleted_at.is_(None), Assignment.team_id.is_not(None))
        .group_by(Assignment.team_id)).all())
    counts_user = dict(db.session.execute(
        select(Assignment.user_id, func.count()).where(Assignment.planning_id == planning.id,
                                                       Assignment.deleted_at.is_(None), Assignment.user_id.is_not(None))
        .group_by(Assignment.user_id)).all())
    out = [{"key": f"team:{t.id}", "kind": "team", "id": t.id, "name": t.name, "colour": t.colour,
            "depth": t.path.count(".") - planning.team.path.count("."), "count": counts_team.get(t.id, 0)} for t in tree]
    member_ids = team_tree_members([t.id for t in whole_tree])
    if member_ids:
        users = db.session.execute(select(User).where(User.id.in_(member_ids)).order_by(User.username)
                                   .options(lazyload(User.projects), lazyload(User.role))).scalars()
        out += [{"key": f"user:{u.id}", "kind": "user", "id": u.id, "name": u.display_name, "colour": user_colour(u.id),
                 "depth": 0, "count": counts_user.get(u.id, 0)} for u in users]
    return out


def live_counts(planning_id: int) -> tuple[int, int]:
    """(live assignments, of which made by hand — not by a sampling run) of a planning."""
    total, by_hand = db.session.execute(
        select(func.count(), func.count().filter(Assignment.job_id.is_(None))).select_from(Assignment)
        .where(Assignment.planning_id == planning_id, Assignment.deleted_at.is_(None))).one()
    return total, by_hand


def live_count(planning_id: int) -> int:
    return db.session.scalar(select(func.count()).select_from(Assignment)
                             .where(Assignment.planning_id == planning_id, Assignment.deleted_at.is_(None)))
