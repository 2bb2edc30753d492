"""A deterministic synthetic country for demos and benchmarks: org units, teams and users.

`build_demo_structure` is pure (no database): the same (n, seed, regions) always gives the
same names, shapes and area types. `load_demo` writes it with pre-assigned ids and batched
inserts, so 100,000 org units load in seconds on PostgreSQL.
"""
from __future__ import annotations

import colorsys
import math
import random
import re
import time
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon
from sqlalchemy import func, insert, select, text

from app.extensions import db
from app.models import (
    AreaType, OrgUnit, OrgUnitCategory, OrgUnitType, Role, Team, TeamType, User, utcnow,
)
from app.services.platform.errors import ValidationFailed
from app.services.planning.geometry import shapes_to_geojson, simplify_shapes
from app.services.platform.users import ensure_default_roles, get_or_create_project, hash_password

DEMO_PROJECT = "Demo project"
DEMO_PASSWORD = "fieldflow"
BATCH_SIZE = 5000
COUNTRY_CENTRE = (20.0, 5.0)  # lon, lat
COUNTRY_RADIUS = 3.0  # degrees: the country is about 6° across

# (name, short name, category) by depth; each type's sub-unit type is the next one.
LEVEL_TYPES = (
    ("Country", "COUNTRY", OrgUnitCategory.COUNTRY),
    ("Region", "REGION", OrgUnitCategory.REGION),
    ("District", "DISTRICT", OrgUnitCategory.DISTRICT),
    ("Health facility", "HF", OrgUnitCategory.HF),
)
HF_KINDS = (("Health Centre", 0.55), ("Health Post", 0.35), ("Hospital", 0.10))
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "w", "y", "z",
          "ch", "sh", "ny", "mb", "nd", "ng", "kw")
VOWELS = ("a", "e", "i", "o", "u")
SYLLABLES = tuple(onset + vowel for onset in ONSETS for vowel in VOWELS)
# Readable on a light map; used in order, then distinct generated hues.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f", "#4f46e5", "#0f766e", "#b45309", "#be185d",
           "#15803d", "#1d4ed8", "#a21caf", "#c2410c", "#0e7490", "#4d7c0f")


@dataclass
class DemoUnit:
    index: int
    parent: int | None  # index of the parent unit
    depth: int
    name: str
    geometry: dict | None
    latitude: float
    longitude: float
    area_type: str


@dataclass
class DemoStructure:
    """Units in parents-before-children order (country, regions, districts, facilities)."""

    units: list[DemoUnit] = field(default_factory=list)

    def at_depth(self, depth: int) -> list[DemoUnit]:
        return [u for u in self.units if u.depth == depth]


