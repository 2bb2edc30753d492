"""DHIS2 connections (write-only passwords, encrypted at rest) and data value set imports.

Imports go through `dhis2-client` (DHIS2's Python Web API client, httpx underneath):
`POST {url}/api/dataValueSets?dryRun=…&importStrategy=…` with basic auth and a body
`{"dataValues": [{dataElement, period, orgUnit, value}, …]}`. Jobs carry only the connection id;
the worker resolves the credentials here, and nothing below logs or returns the password.
"""
from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from app.extensions import db
from app.models import Dhis2Connection, Dhis2Import, User
from app.schemas.processing import Dhis2ConnectionIn
from app.services.platform.access import get_scoped, project_scope, resolve_project
from app.services.platform.errors import FieldErrors, NotFound
from app.services.platform.secrets_box import seal, unseal

IMPORT_STRATEGIES = ("CREATE_AND_UPDATE", "CREATE", "UPDATE", "DELETE")


def list_connections(user: User) -> list[Dhis2Connection]:
    """The connections of the user's projects, by name."""
    return list(db.session.execute(select(Dhis2Connection).where(Dhis2Connection.project_id.in_(project_scope(user)))
                                   .order_by(Dhis2Connection.name)).scalars())


def get_connection(user: User, connection_id) -> Dhis2Connection:
    """A connection of one of the user's projects; another project's is NotFound, like a missing one."""
    return get_scoped(Dhis2Connection, connection_id, user, "DHIS2 connection")


def save_connection(user: User, data: Dhis2ConnectionIn, connection_id: int | None = None) -> Dhis2Connection:
    """Create (in `project_id`, or the user's only project) or update a connection of the user's
    projects. An empty password on update keeps the stored one."""
    connection = get_connection(user, connection_id) if connection_id else Dhis2Connection()
    errors = FieldErrors()
    project_id = connection.project_id if connection_id else resolve_project(user, data.project_id, errors)
    if db.session.execute(select(Dhis2Connection.id).where(
            Dhis2Connection.name == data.name, Dhis2Connection.project_id == project_id,
            Dhis2Connection.id != (connection_id or -1))).first():
        errors.add("name", "is already used by another connection")
    if not data.password and not connection_id:
        errors.add("password", "is required")
    errors.raise_if_any("Invalid DHIS2 connection")
    connection.project_id, connection.name, connection.url = project_id, data.name, data.url
    connection.username = data.username
    if data.password:
        connection.password_encrypted = seal(data.password)
    connection.updated_by_id = user.id
    db.session.add(connection)
    db.session.commit()
    return connection


def client_for(connection_id: int):
    """A dhis2-client DHIS2Client for this connection (credentials resolved here, in the worker, for a job
    whose launch was authorized on this connection's project)."""
    from dhis2_client import DHIS2Client

    connection = db.session.get(Dhis2Connection, connection_id)
    if connection is None:
        raise NotFound(f"No DHIS2 connection {connection_id}", {"connection": connection_id})
    return DHIS2Client(connection.url, username=connection.username,
                       password=unseal(connection.password_encrypted), retries=0, timeout=60, connect_timeout=10)


NUMERIC_TYPES = {"NUMBER": None, "UNIT_INTERVAL": None, "PERCENTAGE": None, "INTEGER": 0, "INTEGER_POSITIVE": 0,
                 "INTEGER_NEGATIVE": 0, "INTEGER_ZERO_OR_POSITIVE": 0}  # value type → forced decimals (None: ours)


