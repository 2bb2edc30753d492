"""Which pipelines a planning offers, with names: the built-in LQAS one and OpenHEXA's."""
from __future__ import annotations

import logging

from app.services.planning import openhexa
from app.services.platform.errors import DomainError, FieldErrors, ValidationFailed
from app.services.planning.openhexa_client import OpenHexaError
from app.services.planning.plannings import BUILTIN_PIPELINE

log = logging.getLogger(__name__)


def openhexa_pipelines(user) -> list[dict]:
    """The workspace's pipelines, or [] when OpenHEXA is not configured or unreachable."""
    if not openhexa.config_status()["configured"]:
        return []
    try:
        return openhexa.list_pipelines(user)
    except (OpenHexaError, DomainError) as exc:
        log.warning("could not list OpenHEXA pipelines: %s", exc)
        return []


def describe(user, pipeline_ids: list[str]) -> list[dict]:
    """[{id, label, kind: builtin|lqas|generic}] for the planning's pipelines."""
    status = openhexa.config_status()
    known = {p["id"]: p for p in openhexa_pipelines(user)} if len(pipeline_ids) > 1 else {}
    out = []
    for pid in pipeline_ids:
        if pid == BUILTIN_PIPELINE:
            out.append({"id": pid, "label": "LQAS sampling (built in)", "kind": "builtin"})
            continue
        if not status["configured"]:
            continue
        info = known.get(pid, {})
        kind = "lqas" if info.get("code") and info.get("code") == status.get("lqas_pipeline_code") else "generic"
        out.append({"id": pid, "label": f"{info.get('name') or info.get('code') or pid} (OpenHEXA)", "kind": kind})
    return out


def typed_parameters(parameters: list[dict], values: dict) -> dict:
    """An OpenHEXA pipeline's own parameter values (form strings), typed from its definition."""
    errors, config = FieldErrors(), {}
    casts = {"int": int, "float": float, "bool": lambda v: v.lower() in ("1", "true", "yes", "on")}
    for p in parameters:
        raw = str(values.get(p["code"], "")).strip()
        if raw == "":
            if p.get("required") and p.get("default") is None:
                errors.add(p["code"], "is required")
            continue
        items = [v.strip() for v in raw.split(",")] if p.get("multiple") else [raw]
        try:
            typed = [casts.get(p["type"], str)(v) for v in items]
        except ValueError:
            errors.add(p["code"], f"must be of type {p['type']}")
            continue
        config[p["code"]] = typed if p.get("multiple") else typed[0]
    errors.raise_if_any("Please fill in the pipeline's parameters")
    return config


def launch_for_planning(user, planning, pipeline: str, levels: dict, values: dict, host_url: str):
    """Launch the sampling dialog's choice: the built-in LQAS job, the OpenHEXA LQAS pipeline (same
    parameters, checked the same way first), or another OpenHEXA pipeline with its own parameters."""
    from app.services.planning import sampling
    from app.services.planning.plannings import available_pipelines

    if pipeline not in available_pipelines(planning):
        raise ValidationFailed("This pipeline is not offered for this planning.", {"pipeline": ["not available"]})
    if pipeline == BUILTIN_PIPELINE:
        return sampling.launch_sampling(user, planning.id, levels)
    chosen = next(p for p in describe(user, [BUILTIN_PIPELINE, pipeline]) if p["id"] == pipeline)
    if chosen["kind"] == "lqas":
        clean = sampling.validate_inputs({**levels, "planning_id": planning.id})
        # per-level lists keep their positions: OpenHEXA drops empty strings, so "-" marks "none"
        config = {**clean, sampling.EXCEPTIONS: [",".join(map(str, e)) or "-" for e in clean[sampling.EXCEPTIONS]],
                  sampling.CRITERIA: [c or "-" for c in clean[sampling.CRITERIA]]}
    else:
        config = typed_parameters(openhexa.visible_parameters(openhexa.get_pipeline(user, pipeline)), values)
        config["planning_id"] = planning.id
    return openhexa.launch(user, pipeline, None, config, host_url)
