"""`eo-aggregate-import` (eo-api's eo_aggregate_import_v1): zonal statistics of an EO dataset over
org unit polygons, imported into DHIS2 as a data value set. Seven steps through the step runner."""
from __future__ import annotations

import json
import os
import re
from collections import defaultdict
from datetime import date, timedelta
from typing import Annotated, Literal

import numpy as np
from flask import current_app
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema
from sqlalchemy import select

from app.extensions import db
from app.models import Job, OrgUnit
from app.schemas.parsing import Derived, Input
from app.schemas.types import Id, Text
from app.services.processing.registry import register_process
from app.services.processing.steps import PermanentError, SkipRemaining, Step, steps_process
from app.services.processing import dhis2
from app.services.processing import eo_data, eo_sources
from app.services.platform.errors import NotFound, ValidationFailed

UID = re.compile(r"^[A-Za-z][A-Za-z0-9]{10}$")
PERIOD_TYPES = ("DAILY", "MONTHLY", "YEARLY")
MAX_DAYS = 366 * 5
CONNECTION_MISSING = "must be the id of a stored DHIS2 connection"


def _uid(value: str) -> str:
    if not UID.match(value):
        raise ValueError("must be a DHIS2 UID (11 letters or digits, starting with a letter)")
    return value


FLOW_NAME = "eo_aggregate_import_v1"  # eo-api's name of the flow
DHIS2_OPTIONS = ("dataElement", "dryRun", "connection", "force", "importStrategy", "categoryOptionCombo",
                 "attributeOptionCombo", "periodType")
DHIS2_ALIASES = {"dataElementId": "dataElement", "connectionId": "connection", "coc": "categoryOptionCombo",
                 "aoc": "attributeOptionCombo"}


def _no_default(schema: dict) -> None:
    schema.pop("default", None)


def _datetime_interval(value: str) -> tuple[str, str]:
    """OGC `datetime`: one instant or `start/end` (dates or date-times; `..` is refused: a period needs ends)."""
    parts = value.split("/")
    if len(parts) > 2 or any(p in ("", "..") for p in parts):
        raise ValueError("must be a date or a closed interval start/end (e.g. 2024-01-01/2024-01-31)")
    return parts[0][:10], parts[-1][:10]


