"""The assignment map of a planning, rendered with folium (Leaflet vendored under static/, no CDN).

Features carry only what the map needs: id, name, colour, assignee key and parent id; names of
parents and assignees travel once in lookup tables. Styling, tooltips and clicks are one small
`onEachFeature` function, so the page stays small with thousands of polygons.
"""
from __future__ import annotations

from dataclasses import dataclass

import folium
from markupsafe import Markup
from folium.utilities import JsCode
from sqlalchemy import func, select

from app.extensions import db
from app.models import Assignment, OrgUnit, OrgUnitType, Planning
from app.services.planning.assignments import UNASSIGNED, assignee_summary

MAX_FEATURES = 5000

_ON_EACH_FEATURE = JsCode("""
function(feature, layer) {
  var p = feature.properties;
  layer.setStyle({color: "#475467", weight: 0.6, fillColor: p.c, fillOpacity: p.a ? 0.75 : 0.35});
  layer.bindTooltip(function () { return window.fieldflowMap ? window.fieldflowMap.tooltip(p) : p.n; }, {sticky: true});
  layer.on("click", function () { if (window.fieldflowMap) { window.fieldflowMap.clicked(p.id, layer); } });
  if (window.fieldflowMap) { window.fieldflowMap.register(p.id, layer); }
}
""")


@dataclass
class RenderedMap:
    html: Markup
    script: Markup
    feature_count: int
    total_of_type: int
    display_type: OrgUnitType | None
    only_assigned: bool
    lookups: dict


def display_types(planning: Planning) -> list[OrgUnitType]:
    """Types present under the planning's root (below it), shallowest first."""
    root = planning.org_unit
    rows = db.session.execute(
        select(OrgUnitType).join(OrgUnit, OrgUnit.org_unit_type_id == OrgUnitType.id)
        .where(OrgUnit.path.like(root.path + "%"), OrgUnit.id != root.id, OrgUnit.deleted_at.is_(None))
        .group_by(OrgUnitType.id).order_by(OrgUnitType.depth, OrgUnitType.name)
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


def build_map(planning: Planning, type_id: int | None) -> RenderedMap:
    """Folium map of the planning's units of one type, coloured by assignee, with parent borders."""
    types = display_types(planning)
    shown = next((t for t in types if t.id == type_id), None) or default_type(planning, types)
    root = planning.org_unit
    assignees = {a["key"]: a for a in assignee_summary(planning)}
    live = {org_unit_id: (f"team:{team_id}" if team_id else f"user:{user_id}")
            for org_unit_id, team_id, user_id in db.session.execute(
                select(Assignment.org_unit_id, Assignment.team_id, Assignment.user_id)
                .where(Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))).all()}
    units, total, only_assigned = [], 0, False
    if shown is not None:
        base = select(OrgUnit.id, OrgUnit.name, OrgUnit.parent_id, OrgUnit.geometry).where(
            OrgUnit.path.like(root.path + "%"), OrgUnit.org_unit_type_id == shown.id, OrgUnit.deleted_at.is_(None),
            OrgUnit.geometry.is_not(None))
        total = db.session.scalar(select(func.count()).select_from(base.subquery()))
        if total > MAX_FEATURES:
            only_assigned = True
            base = base.join(Assignment, Assignment.org_unit_id == OrgUnit.id).where(
                Assignment.planning_id == planning.id, Assignment.deleted_at.is_(None))
        units = db.session.execute(base.order_by(OrgUnit.id).limit(MAX_FEATURES)).all()
    parent_ids = sorted({u.parent_id for u in units if u.parent_id})
    parents = db.session.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.path, OrgUnit.geometry)
                                 .where(OrgUnit.id.in_(parent_ids))).all() if parent_ids else []
    ancestor_ids = {int(a) for p in parents for a in p.path.split(".") if a}
    names = dict(db.session.execute(select(OrgUnit.id, OrgUnit.name).where(OrgUnit.id.in_(ancestor_ids))).all()) if ancestor_ids else {}
    parent_paths = {}
    for p in parents:
        ids = [int(a) for a in p.path.split(".") if a]
        ids = ids[ids.index(root.id):] if root.id in ids else ids
        parent_paths[p.id] = " › ".join(names.get(i, "?") for i in ids)

    fmap = folium.Map(tiles=None, zoom_control=True, prefer_canvas=True, control_scale=True)
    fmap.default_js, fmap.default_css = [], []  # Leaflet is vendored and loaded by the page
    if parents:
        folium.GeoJson(
            {"type": "FeatureCollection", "features": [
                {"type": "Feature", "id": p.id, "properties": {"n": p.name}, "geometry": p.geometry} for p in parents if p.geometry]},
            name="Parents", style_function=lambda f: {"color": "#1d2433", "weight": 2, "fill": False},
            interactive=False, control=False).add_to(fmap)
    features = []
    for u in units:
        key = live.get(u.id)
        colour = assignees[key]["colour"] if key in assignees else UNASSIGNED
        features.append({"type": "Feature", "id": u.id, "geometry": u.geometry,
                         "properties": {"id": u.id, "n": u.name, "c": colour, "a": key or "", "p": u.parent_id}})
    layer = folium.GeoJson({"type": "FeatureCollection", "features": features}, name="Org units",
                           on_each_feature=_ON_EACH_FEATURE, control=False)
    layer.add_to(fmap)
    bounds = _bounds([u.geometry for u in units] or ([root.geometry] if root.geometry else []))
    if bounds:
        fmap.fit_bounds(bounds)
    figure = fmap.get_root()
    figure.render()
    lookups = {
        "layer": layer.get_name(), "map": fmap.get_name(), "unassigned": UNASSIGNED,
        "parents": parent_paths,
        "assignees": {k: {"name": v["name"], "colour": v["colour"]} for k, v in assignees.items()},
    }
    return RenderedMap(html=Markup(figure.html.render()),  # the map's container div: no data in it
                       script=_inert(figure.script.render()),
                       feature_count=len(features), total_of_type=total, display_type=shown,
                       only_assigned=only_assigned, lookups=lookups)


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
