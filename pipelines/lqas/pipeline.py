"""Fieldflow LQAS sampling — an OpenHEXA pipeline.

Fieldflow launches it with the sampling parameters plus three injected keys: `connection_host`
(Fieldflow's URL), `connection_token` (a short-lived token scoped to this run's task and planning)
and `task_id`. It reads the planning's org units and teams through Fieldflow's API, samples with
the same semantics as Fieldflow's built-in pipeline (lqas_core.py), writes the assignments back
and reports progress on the task. See README.md to deploy it.
"""
from __future__ import annotations

import json
import random

import requests
from openhexa.sdk import current_run, parameter, pipeline

try:  # deployed on OpenHEXA: the pipeline folder is the import root
    from lqas_core import Level, TooFewCandidates, check_hierarchy, sample_levels
except ImportError:  # run from the Fieldflow repository
    from pipelines.lqas.lqas_core import Level, TooFewCandidates, check_hierarchy, sample_levels

PAGE = 500


class Fieldflow:
    """The few Fieldflow API calls the pipeline makes."""

    def __init__(self, host: str, token: str, task_id: int):
        self.host, self.task_id = host.rstrip("/"), task_id
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def _check(self, response: requests.Response) -> dict | list:
        if response.status_code >= 400:
            raise RuntimeError(f"Fieldflow answered {response.status_code} on {response.request.method} "
                               f"{response.request.path_url}: {response.text[:300]}")
        return response.json()

    def get(self, path: str, **params) -> dict | list:
        return self._check(self.session.get(self.host + path, params=params, timeout=30))

    def post(self, path: str, body: dict) -> dict | list:
        return self._check(self.session.post(self.host + path, json=body, timeout=120))

    def all_pages(self, path: str, **params) -> list[dict]:
        items, page = [], 1
        while True:
            body = self.get(path, page=page, limit=PAGE, **params)
            items += body["items"]
            if "next" not in body["_links"]:
                return items
            page += 1

    def report(self, progress: int, message: str, status: str | None = None, result: dict | None = None) -> None:
        body = {"task_id": self.task_id, "progress_value": progress, "end_value": 100, "progress_message": message}
        if status:
            body["status"] = status
        if result is not None:
            body["result"] = result
        self._check(self.session.patch(f"{self.host}/api/openhexa/pipelines/{self.task_id}/", json=body, timeout=30))
        current_run.log_info(message) if current_run else print(message)


def per_level(values: list | None, levels: int, parse) -> list:
    """Per-level lists keep their positions: '-' (or '') is an empty level; a single JSON string
    may carry the whole list (the SDK drops empty strings from list parameters)."""
    values = list(values or [])
    if len(values) == 1 and isinstance(values[0], str) and values[0].strip().startswith("["):
        values = json.loads(values[0])
    values = values or ["-"] * levels
    if len(values) != levels:
        raise ValueError(f"expected {levels} per-level values, got {len(values)}")
    return [parse(v) for v in values]


def _ids(value) -> frozenset:
    if isinstance(value, list):
        return frozenset(int(v) for v in value)
    text = str(value or "").strip()
    return frozenset() if text in ("", "-") else frozenset(int(v) for v in text.split(",") if v.strip())


def _criterion(value) -> str | None:
    text = str(value or "").strip().upper()
    return None if text in ("", "-") else text


def run_sampling(api: Fieldflow, planning_id: int, types: list[int], quantities: list[int],
                 exceptions: list | None, criteria: list | None, seed: int | None) -> dict:
    api.report(1, "Connected to Fieldflow")
    planning = api.get(f"/api/microplanning/plannings/{planning_id}/")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**31)
    levels = [Level(t, f"type {t}", q, e, c) for t, q, e, c in zip(
        types, quantities, per_level(exceptions, len(types), _ids), per_level(criteria, len(types), _criterion))]
    teams = {t["id"]: t for t in api.all_pages("/api/teams/")}

    def candidates(parent, level: Level):
        query = {"under": parent[0], "org_unit_type_id": level.type_id, "order": "id"}
        if level.criterion:
            query["area_type"] = level.criterion
        return [(u["id"], u["name"], u["path"]) for u in api.all_pages("/api/orgunits/", **query)]

    def children(entity):
        team = teams[entity[1]]
        if team["type"] == "TEAM_OF_USERS":
            return [("user", u["id"], u["username"]) for u in sorted(team["users"], key=lambda u: (u["username"], u["id"]))]
        subs = sorted((t for t in teams.values() if t["parent_id"] == team["id"]), key=lambda t: (t["name"], t["id"]))
        return [("team", t["id"], t["name"]) for t in subs]

    def progress(level, total, message):
        api.report(5 + int(80 * level / total), message)

    root = planning["org_unit_details"]
    root_team = ("team", planning["team"], planning["team_details"]["name"])
    check_hierarchy(root_team, len(levels), children)  # the seed's "Verify org unit type hierarchy matches team hierarchy"
    rows, stats = sample_levels((root["id"], root["name"], ""), root_team, levels, seed, candidates, children, progress)
    api.report(90, f"Writing {len(rows)} assignments")
    new = {unit for unit, _, _ in rows}
    current = {a["org_unit"] for a in api.all_pages("/api/microplanning/assignments/", planning=planning_id)}
    api.post("/api/assignments/bulk_create_assignments/", {
        "planning": planning_id, "assignments": [{"org_unit": unit, kind: who} for unit, kind, who in rows]})
    stale = sorted(current - new)
    if stale:
        api.post("/api/microplanning/assignments/bulk_delete_assignments/", {"planning": planning_id, "org_units": stale})
    return {"assignments_created": len(rows), **stats, "seed": seed}


@pipeline("fieldflow-lqas", name="Fieldflow LQAS sampling")
@parameter("connection_host", type=str, name="Fieldflow URL (set by Fieldflow)", required=True)
@parameter("connection_token", type=str, name="Fieldflow token (set by Fieldflow)", required=True)
@parameter("task_id", type=int, name="Fieldflow task number (set by Fieldflow)", required=True)
@parameter("planning_id", type=int, name="Planning", required=True)
@parameter("org_unit_type_sequence_identifiers", type=int, multiple=True, name="Org unit type per level", required=True)
@parameter("org_unit_type_quantities", type=int, multiple=True, name="Quantity per level", required=True)
@parameter("org_unit_type_exceptions", type=str, multiple=True, name="Excluded ids per level ('-' for none)",
           required=False)
@parameter("org_unit_type_criteria", type=str, multiple=True, name="URBAN/RURAL per level ('-' for none)",
           required=False)
@parameter("seed", type=int, name="Random seed", required=False)
def fieldflow_lqas(connection_host, connection_token, task_id, planning_id, org_unit_type_sequence_identifiers,
                   org_unit_type_quantities, org_unit_type_exceptions, org_unit_type_criteria, seed):
    api = Fieldflow(connection_host, connection_token, task_id)
    try:
        result = run_sampling(api, planning_id, org_unit_type_sequence_identifiers, org_unit_type_quantities,
                              org_unit_type_exceptions, org_unit_type_criteria, seed)
    except (TooFewCandidates, ValueError, RuntimeError) as exc:
        api.report(100, f"Sampling failed: {exc}", status="ERRORED")
        raise
    api.report(100, f"{result['assignments_created']} assignments written", status="SUCCESS", result=result)


if __name__ == "__main__":
    fieldflow_lqas()
