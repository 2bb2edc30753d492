"""LQAS sampling (DESIGN, "Sampling semantics").

Level k picks `quantities[k]` units of `types[k]` under each unit picked at level k-1 (level 1
under the planning root), excluding `exceptions[k]` and keeping only `criteria[k]` (URBAN/RURAL)
when given. `random.Random(seed)`; the seed is stored in the job's inputs so a run can be
reproduced. Team mapping: level-1 picks go to the planning team's sub-teams (or users), level-k
picks under a unit go to the sub-teams (or users) of the team that unit went to, balanced in a
stable order; the deepest picks are the assignments.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select

from app.extensions import db
from app.models.base import under_path
from app.models import OrgUnit, OrgUnitType, Planning, Team, TeamType, User, team_users, utcnow
from app.schemas.planning import AreaCriterion, LqasInputs
from app.services.planning.assignments import Row, replace_assignments
from app.services.platform.errors import FieldErrors, ValidationFailed
from pipelines.lqas.lqas_core import HierarchyMismatch, Level, TooFewCandidates, check_hierarchy, sample_levels

TYPES = "org_unit_type_sequence_identifiers"
QUANTITIES = "org_unit_type_quantities"
EXCEPTIONS = "org_unit_type_exceptions"
CRITERIA = "org_unit_type_criteria"
SAMPLING_KEYS = (TYPES, QUANTITIES, EXCEPTIONS, CRITERIA)


@dataclass
class Plan:
    planning: Planning
    types: list[OrgUnitType]
    quantities: list[int]
    exceptions: list[list[int]]
    criteria: list[AreaCriterion | None]
    seed: int
    tree: "TeamTree"


def authorize_inputs(principal, inputs: LqasInputs) -> int:
    """The `lqas-sampling` process's authorization: the planning it names must be one the principal may
    see (as `GET /plannings/<id>` checks it); another project's reads as a missing one. Returns its
    project."""
    from app.services.planning.plannings import planning_input

    return planning_input(principal, inputs.planning_id, "Invalid sampling parameters").project_id


def prepare_inputs(inputs: LqasInputs) -> LqasInputs:
    """Check what the database must confirm before queueing (the type chain under the planning root,
    the exceptions, the team tree); the inputs to store, one entry per level and with a seed."""
    plan = _plan(inputs)
    return inputs.model_copy(update={EXCEPTIONS: plan.exceptions, CRITERIA: plan.criteria, "seed": plan.seed})


def check_plan(inputs: LqasInputs) -> None:
    """The database's checks of sampling parameters (for a run on OpenHEXA too); ValidationFailed names them."""
    _plan(inputs)


def _plan(inputs: LqasInputs) -> Plan:
    errors = FieldErrors()
    planning = db.session.get(Planning, inputs.planning_id)
    if planning is None or planning.deleted_at is not None:
        errors.add("planning_id", f"planning {inputs.planning_id} does not exist")
        errors.raise_if_any("Invalid sampling parameters")
    levels = len(inputs.org_unit_type_sequence_identifiers)
    exceptions = inputs.org_unit_type_exceptions or [[] for _ in range(levels)]
    criteria = list(inputs.org_unit_type_criteria or [None] * levels)
    seed = inputs.seed if inputs.seed is not None else secrets.randbelow(2**31)
    types = _check_type_chain(planning, inputs.org_unit_type_sequence_identifiers, errors)
    errors.raise_if_any("Invalid sampling parameters")
    _check_exceptions(planning, types, exceptions, errors)
    errors.raise_if_any("Invalid sampling parameters")
    tree = check_team_tree(planning, levels)
    return Plan(planning, types, list(inputs.org_unit_type_quantities), exceptions, criteria, seed, tree)


def _reachable(start: OrgUnitType) -> set[int]:
    """Types reachable downwards from `start` through sub-unit types."""
    seen, frontier = set(), list(start.sub_unit_types)
    while frontier:
        current = frontier.pop()
        if current.id not in seen:
            seen.add(current.id)
            frontier.extend(current.sub_unit_types)
    return seen