class EoImportInputs(Input):
    """eo-api's eo_aggregate_import_v1 inputs, under its names. The seed's forms are read too: a
    `datetime` (OGC: one date or start/end) instead of start and end, the DHIS2 options nested in a
    `dhis2` object, and `parameters` naming the dataset's variable."""

    datasetId: Literal[tuple(eo_data.DATASETS)] = Field(title="Dataset")  # noqa: N815 — eo-api's names
    parameters: list[Text(40)] | SkipJsonSchema[None] = Field(
        default=None, title="Variables", description="The dataset's variable (e.g. precipitation, t2m, tp); checked, optional",
        json_schema_extra=_no_default)
    start: date = Field(title="Period start")
    end: date = Field(title="Period end", description=f"At most {MAX_DAYS} days after start")
    periodType: Literal[PERIOD_TYPES] | SkipJsonSchema[None] = Derived(  # noqa: N815
        title="DHIS2 period type", description="Default: the dataset's own (YEARLY for yearly data)")
    orgUnitLevel: int = Field(ge=1, le=10, title="Org unit level (1 = country)")  # noqa: N815
    aggregation: Literal[tuple(eo_data.REDUCERS)] | SkipJsonSchema[None] = Derived(
        title="Spatial aggregation", description="Default: the dataset's (mean for precipitation and temperature, "
                                                 "sum for population); a sum of precipitation over pixels is refused")
    dataElement: Annotated[Text(11), AfterValidator(_uid)] = Field(  # noqa: N815
        title="DHIS2 data element UID", json_schema_extra={"pattern": UID.pattern})
    categoryOptionCombo: Annotated[Text(11), AfterValidator(_uid)] | SkipJsonSchema[None] = Field(  # noqa: N815
        default=None, title="Category option combo UID", description="Default: DHIS2's default combo",
        json_schema_extra=_no_default)
    attributeOptionCombo: Annotated[Text(11), AfterValidator(_uid)] | SkipJsonSchema[None] = Field(  # noqa: N815
        default=None, title="Attribute option combo UID", description="Default: DHIS2's default combo",
        json_schema_extra=_no_default)
    dryRun: bool = Field(default=True, title="Dry run")  # noqa: N815
    connection: Id | None = Field(
        default=None, validate_default=True, title="DHIS2 connection id",
        description="A stored DHIS2 connection of the job's project; without one a dry run only builds the payload",
        json_schema_extra={"x-options": "dhis2-connections"})
    force: bool = Field(default=False, title="Import again even if already imported")
    importStrategy: Literal[dhis2.IMPORT_STRATEGIES] = Field(  # noqa: N815
        default="CREATE_AND_UPDATE", title="Import strategy")

    @model_validator(mode="before")
    @classmethod
    def _seed_forms(cls, data):
        """`datetime` → start/end; `dhis2: {...}` → the top-level options; `parameters` as a string → a list."""
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if "datetime" in data:
            value = data.pop("datetime")
            if "start" in data or "end" in data:
                raise ValueError("give either datetime or start and end")
            if not isinstance(value, str):
                raise ValueError("datetime must be a string")
            data["start"], data["end"] = _datetime_interval(value)
        options = data.pop("dhis2", None)
        if isinstance(options, dict):
            for key, value in options.items():
                name = DHIS2_ALIASES.get(key, key)
                if name not in DHIS2_OPTIONS:
                    raise ValueError(f"dhis2.{key} is not a DHIS2 option (known: {', '.join(DHIS2_OPTIONS)})")
                if name in data:
                    raise ValueError(f"{name} is given both at the top level and in dhis2")
                data[name] = value
        elif options is not None:
            raise ValueError("dhis2 must be an object of DHIS2 options")
        if isinstance(data.get("parameters"), str):
            data["parameters"] = [data["parameters"]]
        for name in ("start", "end"):  # after a "before" validator strict mode wants dates, not ISO text
            if isinstance(data.get(name), str):
                try:
                    data[name] = date.fromisoformat(data[name])
                except ValueError:
                    pass  # left as is: the field's own error names it
        return data

    @field_validator("parameters")
    @classmethod
    def _parameters(cls, value, info: ValidationInfo):
        dataset = eo_data.DATASETS.get(info.data.get("datasetId"))
        if value and dataset:
            names = VARIABLE_NAMES[dataset.id]
            wrong = [v for v in value if v not in names]
            if wrong:
                raise ValueError(f"{', '.join(wrong)} is not a variable of {dataset.id} (it has {', '.join(names)})")
        return value

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
        if PERIOD_TYPES.index(value) < PERIOD_TYPES.index(dataset.native.upper()):
            raise ValueError(f"must be {' or '.join(PERIOD_TYPES[PERIOD_TYPES.index(dataset.native.upper()):])} "
                             f"for {dataset.native} data")
        start, end = info.data.get("start"), info.data.get("end")
        if start and end and dataset.temporal == "sum" and (start != _period_start(start, value)
                                                            or end != _period_end(end, value)):
            raise ValueError(f"a {value.lower()} total needs whole periods: start on the first day of one and "
                             "end on the last day of one")
        return value

    @field_validator("aggregation")
    @classmethod
    def _aggregation(cls, value, info: ValidationInfo):
        dataset = eo_data.DATASETS.get(info.data.get("datasetId"))
        if dataset is None:
            return value
        if value is None:
            return dataset.aggregations[0]
        if value not in dataset.aggregations:
            raise ValueError(f"must be one of {', '.join(dataset.aggregations)} for {dataset.id} "
                             f"({dataset.variable} in {dataset.units}" + (
                                 ": a sum over pixels grows with the district's size)" if value == "sum" else ")"))
        return value

    @field_validator("connection")
    @classmethod
    def _connection(cls, value, info: ValidationInfo):
        if value is None and info.data.get("dryRun") is False:
            raise ValueError("is required for a real (not dry-run) import")
        return value


