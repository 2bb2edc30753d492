"""`eo-aggregate-import` (eo-api's eo_aggregate_import_v1): zonal statistics of an EO dataset over
org unit polygons, imported into DHIS2 as a data value set. Seven steps through the step runner."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from datetime import date

import numpy as np
from sqlalchemy import select

from app.extensions import db
from app.models import Dhis2Connection, Job, OrgUnit
from app.services.processing.registry import register_process
from app.services.processing.steps import PermanentError, SkipRemaining, Step, steps_process
from app.services.processing import dhis2
from app.services.processing import eo_data
from app.services.platform.errors import FieldErrors, NotFound

UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
PERIOD_TYPES = ("DAILY", "MONTHLY", "YEARLY")
AGGREGATIONS = tuple(eo_data.REDUCERS)
MAX_DAYS = 366 * 5
INPUTS = {"datasetId", "start", "end", "periodType", "orgUnitLevel", "aggregation", "dataElement",
          "connection", "dryRun", "force", "importStrategy"}


def _date(raw, field: str, errors: FieldErrors) -> date | None:
    if raw in (None, ""):
        errors.add(field, "is required")
        return None
    try:
        return date.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        pass
    errors.add(field, "must be a date YYYY-MM-DD")
    return None


def validate(inputs: dict) -> dict:
    errors = FieldErrors()
    for name in sorted(set(inputs) - INPUTS):
        errors.add(name, "is not an input of this process")
    dataset = inputs.get("datasetId")
    if dataset not in eo_data.DATASETS:
        errors.add("datasetId", f"must be one of {', '.join(eo_data.DATASETS)}")
    start, end = _date(inputs.get("start"), "start", errors), _date(inputs.get("end"), "end", errors)
    if start and end and end < start:
        errors.add("end", "must not be before start")
    elif start and end and (end - start).days > MAX_DAYS:
        errors.add("end", f"the period may cover at most {MAX_DAYS} days")
    native = eo_data.DATASETS[dataset].native.upper() if dataset in eo_data.DATASETS else "DAILY"
    period_type = inputs.get("periodType", native)
    if period_type not in PERIOD_TYPES or (native == "YEARLY" and period_type != "YEARLY"):
        errors.add("periodType", f"must be one of {', '.join(PERIOD_TYPES)} (YEARLY for yearly data)")
    level = inputs.get("orgUnitLevel")
    if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
        errors.add("orgUnitLevel", "must be a whole number from 1 (country) to 10")
    aggregation = inputs.get("aggregation", "mean")
    if aggregation not in AGGREGATIONS:
        errors.add("aggregation", f"must be one of {', '.join(AGGREGATIONS)}")
    element = inputs.get("dataElement")
    if not isinstance(element, str) or not UID.match(element):
        errors.add("dataElement", "must be a DHIS2 UID (11 letters or digits, starting with a letter)")
    dry_run, force = inputs.get("dryRun", True), inputs.get("force", False)
    for name, value in (("dryRun", dry_run), ("force", force)):
        if not isinstance(value, bool):
            errors.add(name, "must be true or false")
    strategy = inputs.get("importStrategy", "CREATE_AND_UPDATE")
    if strategy not in dhis2.IMPORT_STRATEGIES:
        errors.add("importStrategy", f"must be one of {', '.join(dhis2.IMPORT_STRATEGIES)}")
    connection = inputs.get("connection")
    if connection is not None and (isinstance(connection, bool) or not isinstance(connection, int)
                                   or db.session.get(Dhis2Connection, connection) is None):
        errors.add("connection", "must be the id of a stored DHIS2 connection")
    elif connection is None and dry_run is False:
        errors.add("connection", "is required for a real (not dry-run) import")
    errors.raise_if_any("Invalid inputs for eo-aggregate-import")
    return {"datasetId": dataset, "start": start.isoformat(), "end": end.isoformat(), "periodType": period_type,
            "orgUnitLevel": level, "aggregation": aggregation, "dataElement": element, "connection": connection,
            "dryRun": dry_run, "force": force, "importStrategy": strategy}


def authorize(principal, inputs: dict) -> int | None:
    """A DHIS2 connection is used like through its own page: only one of the principal's projects'
    (another project's reads as a missing one). The job runs in its project. Returns None without one."""
    connection = inputs.get("connection")
    if isinstance(connection, bool) or not isinstance(connection, int):
        return None  # none, or not an id: validation names it
    try:
        return dhis2.get_connection(principal, connection).project_id
    except NotFound:
        errors = FieldErrors()
        errors.add("connection", "must be the id of a stored DHIS2 connection")
        errors.raise_if_any("Invalid inputs for eo-aggregate-import")


def dhis2_org_unit_id(unit) -> str:
    """Org units imported from DHIS2 carry their UID in source_ref ("dhis2:<uid>" or the bare uid)."""
    ref = (unit.source_ref or "").rsplit(":", 1)[-1]
    return ref or str(unit.id)


def _validate_inputs(sctx, state):
    inputs = state["inputs"]
    validate({k: v for k, v in inputs.items()})  # the connection may have been deleted since
    project_id = db.session.get(Job, sctx.job_id).project_id
    db.session.rollback()
    return {"project_id": project_id}


def _load_org_units(sctx, state):
    """The job's project's org units at the level (a job of no project has none)."""
    inputs = state["inputs"]
    stmt = select(OrgUnit).where(OrgUnit.depth == inputs["orgUnitLevel"] - 1, OrgUnit.deleted_at.is_(None),
                                 OrgUnit.geometry.is_not(None),
                                 OrgUnit.project_id == state["validate_inputs"]["project_id"]).order_by(OrgUnit.id)
    units = [{"id": u.id, "uid": dhis2_org_unit_id(u), "name": u.name, "geometry": u.geometry}
             for u in db.session.execute(stmt).scalars()]
    db.session.rollback()
    if not units:
        raise ValueError(f"no org units with a geometry at level {inputs['orgUnitLevel']}")
    sctx.log(f"{len(units)} org units at level {inputs['orgUnitLevel']}")
    key = dhis2.import_key(connection=inputs["connection"], dataset=inputs["datasetId"], start=inputs["start"],
                           end=inputs["end"], periodType=inputs["periodType"], aggregation=inputs["aggregation"],
                           dataElement=inputs["dataElement"], orgUnits=sorted(u["uid"] for u in units))
    if not inputs["dryRun"] and not inputs["force"]:
        previous = dhis2.previous_import(key)
        if previous is not None:
            raise SkipRemaining(f"already imported by job {previous.job_id} (use force to import again)",
                                {"orgUnitCount": len(units), "rowCount": previous.row_count,
                                 "importSummary": previous.import_summary})
    return {"units": units, "key": key}


def _extract(sctx, state):
    inputs = state["inputs"]
    stack, dates, transform = eo_data.read_period(inputs["datasetId"], date.fromisoformat(inputs["start"]),
                                                  date.fromisoformat(inputs["end"]))
    sctx.log(f"{len(dates)} rasters of {stack.shape[1]}×{stack.shape[2]} pixels")
    return {"stack": stack, "dates": dates, "transform": transform}


def _period_id(day: date, period_type: str) -> str:
    return {"DAILY": day.strftime("%Y%m%d"), "MONTHLY": day.strftime("%Y%m"), "YEARLY": day.strftime("%Y")}[period_type]


def _aggregate(sctx, state):
    inputs, source = state["inputs"], state["extract_source_data"]
    temporal = np.nansum if eo_data.DATASETS[inputs["datasetId"]].temporal == "sum" else np.nanmean
    groups = defaultdict(list)
    for i, day in enumerate(source["dates"]):
        groups[_period_id(day, inputs["periodType"])].append(i)
    units = state["load_org_units"]["units"]
    shape = source["stack"].shape[1:]
    masks = eo_data.unit_masks({u["id"]: u["geometry"] for u in units}, shape, source["transform"])
    rows = []
    for n, (period, indices) in enumerate(sorted(groups.items()), start=1):
        raster = temporal(source["stack"][indices], axis=0)
        for unit in units:
            value = eo_data.zonal_stat(raster, masks[unit["id"]], inputs["aggregation"])
            if value is not None:
                rows.append({"orgUnit": unit["uid"], "unitId": unit["id"], "period": period, "value": round(value, 4)})
        sctx.progress(n / len(groups))
    sctx.log(f"{len(rows)} values over {len(groups)} period(s)")
    return rows


def _build_payload(sctx, state):
    inputs, rows = state["inputs"], state["aggregate_to_org_units"]
    payload = {"dataValues": [{"dataElement": inputs["dataElement"], "period": r["period"], "orgUnit": r["orgUnit"],
                               "value": f"{r['value']:g}"} for r in rows]}
    _write_json(sctx.job_id, "payload-preview.json",
                {"rowCount": len(rows), "dataValues": payload["dataValues"][:1000], "truncated": len(rows) > 1000})
    return payload


def _import(sctx, state):
    inputs, payload = state["inputs"], state["build_dhis2_payload"]
    if inputs["connection"] is None:
        sctx.log("no DHIS2 connection: the payload was built, nothing was sent")
        return {"status": "SKIPPED", "importCount": {}, "description": "dry run without a connection"}
    from dhis2_client.errors import DHIS2HTTPError

    try:
        summary = dhis2.import_data_values(inputs["connection"], payload, inputs["dryRun"], inputs["importStrategy"])
    except DHIS2HTTPError as exc:
        if exc.status_code < 500:  # refused: retrying the same request cannot help
            raise PermanentError(f"DHIS2 answered {exc.status_code}: {exc}") from None
        raise
    sctx.log(f"DHIS2 {'dry run' if inputs['dryRun'] else 'import'}: {summary['status']} {summary['importCount']}")
    if summary["status"] not in ("SUCCESS", "WARNING", "OK"):
        raise PermanentError(f"DHIS2 refused the import: {summary['status']} {summary.get('description') or ''}".strip())
    if not inputs["dryRun"]:
        dhis2.record_import(state["load_org_units"]["key"], inputs["connection"], sctx.job_id,
                            {**inputs, "rowCount": len(payload["dataValues"])}, summary)
    return summary


def _publish(sctx, state):
    rows = state["aggregate_to_org_units"]
    by_unit = defaultdict(dict)
    for row in rows:
        by_unit[row["unitId"]][row["period"]] = row["value"]
    features = [{"type": "Feature", "geometry": u["geometry"],
                 "properties": {"id": u["id"], "orgUnit": u["uid"], "name": u["name"], "values": by_unit.get(u["id"], {})}}
                for u in state["load_org_units"]["units"]]
    _write_json(sctx.job_id, "result-features.geojson", {"type": "FeatureCollection", "features": features})
    return True


def _write_json(job_id: str, name: str, data) -> None:
    from app.services.processing.artifacts import artifacts_dir

    path = os.path.join(artifacts_dir(job_id), name)
    with open(path + ".tmp", "w") as fh:
        json.dump(data, fh, separators=(",", ":"))
    os.replace(path + ".tmp", path)


def _finish(state) -> dict:
    from app.services.processing.artifacts import artifact_url

    job_id = state["_job_id"]
    return {"orgUnitCount": len(state["load_org_units"]["units"]), "rowCount": len(state["aggregate_to_org_units"]),
            "payloadPreviewPath": artifact_url(job_id, "payload-preview.json"),
            "importSummary": state["import_to_dhis2"], "resultFeaturesPath": artifact_url(job_id, "result-features.geojson"),
            "dryRun": state["inputs"]["dryRun"]}


STEPS = [
    Step("validate_inputs", _validate_inputs),
    Step("load_org_units", _load_org_units, retries=1, backoff_seconds=0.5),
    Step("extract_source_data", _extract, retries=2, backoff_seconds=1, timeout_seconds=600, weight=3),
    Step("aggregate_to_org_units", _aggregate, timeout_seconds=900, weight=3),
    Step("build_dhis2_payload", _build_payload),
    Step("import_to_dhis2", _import, retries=2, backoff_seconds=2, timeout_seconds=300, weight=2),
    Step("publish_results", _publish),
]

_schema = {
    "datasetId": {"title": "Dataset", "schema": {"type": "string", "enum": list(eo_data.DATASETS)}, "minOccurs": 1},
    "start": {"title": "Period start", "schema": {"type": "string", "format": "date"}, "minOccurs": 1},
    "end": {"title": "Period end", "schema": {"type": "string", "format": "date"}, "minOccurs": 1},
    "periodType": {"title": "DHIS2 period type", "schema": {"type": "string", "enum": list(PERIOD_TYPES)}, "minOccurs": 0},
    "orgUnitLevel": {"title": "Org unit level (1 = country)", "schema": {"type": "integer", "minimum": 1, "maximum": 10}, "minOccurs": 1},
    "aggregation": {"title": "Spatial aggregation", "schema": {"type": "string", "enum": list(AGGREGATIONS), "default": "mean"}, "minOccurs": 0},
    "dataElement": {"title": "DHIS2 data element UID", "schema": {"type": "string", "pattern": UID.pattern}, "minOccurs": 1},
    "connection": {"title": "DHIS2 connection id", "schema": {"type": "integer"}, "minOccurs": 0},
    "dryRun": {"title": "Dry run", "schema": {"type": "boolean", "default": True}, "minOccurs": 0},
    "force": {"title": "Import again even if already imported", "schema": {"type": "boolean", "default": False}, "minOccurs": 0},
    "importStrategy": {"title": "Import strategy", "schema": {"type": "string", "enum": list(dhis2.IMPORT_STRATEGIES), "default": "CREATE_AND_UPDATE"}, "minOccurs": 0},
}

register_process(steps_process(
    id="eo-aggregate-import",
    title="EO aggregate import into DHIS2",
    description="Aggregates an earth-observation dataset (CHIRPS precipitation, ERA5-Land temperature, WorldPop "
                "population) over org unit polygons and imports the values into DHIS2 as a data value set.",
    version="1.0.0",
    steps=STEPS,
    validate=validate,
    authorize=authorize,
    finish=_finish,
    inputs_schema=_schema,
    outputs_schema={
        "orgUnitCount": {"schema": {"type": "integer"}}, "rowCount": {"schema": {"type": "integer"}},
        "payloadPreviewPath": {"schema": {"type": "string"}}, "resultFeaturesPath": {"schema": {"type": "string"}},
        "importSummary": {"schema": {"type": "object"}},
    },
    timeout_seconds=1800,
))
