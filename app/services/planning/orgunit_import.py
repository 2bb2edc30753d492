"""Import org units from a GeoJSON FeatureCollection or a CSV file into one project.

Everything is validated before anything is written: one ValidationFailed lists every problem
by row ("row 7: name is required"; CSV rows count data rows from 1, the header excluded) or
feature ("feature 3: …"). Units are matched to existing ones by `source_ref` within the
project, so re-importing a file updates rather than duplicates.
"""
from __future__ import annotations

import csv
import json
import os
from dataclasses import dataclass

from sqlalchemy import bindparam, func, insert, select, text, update

from app.extensions import db
from app.models import AreaType, OrgUnit, OrgUnitType, Project, utcnow
from app.services.platform.errors import ValidationFailed
from app.services.planning.geometry import GeometryError, centroid, shapes_to_geojson, simplify_shapes, to_shape
from app.schemas.types import JSON_MAX_DEPTH, check_json_value, unstorable_text

BATCH_SIZE = 5000
MAX_REPORTED = 500  # beyond this many problems the file is clearly wrong; stop listing
EXTENSIONS = {".geojson": "geojson", ".json": "geojson", ".csv": "csv"}


@dataclass
class _Record:
    label: str  # "row 3" / "feature 3", for messages
    ref: str
    name: str
    type_id: int
    parent_ref: str | None
    area_type: str | None
    geometry: dict | None
    latitude: float | None
    longitude: float | None


class _Problems:
    def __init__(self, filename: str):
        self.filename = filename
        self.details: dict[str, list[str]] = {}
        self.count = 0

    def add(self, label: str, message: str) -> None:
        self.count += 1
        if self.count <= MAX_REPORTED:
            self.details.setdefault(label, []).append(message)

    def raise_if_any(self) -> None:
        if not self.count:
            return
        # Rows in file order, whatever order the checks found them in.
        order = {label: i for i, label in enumerate(self.details)}
        self.details = dict(sorted(self.details.items(), key=lambda item: (
            int(item[0].split()[-1]) if item[0].split()[-1].isdigit() else -1, order[item[0]])))
        lines = [f"{label}: {msg}" for label, msgs in self.details.items() for msg in msgs]
        shown = "; ".join(lines[:5]) + (f"; … ({self.count - 5} more)" if self.count > 5 else "")
        raise ValidationFailed(f"Cannot import {self.filename}: {self.count} problem(s) — {shown}",
                               self.details)


def _fail(filename: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"Cannot import {filename}: {message}", {"file": [message]})