VARIABLE_NAMES = {"chirps-daily": ("precipitation", "precip"), "chirps-monthly": ("precipitation", "precip"),
                  "era5-land-temperature": ("temperature", "t2m", "2m_temperature"),
                  "era5-land-precipitation": ("precipitation", "tp", "total_precipitation"),
                  "worldpop-population": ("population",)}


def _period_start(day: date, period_type: str) -> date:
    return {"DAILY": day, "MONTHLY": day.replace(day=1), "YEARLY": day.replace(month=1, day=1)}[period_type]


def _period_end(day: date, period_type: str) -> date:
    if period_type == "DAILY":
        return day
    if period_type == "YEARLY":
        return date(day.year, 12, 31)
    return date(day.year + (day.month == 12), day.month % 12 + 1, 1) - timedelta(days=1)


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


def dhis2_org_unit_id(unit) -> str | None:
    """The DHIS2 UID of an org unit imported from DHIS2 (source_ref "dhis2:<uid>" or the bare uid);
    None for one that has none — it is reported, never sent under our local id."""
    ref = (unit.source_ref or "").rsplit(":", 1)[-1]
    return ref if UID.match(ref) else None


def _validate_inputs(sctx, state):
    """The inputs were read with their model and their connection authorized when the job started;
    what remains is the project whose org units the job reads."""
    project_id = db.session.get(Job, sctx.job_id).project_id
    db.session.rollback()
    sctx.log(f"flow {FLOW_NAME}")
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
        raise PermanentError(f"No org units with a geometry at level {inputs.orgUnitLevel} in the job's project")
    without_uid = [{"id": u["id"], "name": u["name"]} for u in units if u["uid"] is None]
    sctx.log(f"{len(units)} org units at level {inputs.orgUnitLevel}")
    if without_uid:
        sctx.log(f"{len(without_uid)} org unit(s) have no DHIS2 UID and will not be sent: "
                 + ", ".join(u["name"] for u in without_uid[:10]), "warning")
    key = dhis2.import_key(connection=inputs.connection, dataset=inputs.datasetId, start=inputs.start,
                           end=inputs.end, periodType=inputs.periodType, aggregation=inputs.aggregation,
                           dataElement=inputs.dataElement, coc=inputs.categoryOptionCombo,
                           aoc=inputs.attributeOptionCombo, orgUnits=sorted(u["uid"] for u in units if u["uid"]))
    if not inputs.dryRun and not inputs.force:
        previous = dhis2.previous_import(key)
        if previous is not None:
            raise SkipRemaining(f"already imported by job {previous.job_id} (use force to import again)",
                                {"orgUnitCount": len(units), "rowCount": previous.row_count,
                                 "importSummary": previous.import_summary, "flowName": FLOW_NAME})
    return {"units": units, "key": key, "withoutUid": without_uid}


def _extract(sctx, state):
    inputs = state["inputs"]
    bounds = eo_data.bounds_of([u["geometry"] for u in state["load_org_units"]["units"]])
    sources = eo_sources.resolve(inputs.datasetId, inputs.start, inputs.end, bounds, sctx)
    sctx.log(f"{len(sources.files)} source file(s)" + (" (sample data: synthetic, for trying the flow)" if sources.sample else ""),
             "warning" if sources.sample else "info")
    return {"files": sources.files, "sample": sources.sample}


def _period_id(day: date, period_type: str) -> str:
    return {"DAILY": day.strftime("%Y%m%d"), "MONTHLY": day.strftime("%Y%m"), "YEARLY": day.strftime("%Y")}[period_type]


def _expected_steps(dataset, start: date, end: date, period_type: str) -> dict[str, int]:
    """How many rasters each period of start..end is made of (days, months or one year)."""
    counts: dict[str, int] = defaultdict(int)
    day = start
    while day <= end:
        counts[_period_id(day, period_type)] += 1
        day = {"daily": day + timedelta(days=1), "monthly": _period_end(day, "MONTHLY") + timedelta(days=1),
               "yearly": date(day.year + 1, 1, 1)}[dataset.native]
    return counts