def _check_type_chain(planning: Planning, type_ids: list[int], errors: FieldErrors) -> list[OrgUnitType]:
    types: list[OrgUnitType] = []
    previous = planning.org_unit.org_unit_type
    for level, type_id in enumerate(type_ids, start=1):
        org_type = db.session.get(OrgUnitType, type_id)
        if org_type is None or org_type.project_id != planning.project_id:
            errors.add(TYPES, f"level {level}: org unit type {type_id} does not exist in this project")
            return types
        if org_type.id not in _reachable(previous):
            errors.add(TYPES, f"level {level}: '{org_type.name}' is not below '{previous.name}' "
                              f"(types must go down the hierarchy from the planning root)")
            return types
        types.append(org_type)
        previous = org_type
    return types


def _check_exceptions(planning: Planning, types: list[OrgUnitType], exceptions: list[list[int]], errors: FieldErrors):
    for level, (org_type, ids) in enumerate(zip(types, exceptions), start=1):
        if not ids:
            continue
        found = dict(db.session.execute(select(OrgUnit.id, OrgUnit.org_unit_type_id).where(
            OrgUnit.id.in_(ids), OrgUnit.project_id == planning.project_id)).all())
        for unit_id in ids:
            if unit_id not in found:
                errors.add(EXCEPTIONS, f"level {level}: org unit {unit_id} does not exist")
            elif found[unit_id] != org_type.id:
                errors.add(EXCEPTIONS, f"level {level}: org unit {unit_id} is not a '{org_type.name}'")


# --- team tree ----------------------------------------------------------------------------------

Entity = tuple[str, int, str]  # ("team"|"user", id, name)


class TeamTree:
    """The planning's team tree loaded once — its teams, and the id and username of their members, in two
    queries (a national tree has a thousand teams) — children in stable order."""

    def __init__(self, planning: Planning):
        in_tree = (under_path(Team.path, planning.team.path), Team.deleted_at.is_(None))
        teams = db.session.execute(select(Team.id, Team.parent_id, Team.name, Team.type).where(*in_tree)).all()
        self.types = {t.id: t.type for t in teams}
        self.subs: dict[int, list] = {}
        for team in teams:
            if team.parent_id in self.types:
                self.subs.setdefault(team.parent_id, []).append(team)
        self.members: dict[int, list[tuple[int, str]]] = {}
        for team_id, user_id, username in db.session.execute(
                select(team_users.c.team_id, User.id, User.username).join(User, User.id == team_users.c.user_id)
                .join(Team, Team.id == team_users.c.team_id).where(*in_tree, Team.type == TeamType.TEAM_OF_USERS)):
            self.members.setdefault(team_id, []).append((user_id, username))

    def children(self, team_id: int) -> list[Entity]:
        if self.types[team_id] == TeamType.TEAM_OF_USERS:
            return [("user", uid, name) for uid, name in sorted(self.members.get(team_id, []), key=lambda u: (u[1], u[0]))]
        return [("team", t.id, t.name) for t in sorted(self.subs.get(team_id, []), key=lambda t: (t.name, t.id))]


def check_team_tree(planning: Planning, levels: int, tree: TeamTree | None = None) -> TeamTree:
    """Every team that can receive picks above the deepest level needs sub-teams or users."""
    tree = tree or TeamTree(planning)
    try:
        check_hierarchy(("team", planning.team_id, planning.team.name), levels, lambda entity: tree.children(entity[1]))
    except HierarchyMismatch as exc:
        raise ValidationFailed(str(exc), {TYPES: ["hierarchy mismatch"]}) from None
    return tree


# --- the sampling itself ------------------------------------------------------------------------

def _candidates(parent, level: Level) -> list[tuple[int, str, str]]:
    stmt = select(OrgUnit.id, OrgUnit.name, OrgUnit.path).where(
        under_path(OrgUnit.path, parent[2]), OrgUnit.org_unit_type_id == level.type_id, OrgUnit.deleted_at.is_(None))
    if level.criterion:
        stmt = stmt.where(OrgUnit.area_type == level.criterion)
    return [tuple(row) for row in db.session.execute(stmt.order_by(OrgUnit.id)).all()]


