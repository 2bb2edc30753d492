"""An agent's "My assignments": the units given to them, or to a team they belong to, in the published
plannings of their projects (drafts are the planners' until published) — as a list, and as a map
drawn like a planning's (the same folium shell, compact shapes and `planning_map.js`), coloured by
planning."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import or_, select

from app.extensions import db
from app.models import Assignment, OrgUnit, Planning, Team, User
from app.models.org import team_users
from app.services.planning.assignment_map import MAX_FEATURES, MapShell, map_shell, unit_shapes
from app.services.planning.assignments import UNASSIGNED, USER_PALETTE
from app.services.platform.access import project_scope


@dataclass
class MyAssignment:
    planning: Planning
    org_unit: OrgUnit
    team: Team | None

    @property
    def through(self) -> str:
        return f"team {self.team.name}" if self.team else "you"


def my_assignments(user: User) -> list[MyAssignment]:
    """The user's assignments (directly or through a team) in published plannings of their projects,
    by planning then unit name."""
    my_teams = select(team_users.c.team_id).where(team_users.c.user_id == user.id)
    rows = db.session.execute(
        select(Planning, OrgUnit, Team).select_from(Assignment)
        .join(Planning, Planning.id == Assignment.planning_id).join(OrgUnit, OrgUnit.id == Assignment.org_unit_id)
        .outerjoin(Team, Team.id == Assignment.team_id)
        .where(Assignment.deleted_at.is_(None), Planning.deleted_at.is_(None), Planning.published_at.is_not(None),
               Planning.project_id.in_(project_scope(user)),
               or_(Assignment.user_id == user.id, Assignment.team_id.in_(my_teams)))
        .order_by(Planning.name, OrgUnit.name).limit(MAX_FEATURES)).all()
    return [MyAssignment(planning, unit, team) for planning, unit, team in rows]


@dataclass
class MyAssignmentMap:
    map: MapShell
    lookups: dict  # what planning_map.js reads: the map, the shapes URL, units by key, keys' names and colours
    legend: list[dict]  # a planning's name, colour and how many of the user's units it has
    shown: int  # units on the map
    without_shape: int  # units in the list only: no geometry


def my_assignment_map(user: User, shapes_url: str) -> MyAssignmentMap:
    """The map of the user's assignments: one colour per planning; a unit's tooltip names the
    planning(s) and through whom it is theirs. The shapes come from `shapes_url` (`my_assignment_shapes`)."""
    colours: dict[int, str] = {}
    legend: dict[int, dict] = {}
    units: dict[int, dict] = {}  # unit id → the unit, its first planning's colour, "Round 1 (team North)", …
    for a in my_assignments(user):
        colour = colours.setdefault(a.planning.id, USER_PALETTE[len(colours) % len(USER_PALETTE)])
        legend.setdefault(a.planning.id, {"name": a.planning.name, "colour": colour, "count": 0})["count"] += 1
        unit = units.setdefault(a.org_unit.id, {"unit": a.org_unit, "colour": colour, "labels": []})
        unit["labels"].append(f"{a.planning.name} ({a.through})")
    assigned: dict[str, list[int]] = {}  # planning_map.js colours and names units by key
    keys: dict[str, dict] = {}
    for unit_id, unit in units.items():
        name = " · ".join(unit["labels"])
        key = keys.setdefault(name, {"key": f"k{len(keys)}", "name": name, "colour": unit["colour"]})
        assigned.setdefault(key["key"], []).append(unit_id)
    shell = map_shell()
    lookups = {"map": shell.name, "unassigned": UNASSIGNED, "shapes": shapes_url, "assigned": assigned,
               "assignees": {k["key"]: {"name": k["name"], "colour": k["colour"]} for k in keys.values()}}
    shown = sum(1 for u in units.values() if u["unit"].geometry)
    return MyAssignmentMap(shell, lookups, list(legend.values()), shown, len(units) - shown)

def my_assignment_shapes(user: User) -> dict:
    """The compact geometry (`unit_shapes`) of the user's assigned units that have a shape, with their
    parents' borders and names from the top of the tree."""
    units = {a.org_unit.id: a.org_unit for a in my_assignments(user) if a.org_unit.geometry}
    return unit_shapes(sorted(units.values(), key=lambda u: u.id), None, [])