def _aggregate(sctx, state):
    """Zonal statistics of each raster (coverage-weighted, nodata excluded), folded over each period:
    a unit gets a value for a period only if every raster of the period had a valid pixel in it."""
    inputs, sources = state["inputs"], state["extract_source_data"]
    dataset = eo_data.DATASETS[inputs.datasetId]
    units = state["load_org_units"]["units"]
    geometries = [u["geometry"] for u in units]
    expected = _expected_steps(dataset, inputs.start, inputs.end, inputs.periodType)
    totals = {p: np.zeros(len(units)) for p in expected}
    seen = {p: np.zeros(len(units), dtype=int) for p in expected}
    zones: dict = {}
    for n, raster in enumerate(eo_sources.rasters(inputs.datasetId, sources["files"], inputs.start, inputs.end,
                                                  eo_data.bounds_of(geometries)), start=1):
        grid = (tuple(raster.transform), raster.data.shape, str(raster.crs))
        if grid not in zones:
            zones[grid] = eo_data.Zones(geometries, raster.transform, raster.data.shape, raster.crs)
        values = zones[grid].reduce(raster.data, inputs.aggregation)
        period = _period_id(raster.day, inputs.periodType)
        valid = ~np.isnan(values)
        totals[period][valid] += values[valid]
        seen[period] += valid
        sctx.progress(n / sum(expected.values()))
    rows, without_value = [], []
    for i, unit in enumerate(units):
        missing = [p for p in expected if seen[p][i] < expected[p]]
        if missing:
            none = all(seen[p][i] == 0 for p in expected)
            without_value.append({"id": unit["id"], "orgUnit": unit["uid"], "name": unit["name"], "periods": missing,
                                  "reason": "no valid pixel" if none else "no valid pixel on some days of the period"})
        for period in expected:
            if seen[period][i] == expected[period]:
                value = totals[period][i] / expected[period] if dataset.temporal == "mean" else totals[period][i]
                rows.append({"orgUnit": unit["uid"], "unitId": unit["id"], "period": period, "value": float(value)})
    if without_value:
        sctx.log(f"{len(without_value)} org unit(s) get no value (no valid pixel): "
                 + ", ".join(u["name"] for u in without_value[:10]), "warning")
    if not rows:
        raise PermanentError(f"The {dataset.title} data has no valid pixel over any of the "
                             f"{len(units)} org units: check that the files cover the country")
    sctx.log(f"{len(rows)} values over {len(expected)} period(s)")
    return {"rows": rows, "withoutValue": without_value, "sample": sources["sample"]}


def _dhis2_call(function, *args, **kwargs):
    """A DHIS2 call whose refusals (4xx, a failed check) are permanent: retrying cannot help; 5xx and
    network errors propagate, and the step retries them."""
    from dhis2_client.errors import DHIS2HTTPError

    try:
        return function(*args, **kwargs)
    except ValueError as exc:
        raise PermanentError(f"DHIS2: {exc}") from None
    except DHIS2HTTPError as exc:
        if exc.status_code < 500:
            raise PermanentError(f"DHIS2 answered {exc.status_code}: {exc}") from None
        raise


def _build_payload(sctx, state):
    """Data values of the units with a DHIS2 UID, written with the data element's decimals; the data
    element is checked first (when there is a connection)."""
    inputs, aggregated = state["inputs"], state["aggregate_to_org_units"]
    decimals, warnings = eo_data.DATASETS[inputs.datasetId].decimals, []
    if inputs.connection is not None:
        element = _dhis2_call(dhis2.check_data_element, inputs.connection, inputs.dataElement, inputs.periodType)
        decimals = element["decimals"] if element["decimals"] is not None else decimals
        warnings = element["warnings"]
        for warning in warnings:
            sctx.log(warning, "warning")
    extra = {k: v for k, v in (("categoryOptionCombo", inputs.categoryOptionCombo),
                               ("attributeOptionCombo", inputs.attributeOptionCombo)) if v}
    values = [{"dataElement": inputs.dataElement, "period": r["period"], "orgUnit": r["orgUnit"],
               "value": eo_data.format_value(r["value"], decimals), **extra}
              for r in aggregated["rows"] if r["orgUnit"]]
    _write_json(sctx.job_id, "payload-preview.json",
                {"rowCount": len(values), "dataValues": values[:1000], "truncated": len(values) > 1000})
    return {"dataValues": values, "warnings": warnings}