def level_sizes(n: int, regions: int | None = None) -> tuple[int, int, list[int]]:
    """(regions, districts per region, facilities per district) for about n units in all."""
    r = regions if regions is not None else (8 if n <= 20000 else 4)
    if r < 1:
        raise ValidationFailed("regions must be at least 1", {"regions": ["must be at least 1"]})
    minimum = 1 + 5 * r  # every region needs 2 districts, every district a facility
    if n < minimum:
        raise ValidationFailed(
            f"{n} org units is too few for {r} regions (at least {minimum})",
            {"org_units": [f"must be at least {minimum} for {r} regions"]},
        )
    per_region = (n - 1 - r) / r
    d = max(2, round(math.sqrt(per_region / 10)))
    d = min(d, int(per_region // 2))
    districts = r * d
    facilities = n - 1 - r - districts
    base, extra = divmod(facilities, districts)
    return r, d, [base + (1 if i < extra else 0) for i in range(districts)]


class _Names:
    """Pronounceable, unique synthetic names from one seeded generator."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.used: set[str] = set()

    def word(self) -> str:
        for attempt in range(1000):
            syllables = (3 if self.rng.random() < 1 / 3 else 2) + attempt // 200
            code = int(self.rng.random() * len(SYLLABLES) ** syllables)  # one draw per word
            parts = []
            for _ in range(syllables):
                code, digit = divmod(code, len(SYLLABLES))
                parts.append(SYLLABLES[digit])
            word = "".join(parts)
            if word not in self.used:
                self.used.add(word)
                return word.capitalize()
        raise RuntimeError("name space exhausted")  # pragma: no cover

    def facility(self) -> str:
        roll, total = self.rng.random(), 0.0
        for kind, weight in HF_KINDS:
            total += weight
            if roll < total:
                break
        return f"{self.word()} {kind}"


def _country_shape(rng: random.Random) -> Polygon:
    """A noisy circle: a few low-frequency waves plus per-vertex jitter."""
    waves = [(k, rng.uniform(0.02, 0.09), rng.uniform(0, 2 * math.pi)) for k in range(2, 8)]
    ring = []
    for i in range(240):
        theta = 2 * math.pi * i / 240
        r = 1 + sum(a * math.sin(k * theta + phase) for k, a, phase in waves) + rng.uniform(-0.01, 0.01)
        ring.append((COUNTRY_CENTRE[0] + COUNTRY_RADIUS * r * math.cos(theta),
                     COUNTRY_CENTRE[1] + COUNTRY_RADIUS * r * math.sin(theta)))
    return Polygon(ring)


def _points_inside(rng: random.Random, poly, k: int) -> list[tuple[float, float]]:
    minx, miny, maxx, maxy = poly.bounds
    shapely.prepare(poly)
    points: list[tuple[float, float]] = []
    while len(points) < k:
        m = max(16, int((k - len(points)) * 1.6))
        xs = [rng.uniform(minx, maxx) for _ in range(m)]
        ys = [rng.uniform(miny, maxy) for _ in range(m)]
        for x, y, inside in zip(xs, ys, shapely.contains_xy(poly, xs, ys)):
            if inside and len(points) < k:
                points.append((x, y))
    return points


def _partition(rng: random.Random, parent, k: int, relax: int = 0) -> list:
    """k pieces tiling `parent`: Voronoi cells of random inner points, clipped to the parent.

    `relax` Lloyd-style iterations (each seed moved to an inner point of its cell) even out sizes.
    """
    if k == 1:
        return [parent]
    points = _points_inside(rng, parent, k)
    for iteration in range(relax + 1):
        cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=parent, ordered=True)
        pieces = shapely.intersection(np.asarray(cells.geoms, dtype=object), parent)
        if iteration < relax:
            centres = shapely.point_on_surface(pieces)  # stays inside for concave pieces
            points = [(p.x, p.y) for p in centres]
    return list(pieces)


def build_demo_structure(n: int = 5000, seed: int = 42, regions: int | None = None) -> DemoStructure:
    """The synthetic country as plain data; deterministic in (n, seed, regions)."""
    rng = random.Random(seed)
    names = _Names(rng)
    r, d, facilities = level_sizes(n, regions)
    structure = DemoStructure()

    def add_children(parent: int | None, depth: int, raw_pieces, name) -> list:
        """Append one unit per piece; returns their stored (simplified) shapes."""
        shapes = simplify_shapes(raw_pieces)
        # A piece too small to survive rounding keeps its location but no shape.
        located = [g if g is not None else raw for g, raw in zip(shapes, raw_pieces)]
        points = shapely.get_coordinates(shapely.point_on_surface(np.asarray(located, dtype=object)))
        geojson = shapes_to_geojson([g for g in shapes if g is not None])[::-1]
        for shape_, (x, y) in zip(shapes, points):
            structure.units.append(DemoUnit(
                index=len(structure.units), parent=parent, depth=depth, name=name(),
                geometry=geojson.pop() if shape_ is not None else None,
                latitude=round(float(y), 6), longitude=round(float(x), 6),
                area_type=AreaType.RURAL.value if depth == 0 else area_type(),
            ))
        return shapes

    def area_type() -> str:
        return AreaType.URBAN.value if rng.random() < 0.25 else AreaType.RURAL.value

    # Children are clipped to their parent as stored (simplified), so siblings tile it.
    (country,) = add_children(None, 0, [_country_shape(rng)], names.word)
    region_shapes = add_children(0, 1, _partition(rng, country, r, relax=2), names.word)
    district_shapes = []
    for i, region in enumerate(region_shapes):
        district_shapes.extend(add_children(1 + i, 2, _partition(rng, region, d, relax=2), names.word))
    first_district = 1 + r
    for i, (district, count) in enumerate(zip(district_shapes, facilities)):
        add_children(first_district + i, 3, _partition(rng, district, count), names.facility)
    return structure


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def team_colour(i: int) -> str:
    """Distinct colours: the palette first, then golden-angle hues at readable lightness."""
    if i < len(PALETTE):
        return PALETTE[i]
    hue = (i * 0.618033988749895) % 1.0
    lightness = (0.35, 0.45, 0.55)[i % 3]
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, 0.65)
    return "#{:02x}{:02x}{:02x}".format(round(red * 255), round(green * 255), round(blue * 255))


def _ensure_types(project) -> list[OrgUnitType]:
    existing = {t.name: t for t in db.session.execute(
        select(OrgUnitType).where(OrgUnitType.project_id == project.id)).scalars()}
    types = []
    for depth, (name, short, category) in enumerate(LEVEL_TYPES):
        t = existing.get(name) or OrgUnitType(project_id=project.id, name=name)
        t.short_name, t.depth, t.category = short, depth, category.value
        db.session.add(t)
        types.append(t)
    for parent, child in zip(types, types[1:]):
        parent.sub_unit_types = [child]
    db.session.flush()
    return types


def _insert_org_units(structure: DemoStructure, project, types, progress) -> list[int]:
    """Batched Core inserts with ids and paths computed here; returns the ids by unit index."""
    is_pg = db.engine.dialect.name == "postgresql"
    if is_pg:  # nobody else may take ids in the range we pre-assign
        db.session.execute(text("LOCK TABLE org_units IN SHARE ROW EXCLUSIVE MODE"))
    start = db.session.execute(select(func.coalesce(func.max(OrgUnit.id), 0))).scalar_one()
    ids = [start + 1 + u.index for u in structure.units]
    paths: list[str] = []
    now = utcnow()
    total = len(structure.units)
    rows = []
    for unit in structure.units:
        uid = ids[unit.index]
        paths.append((paths[unit.parent] if unit.parent is not None else "") + f"{uid}.")
        rows.append({
            "id": uid, "project_id": project.id, "name": unit.name,
            "org_unit_type_id": types[unit.depth].id,
            "parent_id": ids[unit.parent] if unit.parent is not None else None,
            "path": paths[-1], "depth": unit.depth, "geometry": unit.geometry,
            "latitude": unit.latitude, "longitude": unit.longitude, "area_type": unit.area_type,
            "source_ref": f"demo:{uid}", "created_at": now, "updated_at": now, "deleted_at": None,
        })
        if len(rows) >= BATCH_SIZE:
            db.session.execute(insert(OrgUnit.__table__), rows)
            rows = []
            if progress:
                progress(unit.index + 1, total)
    if rows:
        db.session.execute(insert(OrgUnit.__table__), rows)
        if progress:
            progress(total, total)
    if is_pg:
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('org_units', 'id'), (SELECT MAX(id) FROM org_units))"))
    return ids


def _demo_users(structure: DemoStructure, project, password_hash: str):
    """Role users, region coordinators and two field agents per district (one hash for all)."""
    roles = {r.name: r for r in db.session.execute(select(Role)).scalars()} or ensure_default_roles()
    wanted: list[tuple[str, str, str]] = [  # username, role, full name
        ("admin", "admin", "Demo administrator"),
        ("coordinator", "coordinator", "National coordinator"),
        ("agent", "agent", "Demo agent"),
    ]
    for region in structure.at_depth(1):
        wanted.append((f"coordinator.{slugify(region.name)}", "coordinator", f"{region.name} coordinator"))
    for district in structure.at_depth(2):
        for k in (1, 2):
            wanted.append((f"field.{slugify(district.name)}.{k}", "agent", f"{district.name} field agent {k}"))
    existing = {u.username: u for u in db.session.execute(
        select(User).where(User.username.in_([w[0] for w in wanted]))).scalars()}
    users: dict[str, User] = {}
    for username, role, full_name in wanted:
        user = existing.get(username)
        if user is None:
            user = User(username=username, password_hash=password_hash, role_id=roles[role].id,
                        full_name=full_name, platform_operator=username == "admin")
            user.projects = [project]
            db.session.add(user)
        elif project not in user.projects:
            user.projects.append(project)
        users[username] = user
    db.session.flush()
    return users


def _demo_teams(structure: DemoStructure, project, users: dict[str, User]) -> int:
    """National team → a team of teams per region → a team of users per district."""
    root = Team(project_id=project.id, name="National coordination", type=TeamType.TEAM_OF_TEAMS.value,
                manager=users["coordinator"], colour=team_colour(0),
                description="Demo: coordinates every region")
    db.session.add(root)
    db.session.flush()
    root.path = f"{root.id}."
    teams_by_region: dict[int, Team] = {}
    colour = 1
    for region in structure.at_depth(1):
        team = Team(project_id=project.id, name=f"{region.name} region team", parent=root,
                    type=TeamType.TEAM_OF_TEAMS.value, colour=team_colour(colour),
                    manager=users[f"coordinator.{slugify(region.name)}"])
        colour += 1
        teams_by_region[region.index] = team
        db.session.add(team)
    db.session.flush()
    for team in teams_by_region.values():
        team.path = f"{root.path}{team.id}."
    district_teams = []
    for district in structure.at_depth(2):
        slug = slugify(district.name)
        members = [users[f"field.{slug}.1"], users[f"field.{slug}.2"]]
        team = Team(project_id=project.id, name=f"{district.name} district team",
                    parent=teams_by_region[district.parent], type=TeamType.TEAM_OF_USERS.value,
                    colour=team_colour(colour), manager=members[0], users=members)
        colour += 1
        district_teams.append(team)
        db.session.add(team)
    db.session.flush()
    for team in district_teams:
        team.path = f"{team.parent.path}{team.id}."
    db.session.flush()
    return 1 + len(teams_by_region) + len(district_teams)


def _demo_plannings(project, users: dict) -> None:
    """Two forms and a national planning ready for sampling (the map page has something to show)."""
    from app.models import Form, Planning, Team, utcnow

    forms = [Form(project_id=project.id, name="Household survey", version="3"),
             Form(project_id=project.id, name="Facility checklist", version="1")]
    db.session.add_all(forms)
    db.session.flush()
    country = db.session.execute(select(OrgUnit).where(OrgUnit.project_id == project.id, OrgUnit.parent_id.is_(None))).scalar_one()
    root_team = db.session.execute(select(Team).where(Team.project_id == project.id, Team.parent_id.is_(None))).scalar_one()
    db.session.add(Planning(project_id=project.id, name="LQAS round 1", description="Coverage survey, all regions",
                            team_id=root_team.id, org_unit_id=country.id, forms=forms, published_at=utcnow(),
                            pipeline_uuids=["lqas-sampling"], created_by_id=users["coordinator"].id))


def load_demo(org_units: int = 5000, seed: int = 42, regions: int | None = None, progress=None) -> dict:
    """Load the demo country into "Demo project" (skipped when it already has org units).

    `progress(done, total)` is called as org unit batches go in. Commits once at the end;
    on any error the session is rolled back and nothing is kept.
    """
    started = time.perf_counter()
    try:
        project = get_or_create_project(DEMO_PROJECT)
        has_units = db.session.execute(
            select(OrgUnit.id).where(OrgUnit.project_id == project.id).limit(1)).first()
        if has_units:
            db.session.rollback()
            return {"skipped": True, "project": DEMO_PROJECT}
        r, d, facilities = level_sizes(org_units, regions)
        if progress:  # building the shapes takes a while before the first batch goes in
            progress(0, 1 + r + r * d + sum(facilities))
        structure = build_demo_structure(org_units, seed, regions)
        types = _ensure_types(project)
        _insert_org_units(structure, project, types, progress)
        users = _demo_users(structure, project, hash_password(DEMO_PASSWORD))
        teams = _demo_teams(structure, project, users)
        _demo_plannings(project, users)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {
        "project": DEMO_PROJECT,
        "org_units": len(structure.units),
        "regions": len(structure.at_depth(1)),
        "districts": len(structure.at_depth(2)),
        "facilities": len(structure.at_depth(3)),
        "teams": teams,
        "users": len(users),
        "seconds": round(time.perf_counter() - started, 2),
    }
