"""The assignment map of a planning, rendered with folium (Leaflet vendored under static/, no CDN).

The page carries the map's shell (folium) and who has which unit; the shapes come from their own
URL in a compact form (`map_shapes`: quantized, delta-encoded coordinates) that the browser caches
and revalidates with an ETag, so a revisit downloads no geometry. Names of parents and assignees
travel once in lookup tables; `static/js/planning_map.js` draws, styles and handles clicks.
"""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup
from sqlalchemy import func, select

from app.extensions import db
from app.models.base import under_path
from app.models import Assignment, OrgUnit, OrgUnitType, Planning
from app.services.planning.assignments import UNASSIGNED, assignee_summary

MAX_FEATURES = 5000

SCALE = 10_000  # stored coordinates are rounded to 4 decimals: integers in 1e-4 degrees lose nothing


@dataclass
class RenderedMap:
    """The map's shell (folium: the Leaflet map, no data); its shapes come from `map_shapes`."""

    html: Markup
    script: Markup
    feature_count: int
    total_of_type: int
    display_type: OrgUnitType | None
    only_assigned: bool
    lookups: dict


@dataclass
class MapShell:
    html: Markup  # the map's container div: no data in it
    script: Markup
    name: str  # the Leaflet map's JavaScript variable


def map_shell() -> MapShell:
    """An empty folium map (no tiles, no data): `static/js/planning_map.js` draws on it what
    `lookups` and the shapes URL say."""
    import folium  # here, not at import: folium brings pandas (0.6 s of every worker's and relay's start)

    fmap = folium.Map(tiles=None, zoom_control=True, prefer_canvas=True, control_scale=True)
    fmap.default_js, fmap.default_css = [], []  # Leaflet is vendored and loaded by the page
    figure = fmap.get_root()
    figure.render()
    return MapShell(Markup(figure.html.render()), _inert(figure.script.render()), fmap.get_name())


def display_types(planning: Planning) -> list[OrgUnitType]:
    """Types present under the planning's root (below it), shallowest first: one probe of the type and
    path index per type, however many units the root has."""
    root = planning.org_unit
    below = select(OrgUnit.id).where(OrgUnit.org_unit_type_id == OrgUnitType.id, under_path(OrgUnit.path, root.path),
                                     OrgUnit.id != root.id, OrgUnit.deleted_at.is_(None))
    rows = db.session.execute(
        select(OrgUnitType).where(below.exists()).order_by(OrgUnitType.depth, OrgUnitType.name)
    ).scalars().all()
    return list(rows)


def default_type(planning: Planning, types: list[OrgUnitType]) -> OrgUnitType | None:
    """The type most assignments are on, else the shallowest type below the root."""
    top = db.session.execute(
        select(OrgUnit.org_unit_type_id, func.count()).join(Assignment, Assignment.org_unit_id == OrgUnit.id)
        .where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
        .group_by(OrgUnit.org_unit_type_id).order_by(func.count().desc())
    ).first()
    if top is not None:
        for t in types:
            if t.id == top[0]:
                return t
    return types[0] if types else None


def _shown_type(planning: Planning, type_id: int | None) -> OrgUnitType | None:
    types = display_types(planning)
    return next((t for t in types if t.id == type_id), None) or default_type(planning, types)