def _import(sctx, state):
    inputs, payload = state["inputs"], state["build_dhis2_payload"]
    if inputs.connection is None:
        sctx.log("no DHIS2 connection: the payload was built, nothing was sent")
        return {"status": "SKIPPED", "importCount": {}, "conflicts": [], "description": "dry run without a connection"}
    if not payload["dataValues"]:
        raise PermanentError("No data value to send: none of the org units with a value has a DHIS2 UID "
                             "(import the org units from DHIS2 first)")
    summary = _dhis2_call(
        dhis2.import_data_values, inputs.connection, {"dataValues": payload["dataValues"]}, inputs.dryRun,
        inputs.importStrategy, chunk_size=current_app.config.get("EO_DHIS2_CHUNK_SIZE", 5000),
        on_chunk=lambda n, total: sctx.progress(n / total, f"chunk {n} of {total}"))
    sctx.log(f"DHIS2 {'dry run' if inputs.dryRun else 'import'}: {summary['status']} {summary['importCount']}"
             + (f", {summary['conflictCount']} conflict(s)" if summary.get("conflictCount") else ""),
             "warning" if summary["status"] != "SUCCESS" else "info")
    if summary["status"] == "ERROR" and not any(summary["importCount"].get(k) for k in ("imported", "updated", "deleted")):
        raise PermanentError(f"DHIS2 refused the import: {summary.get('description') or ''} "
                             + "; ".join(f"{c.get('object')}: {c.get('value')}" for c in summary["conflicts"][:3]))
    if not inputs.dryRun:
        dhis2.record_import(state["load_org_units"]["key"], inputs.connection, sctx.job_id,
                            {**inputs.model_dump(mode="json"), "rowCount": len(payload["dataValues"])}, summary)
    return summary


def _publish(sctx, state):
    rows = state["aggregate_to_org_units"]["rows"]
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

    job_id, aggregated = state["_job_id"], state["aggregate_to_org_units"]
    summary = state["import_to_dhis2"]
    return {"flowName": FLOW_NAME, "orgUnitCount": len(state["load_org_units"]["units"]),
            "rowCount": len(state["build_dhis2_payload"]["dataValues"]),
            "payloadPreviewPath": artifact_url(job_id, "payload-preview.json"),
            "importSummary": summary, "partial": summary.get("status") == "WARNING",
            "resultFeaturesPath": artifact_url(job_id, "result-features.geojson"),
            "dryRun": state["inputs"].dryRun, "sampleData": aggregated["sample"],
            "orgUnitsWithoutValue": aggregated["withoutValue"][:200],
            "orgUnitsWithoutUid": state["load_org_units"]["withoutUid"][:200],
            "warnings": state["build_dhis2_payload"]["warnings"]}


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
    description="eo-api's flow eo_aggregate_import_v1: aggregates an earth-observation dataset (CHIRPS "
                "precipitation, ERA5-Land temperature or precipitation, WorldPop population) over org unit polygons "
                "and imports the values into DHIS2 as a data value set.",
    flow_name=FLOW_NAME,
    version="1.0.0",
    steps=STEPS,
    inputs=EoImportInputs,
    authorize=authorize,
    finish=_finish,
    outputs_schema={
        "orgUnitCount": {"schema": {"type": "integer"}}, "rowCount": {"schema": {"type": "integer"}},
        "payloadPreviewPath": {"schema": {"type": "string"}}, "resultFeaturesPath": {"schema": {"type": "string"}},
        "importSummary": {"schema": {"type": "object"}}, "flowName": {"schema": {"type": "string"}},
        "partial": {"schema": {"type": "boolean"}}, "sampleData": {"schema": {"type": "boolean"}},
        "orgUnitsWithoutValue": {"schema": {"type": "array", "items": {"type": "object"}}},
        "orgUnitsWithoutUid": {"schema": {"type": "array", "items": {"type": "object"}}},
    },
    timeout_seconds=1800,
    checkpoints=True,
    catch_up_default=True,
))
