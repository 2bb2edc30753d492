"""Org units from a DHIS2 connection: the hierarchy, level by level, with geometry and UIDs.

`GET /api/organisationUnits?level=N&fields=id,name,level,parent[id],geometry&paging=false` for
levels 1..N through dhis2-client; each unit is imported with `dhis2:<uid>` as its source reference
(as Iaso keeps the source's id), so the EO import sends DHIS2's UID and a re-import updates rather
than duplicates. Level L gets the project's org unit type of depth L−1. The units go through the
same validated importer as a GeoJSON file (`orgunit_import`): all or nothing.
"""
from __future__ import annotations

import json
import os
import tempfile

from sqlalchemy import select

from app.extensions import db
from app.models import Dhis2Connection, OrgUnitType, Project
from app.services.planning.orgunit_import import import_org_units
from app.services.platform.errors import NotFound, ValidationFailed
from app.services.processing.dhis2 import client_for

FIELDS = "id,name,level,parent[id],geometry"


def fetch_hierarchy(connection_id: int, levels: int) -> list[dict]:
    """DHIS2's org units of levels 1..levels, top down."""
    client = client_for(connection_id)
    try:
        units = []
        for level in range(1, levels + 1):
            page = client.get("/api/organisationUnits", params={"level": level, "fields": FIELDS, "paging": "false"})
            units.extend(page.get("organisationUnits") or [])
    finally:
        client.close()
    return units


def import_from_dhis2(connection_id: int, levels: int, progress=None) -> dict:
    """Import levels 1..`levels` of the connection's DHIS2 into the connection's project.
    Returns {"created", "updated", "fetched"}; raises ValidationFailed (nothing written) on problems."""
    connection = db.session.get(Dhis2Connection, connection_id)
    if connection is None:
        raise NotFound(f"No DHIS2 connection {connection_id}", {"connection": connection_id})
    project = db.session.get(Project, connection.project_id)
    types = {t.depth: t.name for t in db.session.execute(
        select(OrgUnitType).where(OrgUnitType.project_id == project.id)).scalars()}
    missing = [level for level in range(1, levels + 1) if level - 1 not in types]
    if missing:
        raise ValidationFailed(f"Project '{project.name}' has no org unit type for DHIS2 level(s) "
                               f"{', '.join(map(str, missing))} (level L takes the type of depth L−1)",
                               {"levels": [f"no org unit type of depth {level - 1}" for level in missing]})
    units = fetch_hierarchy(connection_id, levels)
    uids = {u["id"] for u in units}
    features = []
    for unit in units:
        parent = (unit.get("parent") or {}).get("id")
        geometry = unit.get("geometry")
        props = {"id": f"dhis2:{unit['id']}", "name": unit.get("name"), "type": types[int(unit["level"]) - 1],
                 "parent": f"dhis2:{parent}" if parent in uids else None}
        if geometry and geometry.get("type") == "Point":
            props["longitude"], props["latitude"] = geometry["coordinates"][:2]
            geometry = None
        features.append({"type": "Feature", "properties": props, "geometry": geometry})
    handle, path = tempfile.mkstemp(prefix="dhis2-orgunits-", suffix=".geojson")
    try:
        with os.fdopen(handle, "w") as fh:
            json.dump({"type": "FeatureCollection", "features": features}, fh)
        result = import_org_units(path, project.name, progress=progress)
    finally:
        os.remove(path)
    return {**result, "fetched": len(units)}