def check_data_element(connection_id: int, uid: str, period_type: str) -> dict:
    """The data element as DHIS2 describes it, checked for an import: it exists, is aggregate and
    numeric, and (when it is in data sets) one of them has the period type. Returns {valueType,
    decimals (0 for integer types, else None), warnings}; raises ValueError in plain words otherwise."""
    from dhis2_client.errors import DHIS2HTTPError

    client = client_for(connection_id)
    try:
        element = client.get(f"/api/dataElements/{uid}", params={
            "fields": "id,name,valueType,domainType,dataSetElements[dataSet[id,name,periodType]]"})
    except DHIS2HTTPError as exc:
        if exc.status_code == 404:
            raise ValueError(f"DHIS2 has no data element {uid}") from None
        raise
    finally:
        client.close()
    value_type = element.get("valueType")
    if element.get("domainType", "AGGREGATE") != "AGGREGATE":
        raise ValueError(f"data element {uid} ({element.get('name')}) is not an aggregate data element")
    if value_type not in NUMERIC_TYPES:
        raise ValueError(f"data element {uid} ({element.get('name')}) takes {value_type} values, not numbers")
    sets = [e.get("dataSet") or {} for e in element.get("dataSetElements") or []]
    period_types = {d.get("periodType") for d in sets if d.get("periodType")}
    warnings = []
    if not sets:
        warnings.append(f"data element {uid} is in no data set: DHIS2 stores the values but no form shows them")
    elif period_type.capitalize() not in {p.capitalize() for p in period_types}:
        raise ValueError(f"data element {uid} is in data sets of period type {', '.join(sorted(period_types))}, "
                         f"not {period_type}")
    return {"name": element.get("name"), "valueType": value_type, "decimals": NUMERIC_TYPES[value_type],
            "warnings": warnings}


def _summary_of(response: dict) -> dict:
    # DHIS2 ≥ 2.38 wraps the ImportSummary in a WebMessage under "response".
    summary = response.get("response") if isinstance(response.get("response"), dict) else response
    return {"status": summary.get("status") or response.get("status"), "importCount": summary.get("importCount") or {},
            "conflicts": summary.get("conflicts") or [], "description": summary.get("description")}


def merge_summaries(summaries: list[dict]) -> dict:
    """One summary for chunked posts: counts added, conflicts kept (the first 50), the worst status."""
    counts: dict[str, int] = {}
    for s in summaries:
        for key, value in (s.get("importCount") or {}).items():
            counts[key] = counts.get(key, 0) + int(value or 0)
    statuses = [s.get("status") for s in summaries]
    status = "ERROR" if statuses and all(x == "ERROR" for x in statuses) else \
        "WARNING" if any(x in ("ERROR", "WARNING") for x in statuses) or any(s.get("conflicts") for s in summaries) \
        else "SUCCESS"
    conflicts = [c for s in summaries for c in s.get("conflicts") or []]
    return {"status": status, "importCount": counts, "conflicts": conflicts[:50], "conflictCount": len(conflicts),
            "chunks": len(summaries), "description": "; ".join(dict.fromkeys(s["description"] for s in summaries
                                                                              if s.get("description"))) or None}


def import_data_values(connection_id: int, payload: dict, dry_run: bool,
                       strategy: str = "CREATE_AND_UPDATE", chunk_size: int = 5000, on_chunk=None) -> dict:
    """POST the data value set in chunks of `chunk_size` values; returns one import summary (status
    SUCCESS, WARNING for a partial import — a 409 with conflicts is one — or ERROR; importCount,
    conflicts). A 409 is DHIS2's answer for "imported what it could": counted, not raised."""
    from dhis2_client.errors import DHIS2HTTPError

    values = payload["dataValues"]
    client = client_for(connection_id)
    summaries = []
    try:
        for n in range(0, max(len(values), 1), chunk_size):
            body = {**payload, "dataValues": values[n:n + chunk_size]}
            try:
                response = client.post("/api/dataValueSets", json=body, params={
                    "dryRun": "true" if dry_run else "false", "importStrategy": strategy})
            except DHIS2HTTPError as exc:
                if exc.status_code != 409 or not isinstance(exc.payload, dict) or not exc.payload.get("response"):
                    raise
                response = exc.payload
            summaries.append(_summary_of(response))
            if on_chunk:
                on_chunk(len(summaries), -(-len(values) // chunk_size))
    finally:
        client.close()
    return merge_summaries(summaries)


def import_key(**parts) -> str:
    """The idempotency key of an import: same dataset, period, org units, data element → same key."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def previous_import(key: str) -> Dhis2Import | None:
    return db.session.execute(select(Dhis2Import).where(Dhis2Import.key == key)).scalar_one_or_none()


def record_import(key: str, connection_id: int, job_id: str, meta: dict, summary: dict) -> None:
    """Remember a real import (replacing the record of a forced re-import)."""
    row = previous_import(key) or Dhis2Import(key=key)
    row.connection_id, row.job_id = connection_id, job_id
    row.dataset_id, row.data_element = meta["datasetId"], meta["dataElement"]
    row.period_start, row.period_end = meta["start"], meta["end"]
    row.row_count, row.import_summary = meta["rowCount"], summary
    db.session.add(row)
    db.session.commit()