def sample(plan: Plan, progress=None) -> tuple[list[Row], dict]:
    """Pick units level by level and map them onto the team tree (pipelines/lqas/lqas_core.py).
    Pure reads; raises ValidationFailed naming the parent when it has too few candidates."""
    root = plan.planning.org_unit
    levels = [Level(t.id, t.name, q, frozenset(e), c)
              for t, q, e, c in zip(plan.types, plan.quantities, plan.exceptions, plan.criteria)]
    try:
        picks, stats = sample_levels((root.id, root.name, root.path), ("team", plan.planning.team_id, plan.planning.team.name),
                                     levels, plan.seed, _candidates, lambda entity: plan.tree.children(entity[1]), progress)
    except TooFewCandidates as exc:
        raise ValidationFailed(str(exc), {"level": [str(exc.level)], "parent": [str(exc.parent[0])]}) from None
    rows = [Row(unit_id, entity_id if kind == "team" else None, entity_id if kind == "user" else None)
            for unit_id, kind, entity_id in picks]
    return rows, stats


def run(ctx, inputs: LqasInputs) -> dict:
    """The `lqas-sampling` process: sample, then replace the planning's assignments atomically."""
    plan = _plan(inputs)
    ctx.progress(5, f"Sampling {len(plan.types)} level(s) for planning '{plan.planning.name}' (seed {plan.seed})")

    def report(level: int, levels: int, message: str) -> None:
        ctx.progress(5 + int(80 * level / levels), message)

    rows, stats = sample(plan, report)
    ctx.progress(90, f"Writing {len(rows)} assignments")
    from app.models import Job

    job = db.session.get(Job, ctx.job_id)
    created = replace_assignments(plan.planning.id, rows, job.launcher_id if job else None, ctx.job_id)
    plan.planning.updated_at = utcnow()
    db.session.commit()
    return {"assignments_created": created, "org_units_selected": stats["org_units_selected"],
            "teams_assigned": stats["teams_assigned"], "seed": plan.seed}


SAMPLING_PROCESSES = ("lqas-sampling", "openhexa-pipeline")  # built in, or a pipeline run on OpenHEXA


def sampling_runs(user: User, planning: Planning, limit: int = 100) -> list:
    """Past sampling jobs of this planning the user may see (`lqas-sampling`, and OpenHEXA runs naming
    the planning), newest first."""
    from app.models import Job
    from app.services.processing.job_access import visible_jobs_filter

    stmt = (select(Job).where(Job.process_id.in_(SAMPLING_PROCESSES), Job.project_id == planning.project_id,
                              Job.inputs["planning_id"].as_integer() == planning.id, visible_jobs_filter(user))
            .order_by(Job.created_at.desc()).limit(limit))
    return list(db.session.execute(stmt).scalars())


def launch_sampling(user: User, planning_id: int, params: dict):
    """Check the user may sample this planning (MANAGE_PLANNING; 404 outside their projects), then queue
    the job in its project (nothing queued on bad input)."""
    from app.models import Permission
    from app.services.platform.permissions import require_permission
    from app.services.processing.jobs import enqueue_job
    from app.services.planning.plannings import get_planning

    require_permission(user, Permission.MANAGE_PLANNING)
    planning = get_planning(user, planning_id)
    return enqueue_job("lqas-sampling", {**params, "planning_id": planning.id}, launcher=user)


def describe_run(inputs: dict) -> str | None:
    """A sampling job in people's words: "Sampling for Round 3 — Gefa" (the planning and its root)."""
    planning = db.session.get(Planning, inputs.get("planning_id")) if isinstance(inputs.get("planning_id"), int) else None
    if planning is None:
        return None
    return f"Sampling for {planning.name} — {planning.org_unit.name}"