def _read_geojson(path: str, filename: str) -> list[tuple[str, dict]]:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as exc:
        raise _fail(filename, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except UnicodeDecodeError:
        raise _fail(filename, "the file is not UTF-8 text") from None
    except RecursionError:
        raise _fail(filename, f"the JSON is nested more than {JSON_MAX_DEPTH} levels deep") from None
    try:
        check_json_value(data, where="the file")
    except ValueError as exc:
        raise _fail(filename, str(exc)) from None
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" \
            or not isinstance(data.get("features"), list):
        raise _fail(filename, "expected a GeoJSON FeatureCollection with a 'features' list")
    raw = []
    for i, feature in enumerate(data["features"], start=1):
        label = f"feature {i}"
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raw.append((label, {"_error": "is not a GeoJSON Feature"}))
            continue
        props = feature.get("properties") or {}
        if not isinstance(props, dict):
            raw.append((label, {"_error": "properties must be an object"}))
            continue
        fields = dict(props)
        if fields.get("id") is None and fields.get("ref") is None and feature.get("id") is not None:
            fields["id"] = feature["id"]
        fields["geometry"] = feature.get("geometry")
        raw.append((label, fields))
    return raw


def _read_csv(path: str, filename: str) -> list[tuple[str, dict]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise _fail(filename, "the CSV file is empty (no header row)")
            columns = {(c or "").strip().lower() for c in reader.fieldnames}
            missing = [c for c in ("name", "type") if c not in columns]
            if "id" not in columns and "ref" not in columns:
                missing.insert(0, "id (or ref)")
            if missing:
                raise _fail(filename, f"missing column(s): {', '.join(missing)}")
            raw = []
            for i, row in enumerate(reader, start=1):
                fields = {(k or "").strip().lower(): v for k, v in row.items() if k is not None}
                if row.get(None):
                    fields["_error"] = "has more values than the header has columns"
                unstorable = next((f"{k or 'a column name'} {why}" for k, v in row.items() if k is not None
                                   for why in [unstorable_text(k) or (unstorable_text(v) if isinstance(v, str) else None)]
                                   if why), None)
                if unstorable:
                    fields["_error"] = unstorable
                raw.append((f"row {i}", fields))
    except csv.Error as exc:
        raise _fail(filename, f"malformed CSV: {exc}") from None
    except UnicodeDecodeError:
        raise _fail(filename, "the file is not UTF-8 text") from None
    return raw


def _read(path: str) -> list[tuple[str, dict]]:
    filename = os.path.basename(path)
    kind = EXTENSIONS.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise _fail(filename, "unsupported file type; use .geojson, .json or .csv")
    try:
        raw = _read_geojson(path, filename) if kind == "geojson" else _read_csv(path, filename)
    except OSError as exc:
        raise _fail(filename, f"cannot read the file ({exc.strerror or exc})") from None
    if not raw:
        raise _fail(filename, "the file contains no org units")
    return raw


def _text(value) -> str | None:
    """Refs and names as text; numbers allowed (GeoJSON ids often are)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, float, str)):
        return str(value).strip() or None
    return None


def _coordinate(value, label: str, name: str, limit: float, problems: _Problems) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.add(label, f"{name} must be a number, got {value!r}")
        return None
    if not -limit <= number <= limit:
        problems.add(label, f"{name} must be between -{limit:g} and {limit:g}, got {number:g}")
        return None
    return number


def _geometry(value, label: str, problems: _Problems):
    """The shapely geometry of a feature's geometry or a CSV geometry cell, or None."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):  # CSV: GeoJSON text
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            problems.add(label, f"geometry is not valid JSON ({exc.msg})")
            return None
    try:
        shape = to_shape(value)
    except (GeometryError, ValueError, TypeError, KeyError, AttributeError) as exc:
        problems.add(label, f"invalid geometry: {exc}")
        return None
    except RecursionError:
        problems.add(label, "invalid geometry: nested too deeply")
        return None
    minx, miny, maxx, maxy = shape.bounds
    if not shape.is_empty and not (-180 <= minx and maxx <= 180 and -90 <= miny and maxy <= 90):
        problems.add(label, "geometry coordinates must be longitude, latitude in degrees (WGS 84)")
        return None
    return shape


def _simplify_all(records: list[_Record], shapes: list, problems: _Problems) -> None:
    """Simplify every record's geometry in one vectorised pass; locate units without lat/lon."""
    given = [(rec, shape) for rec, shape in zip(records, shapes) if shape is not None]
    simplified = simplify_shapes([shape for _, shape in given])
    stored = shapes_to_geojson([g for g in simplified if g is not None])[::-1]
    for (rec, shape), geom in zip(given, simplified):
        if geom is None:
            problems.add(rec.label, f"geometry must be a non-empty Polygon, MultiPolygon or Point, "
                                    f"got {shape.geom_type}")
            continue
        rec.geometry = stored.pop()
        if rec.latitude is None:
            rec.latitude, rec.longitude = centroid(geom)


def _parse_records(raw, project: Project, problems: _Problems) -> list[_Record]:
    records, shapes, first_seen = [], [], {}
    types, type_names = _project_types(project)
    known_types = ", ".join(type_names) or "none"
    for label, fields in raw:
        if "_error" in fields:
            problems.add(label, fields["_error"])
            if "name" not in fields:
                continue
        ref = _text(fields.get("id")) or _text(fields.get("ref"))
        if ref is None:
            problems.add(label, "id (or ref) is required")
        elif len(ref) > 120:
            problems.add(label, "id (or ref) must be at most 120 characters")
        elif ref in first_seen:
            problems.add(label, f"duplicate id '{ref}' (first used on {first_seen[ref]})")
        else:
            first_seen[ref] = label
        name = _text(fields.get("name"))
        if name is None:
            problems.add(label, "name is required")
        elif len(name) > 255:
            problems.add(label, "name must be at most 255 characters")
        type_value = _text(fields.get("type"))
        type_id = None
        if type_value is None:
            problems.add(label, "type is required")
        else:
            type_id = types.get(type_value.casefold())
            if type_id is None:
                problems.add(label, f"unknown org unit type '{type_value}' in project '{project.name}' "
                                    f"(known: {known_types})")
        area_type = _text(fields.get("area_type"))
        if area_type is not None:
            area_type = area_type.upper()
            if area_type not in AreaType.__members__:
                problems.add(label, f"area_type must be URBAN or RURAL, got '{fields.get('area_type')}'")
        given = [_text(fields.get(k)) is not None for k in ("latitude", "longitude")]
        latitude = _coordinate(fields.get("latitude"), label, "latitude", 90, problems)
        longitude = _coordinate(fields.get("longitude"), label, "longitude", 180, problems)
        if given[0] != given[1]:
            problems.add(label, "give both latitude and longitude, or neither")
            latitude = longitude = None
        shapes.append(_geometry(fields.get("geometry"), label, problems))
        records.append(_Record(label, ref or "", name or "", type_id or 0, _text(fields.get("parent")),
                               area_type, None, latitude, longitude))
    _simplify_all(records, shapes, problems)
    return records


def _project_types(project: Project) -> tuple[dict[str, int], list[str]]:
    """Type ids by case-folded name and short name, and the type names for messages."""
    types = db.session.execute(select(OrgUnitType).where(OrgUnitType.project_id == project.id)
                               .order_by(OrgUnitType.depth, OrgUnitType.name)).scalars().all()
    lookup = {t.short_name.casefold(): t.id for t in types if t.short_name}
    lookup.update({t.name.casefold(): t.id for t in types})  # a name wins over a short name
    return lookup, [t.name for t in types]


def _find_cycles(records: list[_Record], keys: list[int], parent_of: dict[int, int | None],
                 problems: _Problems) -> None:
    """Report every loop in the final parent links (only links from the file can make one)."""
    label_of = {key: rec.label for key, rec in zip(keys, records)}
    state: dict[int, int] = {}  # 1 = on the current walk, 2 = known to reach a root
    for start in keys:
        walk, node = [], start
        while node is not None and state.get(node) is None:
            state[node] = 1
            walk.append(node)
            node = parent_of.get(node)
        if node is not None and state.get(node) == 1:
            loop = walk[walk.index(node):]
            names = [label_of.get(k, f"org unit {k}") for k in loop]
            problems.add(names[0], "is its own parent" if len(loop) == 1
                         else "parent links form a cycle: " + " → ".join(names + names[:1]))
        for visited in walk:
            state[visited] = 2


def import_org_units(path: str, project_name: str, progress=None) -> dict:
    """Import org units from `path` (.geojson, .json or .csv) into the named project.

    Returns {"created": n, "updated": m}. Raises ValidationFailed listing every problem, in
    which case nothing is written. `progress(done, total)` is called as batches are written.
    """
    filename = os.path.basename(path)
    project = db.session.execute(select(Project).where(Project.name == project_name)).scalar_one_or_none()
    if project is None:
        raise ValidationFailed(f"Unknown project '{project_name}'", {"project": [f"'{project_name}' does not exist"]})
    raw = _read(path)
    problems = _Problems(filename)
    records = _parse_records(raw, project, problems)

    # The project's tree as it is: (id, parent id, path); live units by source ref.
    existing = db.session.execute(
        select(OrgUnit.id, OrgUnit.parent_id, OrgUnit.path, OrgUnit.source_ref, OrgUnit.deleted_at)
        .where(OrgUnit.project_id == project.id).order_by(OrgUnit.id)).all()
    by_ref: dict[str, int] = {}
    for row in existing:
        if row.source_ref and row.deleted_at is None:
            by_ref.setdefault(row.source_ref, row.id)
    parent_of: dict[int, int | None] = {row.id: row.parent_id for row in existing}
    stored_path = {row.id: row.path for row in existing}

    # New units get negative keys until validation passes and real ids are assigned.
    keys, key_of_ref = [], {}
    for i, rec in enumerate(records):
        if rec.ref and rec.ref not in key_of_ref:
            key_of_ref[rec.ref] = by_ref.get(rec.ref, -(i + 1))
            keys.append(key_of_ref[rec.ref])
        else:  # missing or duplicate ref, already reported: keep it apart from the others
            keys.append(-(i + 1))
    for rec, key in zip(records, keys):
        if rec.parent_ref is None:
            parent_of[key] = None
        elif rec.parent_ref in key_of_ref or rec.parent_ref in by_ref:
            parent_of[key] = key_of_ref.get(rec.parent_ref, by_ref.get(rec.parent_ref))
        else:
            problems.add(rec.label, f"unknown parent '{rec.parent_ref}' (not in the file nor in project "
                                    f"'{project.name}')")
            parent_of[key] = None
    _find_cycles(records, keys, parent_of, problems)
    problems.raise_if_any()

    try:
        result = _write(project, records, keys, parent_of, stored_path, progress)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return result


def _write(project, records, keys, parent_of, stored_path, progress) -> dict:
    is_pg = db.engine.dialect.name == "postgresql"
    if is_pg:  # nobody else may take the ids we pre-assign
        db.session.execute(text("LOCK TABLE org_units IN SHARE ROW EXCLUSIVE MODE"))
    next_id = db.session.execute(select(func.coalesce(func.max(OrgUnit.id), 0))).scalar_one() + 1
    real: dict[int, int] = {}
    for key in keys:
        if key < 0:
            real[key] = next_id
            next_id += 1
    final_parent = {real.get(k, k): (real.get(p, p) if p is not None else None) for k, p in parent_of.items()}

    paths: dict[int, str] = {}
    for start in final_parent:
        chain, node = [], start
        while node is not None and node not in paths and node in final_parent:
            chain.append(node)
            node = final_parent[node]
        if node is None:
            prefix = ""
        elif node in paths:
            prefix = paths[node]
        else:  # a parent outside the project (never set by imports): keep what is stored
            prefix = stored_path[chain[-1]][: -len(f"{chain[-1]}.")]
        for node in reversed(chain):
            prefix = paths[node] = prefix + f"{node}."

    now = utcnow()
    new_rows, update_rows = [], []
    for rec, key in zip(records, keys):
        uid = real.get(key, key)
        row = {"name": rec.name, "org_unit_type_id": rec.type_id, "parent_id": final_parent[uid],
               "path": paths[uid], "depth": paths[uid].count(".") - 1, "updated_at": now}
        if key < 0:
            row.update(id=uid, project_id=project.id, geometry=rec.geometry, latitude=rec.latitude,
                       longitude=rec.longitude, area_type=rec.area_type, source_ref=rec.ref,
                       created_at=now, deleted_at=None)
            new_rows.append(row)
        else:
            # Keep stored geometry, location and area type unless the file gives them.
            for field in ("geometry", "latitude", "longitude", "area_type"):
                if getattr(rec, field) is not None:
                    row[field] = getattr(rec, field)
            update_rows.append((uid, row))
    in_file = {real.get(k, k) for k in keys}
    # Units not in the file move with any ancestor the file moved.
    moved = [(uid, {"path": paths[uid], "depth": paths[uid].count(".") - 1})
             for uid, old in stored_path.items() if uid not in in_file and paths.get(uid, old) != old]

    total, done = len(records), 0
    new_rows.sort(key=lambda r: r["depth"])  # parents before children for the foreign key
    for start in range(0, len(new_rows), BATCH_SIZE):
        batch = new_rows[start:start + BATCH_SIZE]
        db.session.execute(insert(OrgUnit.__table__), batch)
        done += len(batch)
        if progress:
            progress(done, total)
    for rows in (update_rows, moved):
        by_columns: dict[tuple, list[dict]] = {}  # one executemany per set of columns
        for uid, row in rows:
            by_columns.setdefault(tuple(sorted(row)), []).append({"_id": uid, **row})
        # The SET clause comes from the parameter keys other than "_id".
        stmt = update(OrgUnit.__table__).where(OrgUnit.__table__.c.id == bindparam("_id"))
        for params in by_columns.values():
            for start in range(0, len(params), BATCH_SIZE):
                db.session.execute(stmt, params[start:start + BATCH_SIZE])
                if rows is update_rows:
                    done += len(params[start:start + BATCH_SIZE])
                    if progress:
                        progress(done, total)
    if is_pg and new_rows:
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('org_units', 'id'), (SELECT MAX(id) FROM org_units))"))
    return {"created": len(new_rows), "updated": len(update_rows)}
