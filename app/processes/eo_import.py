"""`eo-aggregate-import` (eo-api's eo_aggregate_import_v1): zonal statistics of an EO dataset over
org unit polygons, imported into DHIS2 as a data value set. Seven steps through the step runner."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from datetime import date
from typing import Annotated, Literal

import numpy as np
from pydantic import AfterValidator, Field, ValidationInfo, field_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import select

from app.extensions import db
from app.models import Job, OrgUnit
from app.schemas.parsing import Derived, Input
from app.schemas.types import Id, Text
from app.services.processing.registry import register_process
from app.services.processing.steps import PermanentError, SkipRemaining, Step, steps_process
from app.services.processing import dhis2
from app.services.processing import eo_data
from app.services.platform.errors import NotFound, ValidationFailed

UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
PERIOD_TYPES = ("DAILY", "MONTHLY", "YEARLY")
MAX_DAYS = 366 * 5
CONNECTION_MISSING = "must be the id of a stored DHIS2 connection"


def _uid(value: str) -> str:
    if not UID.match(value):
        raise ValueError("must be a DHIS2 UID (11 letters or digits, starting with a letter)")
    return value


class EoImportInputs(Input):
    """eo-api's eo_aggregate_import_v1 inputs, under its names."""

    datasetId: Literal[tuple(eo_data.DATASETS)] = Field(title="Dataset")  # noqa: N815 — eo-api's names
    start: date = Field(title="Period start")
    end: date = Field(title="Period end", description=f"At most {MAX_DAYS} days after start")
    periodType: Literal[PERIOD_TYPES] | SkipJsonSchema[None] = Derived(  # noqa: N815
        title="DHIS2 period type", description="Default: the dataset's own (YEARLY for yearly data)")
    orgUnitLevel: int = Field(ge=1, le=10, title="Org unit level (1 = country)")  # noqa: N815
    aggregation: Literal[tuple(eo_data.REDUCERS)] = Field(default="mean", title="Spatial aggregation")
    dataElement: Annotated[Text(11), AfterValidator(_uid)] = Field(  # noqa: N815
        title="DHIS2 data element UID", json_schema_extra={"pattern": UID.pattern})
    dryRun: bool = Field(default=True, title="Dry run")  # noqa: N815
    connection: Id | None = Field(
        default=None, validate_default=True, title="DHIS2 connection id",
        description="A stored DHIS2 connection of the job's project; without one a dry run only builds the payload",
        json_schema_extra={"x-options": "dhis2-connections"})
    force: bool = Field(default=False, title="Import again even if already imported")
    importStrategy: Literal[dhis2.IMPORT_STRATEGIES] = Field(  # noqa: N815
        default="CREATE_AND_UPDATE", title="Import strategy")

    @field_validator("end")
    @classmethod
    def _period(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start and end < start:
            raise ValueError("must not be before start")
        if start and (end - start).days > MAX_DAYS:
            raise ValueError(f"the period may cover at most {MAX_DAYS} days")
        return end

    @field_validator("periodType")
    @classmethod
    def _period_type(cls, value, info: ValidationInfo):
        dataset = eo_data.DATASETS.get(info.data.get("datasetId"))
        if dataset is None:
            return value
        if value is None:
            return dataset.native.upper()
        if dataset.native == "yearly" and value != "YEARLY":
            raise ValueError("must be YEARLY for yearly data")
        return value

    @field_validator("connection")
    @classmethod
    def _connection(cls, value, info: ValidationInfo):
        if value is None and info.data.get("dryRun") is False:
            raise ValueError("is required for a real (not dry-run) import")
        return value


def authorize(principal, inputs: EoImportInputs) -> int | None:
    """A DHIS2 connection is used like through its own page: only one of the principal's projects'
    (another project's reads as a missing one). The job runs in its project. Returns None without one."""
    if inputs.connection is None:
        return None
    try:
        return dhis2.get_connection(principal, inputs.connection).project_id
    except NotFound:
        raise ValidationFailed(f"Invalid inputs for eo-aggregate-import — connection: {CONNECTION_MISSING}",
                               {"connection": [CONNECTION_MISSING]}) from None


def dhis2_org_unit_id(unit) -> str:
    """Org units imported from DHIS2 carry their UID in source_ref ("dhis2:<uid>" or the bare uid)."""
    ref = (unit.source_ref or "").rsplit(":", 1)[-1]
    return ref or str(unit.id)


def _validate_inputs(sctx, state):
    """The inputs were read with their model and their connection authorized when the job started;
    what remains is the project whose org units the job reads."""
    project_id = db.session.get(Job, sctx.job_id).project_id
    db.session.rollback()
    return {"project_id": project_id}


def _load_org_units(sctx, state):
    """The job's project's org units at the level (a job of no project has none)."""
    inputs = state["inputs"]
    stmt = select(OrgUnit).where(OrgUnit.depth == inputs.orgUnitLevel - 1, OrgUnit.deleted_at.is_(None),
                                 OrgUnit.geometry.is_not(None),
                                 OrgUnit.project_id == state["validate_inputs"]["project_id"]).order_by(OrgUnit.id)
    units = [{"id": u.id, "uid": dhis2_org_unit_id(u), "name": u.name, "geometry": u.geometry}
             for u in db.session.execute(stmt).scalars()]
    db.session.rollback()
    if not units:
        raise ValueError(f"no org units with a geometry at level {inputs.orgUnitLevel}")
    sctx.log(f"{len(units)} org units at level {inputs.orgUnitLevel}")
    key = dhis2.import_key(connection=inputs.connection, dataset=inputs.datasetId, start=inputs.start,
                           end=inputs.end, periodType=inputs.periodType, aggregation=inputs.aggregation,
                           dataElement=inputs.dataElement, orgUnits=sorted(u["uid"] for u in units))
    if not inputs.dryRun and not inputs.force:
        previous = dhis2.previous_import(key)
        if previous is not None:
            raise SkipRemaining(f"already imported by job {previous.job_id} (use force to import again)",
                                {"orgUnitCount": len(units), "rowCount": previous.row_count,
                                 "importSummary": previous.import_summary})
    return {"units": units, "key": key}


def _extract(sctx, state):
    inputs = state["inputs"]
    stack, dates, transform = eo_data.read_period(inputs.datasetId, inputs.start, inputs.end)
    sctx.log(f"{len(dates)} rasters of {stack.shape[1]}×{stack.shape[2]} pixels")
    return {"stack": stack, "dates": dates, "transform": transform}


def _period_id(day: date, period_type: str) -> str:
    return {"DAILY": day.strftime("%Y%m%d"), "MONTHLY": day.strftime("%Y%m"), "YEARLY": day.strftime("%Y")}[period_type]


def _aggregate(sctx, state):
    inputs, source = state["inputs"], state["extract_source_data"]
    temporal = np.nansum if eo_data.DATASETS[inputs.datasetId].temporal == "sum" else np.nanmean
    groups = defaultdict(list)
    for i, day in enumerate(source["dates"]):
        groups[_period_id(day, inputs.periodType)].append(i)
    units = state["load_org_units"]["units"]
    shape = source["stack"].shape[1:]
    masks = eo_data.unit_masks({u["id"]: u["geometry"] for u in units}, shape, source["transform"])
    rows = []
    for n, (period, indices) in enumerate(sorted(groups.items()), start=1):
        raster = temporal(source["stack"][indices], axis=0)
        for unit in units:
            value = eo_data.zonal_stat(raster, masks[unit["id"]], inputs.aggregation)
            if value is not None:
                rows.append({"orgUnit": unit["uid"], "unitId": unit["id"], "period": period, "value": round(value, 4)})
        sctx.progress(n / len(groups))
    sctx.log(f"{len(rows)} values over {len(groups)} period(s)")
    return rows


def _build_payload(sctx, state):
    inputs, rows = state["inputs"], state["aggregate_to_org_units"]
    payload = {"dataValues": [{"dataElement": inputs.dataElement, "period": r["period"], "orgUnit": r["orgUnit"],
                               "value": f"{r['value']:g}"} for r in rows]}
    _write_json(sctx.job_id, "payload-preview.json",
                {"rowCount": len(rows), "dataValues": payload["dataValues"][:1000], "truncated": len(rows) > 1000})
    return payload


def _import(sctx, state):
    inputs, payload = state["inputs"], state["build_dhis2_payload"]
    if inputs.connection is None:
        sctx.log("no DHIS2 connection: the payload was built, nothing was sent")
        return {"status": "SKIPPED", "importCount": {}, "description": "dry run without a connection"}
    from dhis2_client.errors import DHIS2HTTPError

    try:
        summary = dhis2.import_data_values(inputs.connection, payload, inputs.dryRun, inputs.importStrategy)
    except DHIS2HTTPError as exc:
        if exc.status_code < 500:  # refused: retrying the same request cannot help
            raise PermanentError(f"DHIS2 answered {exc.status_code}: {exc}") from None
        raise
    sctx.log(f"DHIS2 {'dry run' if inputs.dryRun else 'import'}: {summary['status']} {summary['importCount']}")
    if summary["status"] not in ("SUCCESS", "WARNING", "OK"):
        raise PermanentError(f"DHIS2 refused the import: {summary['status']} {summary.get('description') or ''}".strip())
    if not inputs.dryRun:
        dhis2.record_import(state["load_org_units"]["key"], inputs.connection, sctx.job_id,
                            {**inputs.model_dump(mode="json"), "rowCount": len(payload["dataValues"])}, summary)
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
            "dryRun": state["inputs"].dryRun}


