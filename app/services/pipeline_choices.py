"""Which pipelines a planning offers, with names: the built-in LQAS one and OpenHEXA's."""
from __future__ import annotations

import logging

from app.services import openhexa
from app.services.errors import DomainError
from app.services.openhexa_client import OpenHexaError
from app.services.plannings import BUILTIN_PIPELINE

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
