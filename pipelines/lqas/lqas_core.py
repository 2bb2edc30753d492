"""LQAS sampling semantics, shared by Fieldflow's built-in pipeline and the OpenHEXA pipeline.

Pure: no database, no HTTP. Level k picks `quantity` units of its type under each unit picked at
level k-1 (level 1 under the root), from candidates sorted by id, with `random.Random(seed)`;
picks under one parent are sorted by (name, id) and dealt in turn to the children (sub-teams or
users, in a stable order) of the team that parent went to. The deepest picks are the assignments.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

Unit = tuple  # (id, name, path)
Entity = tuple  # ("team" | "user", id, name)


@dataclass(frozen=True)
class Level:
    type_id: int
    type_name: str
    quantity: int
    excluded: frozenset = frozenset()
    criterion: str | None = None


class TooFewCandidates(Exception):
    def __init__(self, parent: Unit, level: int, level_def: Level, available: int):
        what = f"{level_def.criterion.lower()} " if level_def.criterion else ""
        super().__init__(f"Too few candidates under '{parent[1]}' (id {parent[0]}) at level {level}: {available} "
                         f"{what}'{level_def.type_name}' available after exclusions, {level_def.quantity} requested.")
        self.parent, self.level = parent, level


class HierarchyMismatch(ValueError):
    """The team tree is too shallow for the levels asked (the seed's "Hierarchy Mismatch")."""


def check_hierarchy(root_team: Entity, levels: int, children: Callable[[Entity], list[Entity]]) -> None:
    """Every team that receives picks above the deepest level needs sub-teams or users, level by level
    down from the planning's team; HierarchyMismatch names the first that has none."""
    frontier = [root_team]
    for level in range(1, levels + 1):
        below: list[Entity] = []
        for entity in frontier:
            if entity[0] == "user":
                raise HierarchyMismatch(
                    f"Hierarchy mismatch: level {level} needs sub-teams under user '{entity[2]}'; the team tree of "
                    f"'{root_team[2]}' is too shallow for {levels} levels.")
            found = children(entity)
            if not found:
                raise HierarchyMismatch(f"Hierarchy mismatch: level {level} needs sub-teams or users under team "
                                        f"'{entity[2]}', which has none.")
            below.extend(found)
        frontier = below


def sample_levels(root: Unit, root_team: Entity, levels: list[Level], seed: int,
                  candidates: Callable[[Unit, Level], list[Unit]], children: Callable[[Entity], list[Entity]],
                  progress: Callable[[int, int, str], None] | None = None) -> tuple[list[tuple[int, str, int]], dict]:
    """Returns ([(org unit id, "team"|"user", assignee id)], {"org_units_selected", "teams_assigned"})."""
    rng = random.Random(seed)
    parents: list[tuple[Unit, Entity]] = [(root, root_team)]
    selected = 0
    for number, level in enumerate(levels, start=1):
        picks: list[tuple[Unit, Entity]] = []
        for parent, entity in parents:
            pool = sorted((u for u in candidates(parent, level) if u[0] not in level.excluded and u[0] != parent[0]),
                          key=lambda u: u[0])
            if len(pool) < level.quantity:
                raise TooFewCandidates(parent, number, level, len(pool))
            chosen = sorted(rng.sample(pool, level.quantity), key=lambda u: (u[1], u[0]))
            takers = children(entity)
            for index, unit in enumerate(chosen):
                picks.append((unit, takers[index % len(takers)]))
        selected += len(picks)
        if progress:
            progress(number, len(levels), f"Level {number} of {len(levels)}: {len(picks)} '{level.type_name}' selected")
        parents = picks
    rows = [(unit[0], entity[0], entity[1]) for unit, entity in parents]
    return rows, {"org_units_selected": selected, "teams_assigned": len({(e[0], e[1]) for _, e in parents})}