STEPS = [
    Step("validate_inputs", _validate_inputs),
    Step("load_org_units", _load_org_units, retries=1, backoff_seconds=0.5),
    Step("extract_source_data", _extract, retries=2, backoff_seconds=1, timeout_seconds=600, weight=3),
    Step("aggregate_to_org_units", _aggregate, timeout_seconds=900, weight=3),
    Step("build_dhis2_payload", _build_payload),
    Step("import_to_dhis2", _import, retries=2, backoff_seconds=2, timeout_seconds=300, weight=2),
    Step("publish_results", _publish),
]

register_process(steps_process(
    id="eo-aggregate-import",
    title="EO aggregate import into DHIS2",
    description="Aggregates an earth-observation dataset (CHIRPS precipitation, ERA5-Land temperature, WorldPop "
                "population) over org unit polygons and imports the values into DHIS2 as a data value set.",
    version="1.0.0",
    steps=STEPS,
    inputs=EoImportInputs,
    authorize=authorize,
    finish=_finish,
    outputs_schema={
        "orgUnitCount": {"schema": {"type": "integer"}}, "rowCount": {"schema": {"type": "integer"}},
        "payloadPreviewPath": {"schema": {"type": "string"}}, "resultFeaturesPath": {"schema": {"type": "string"}},
        "importSummary": {"schema": {"type": "object"}},
    },
    timeout_seconds=1800,
))
