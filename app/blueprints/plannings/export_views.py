"""A planning's assignments exported as CSV and GeoJSON."""
import csv
import io
import json

from flask import Response
from flask_login import current_user, login_required

from app.blueprints.plannings.blueprint import bp
from app.services.planning import assignment_lists as lists


@bp.get("/<int:planning_id>/assignments.csv")
@login_required
def export_csv(planning_id: int):
    export = lists.export_assignments(current_user, planning_id)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=lists.EXPORT_COLUMNS)
    writer.writeheader()
    writer.writerows({k: _cell(v) for k, v in row.items()} for row in export.rows)
    return _download(out.getvalue(), "text/csv", f"assignments-{planning_id}.csv")


@bp.get("/<int:planning_id>/assignments.geojson")
@login_required
def export_geojson(planning_id: int):
    export = lists.export_assignments(current_user, planning_id)
    collection = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": row["org_unit_id"], "geometry": geometry, "properties": row}
        for row, geometry in zip(export.rows, export.geometries)]}
    return _download(json.dumps(collection, ensure_ascii=False), "application/geo+json",
                     f"assignments-{planning_id}.geojson")


def _cell(value):
    """A spreadsheet must not run what a unit's name holds: a leading = + - @ is quoted (OWASP CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _download(body: str, mimetype: str, filename: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{filename}"'})