def _units_query(planning: Planning, shown: OrgUnitType):
    """The shown units (id order, at most MAX_FEATURES), how many of the type there are, and whether
    only assigned ones are shown (a type with more than MAX_FEATURES units)."""
    base = select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id, OrgUnit.geometry).where(
        under_path(OrgUnit.path, planning.org_unit.path), OrgUnit.org_unit_type_id == shown.id,
        OrgUnit.deleted_at.is_(None), OrgUnit.geometry.is_not(None))
    total = db.session.scalar(select(func.count()).select_from(base.subquery()))
    only_assigned = total > MAX_FEATURES
    if only_assigned:
        base = base.join(Assignment, Assignment.org_unit_id == OrgUnit.id).where(
            Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
    return base.order_by(OrgUnit.id).limit(MAX_FEATURES), total, only_assigned


def build_map(planning: Planning, type_id: int | None, shapes_url: str, summary: list[dict] | None = None) -> RenderedMap:
    """The map's shell and what colours it: units of one type by assignee (`assigned`: assignee key →
    unit ids), assignee names and colours (`summary`: `assignee_summary`, when the caller has it). The
    geometry is fetched by the page from `shapes_url` (`map_shapes`), cached by the browser and
    revalidated with its ETag."""
    shown = _shown_type(planning, type_id)
    assignees = {a["key"]: a for a in (assignee_summary(planning) if summary is None else summary)}
    assigned: dict[str, list[int]] = {}
    for org_unit_id, team_id, user_id in db.session.execute(
            select(Assignment.org_unit_id, Assignment.team_id, Assignment.user_id)
            .where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
            .order_by(Assignment.org_unit_id)).all():
        assigned.setdefault(f"team:{team_id}" if team_id else f"user:{user_id}", []).append(org_unit_id)
    count, total, only_assigned = 0, 0, False
    if shown is not None:
        query, total, only_assigned = _units_query(planning, shown)
        count = db.session.scalar(select(func.count()).select_from(query.subquery()))

    shell = map_shell()
    lookups = {
        "map": shell.name, "unassigned": UNASSIGNED, "shapes": shapes_url, "assigned": assigned,
        "assignees": {k: {"name": v["name"], "colour": v["colour"]} for k, v in assignees.items()},
    }
    return RenderedMap(html=shell.html, script=shell.script, feature_count=count, total_of_type=total,
                       display_type=shown, only_assigned=only_assigned, lookups=lookups)


def map_shapes(planning: Planning, type_id: int | None) -> dict:
    """The map's geometry, compact: coordinates as integers in 1e-4 degrees (`scale`), each ring the
    first point then differences (`encode_geometry`); units as `[id, name, parent id, geometry]`,
    parent borders as `[id, geometry]`, parent names (path from the planning root) once in `parents`.
    About a fifth of the GeoJSON's size before compression; the shapes change only when units do."""
    shown = _shown_type(planning, type_id)
    root = planning.org_unit
    units = db.session.execute(_units_query(planning, shown)[0]).all() if shown is not None else []
    return unit_shapes(units, root.id, [root.geometry] if root.geometry else [])


def unit_shapes(units: list, root_id: int | None, fallback: list[dict]) -> dict:
    """`map_shapes` of any units (rows with `id`, `name`, `parent_id`, `geometry`): parents' names
    from `root_id` down (None: from the top), bounds of the units (else of `fallback`)."""
    parent_ids = sorted({u.parent_id for u in units if u.parent_id})
    parents = db.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path, OrgUnit.geometry)
                                 .where(OrgUnit.id.in_(parent_ids))).all() if parent_ids else []
    ancestor_ids = {int(a) for p in parents for a in p.path.split(".") if a}
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ancestor_ids))).all()) if ancestor_ids else {}
    parent_paths = {}
    for p in parents:
        ids = [int(a) for a in p.path.split(".") if a]
        ids = ids[ids.index(root_id):] if root_id in ids else ids
        parent_paths[p.id] = " › ".join(names.get(i, "?") for i in ids)
    return {
        "scale": SCALE,
        "bounds": _bounds([u.geometry for u in units] or fallback),
        "units": [[u.id, u.name, u.parent_id, encode_geometry(u.geometry)] for u in units],
        "borders": [[p.id, encode_geometry(p.geometry)] for p in parents if p.geometry],
        "parents": parent_paths,
    }


def encode_geometry(geometry: dict) -> dict:
    """`{"type", "coordinates"}` with every ring (or point) as flat integers: the first position in
    1e-4 degrees, then the difference to the previous one (x, y, dx, dy, …)."""

    def ring(positions) -> list[int]:
        flat, px, py = [], 0, 0
        for x, y, *_ in positions:
            qx, qy = round(x * SCALE), round(y * SCALE)
            flat += [qx - px, qy - py]
            px, py = qx, qy
        return flat

    kind, coords = geometry["type"], geometry["coordinates"]
    if kind == "Point":
        encoded = ring([coords])
    elif kind == "Polygon":
        encoded = [ring(r) for r in coords]
    else:  # MultiPolygon
        encoded = [[ring(r) for r in polygon] for polygon in coords]
    return {"type": kind, "coordinates": encoded}


def _bounds(geometries: list[dict]) -> list[list[float]] | None:
    xs, ys = [], []

    def walk(coords):
        if coords and isinstance(coords[0], (int, float)):
            xs.append(coords[0])
            ys.append(coords[1])
        else:
            for c in coords:
                walk(c)

    for g in geometries:
        if g and g.get("coordinates"):
            walk(g["coordinates"])
    if not xs:
        return None
    return [[min(ys), min(xs)], [max(ys), max(xs)]]


def _inert(code: str) -> Markup:
    """Folium's markup and script, safe to place in the page: data inside (unit, team and user names)
    comes as JS/JSON string literals, where `<\\/` and `\\u003c!--` mean the same as `</` and `<!--` but
    cannot close the script element or open a comment — a name like `</script><img onerror=…>`
    stays text."""
    return Markup(code.replace("</", "<\\/").replace("<!--", "\\u003c!--"))
