"""The demo loader: the synthetic country (`app/demo/country.py`) written into "Demo project" with
its org unit types, a team per region and district, users and a planning ready for sampling.

Org units go in as they are made, with pre-assigned ids and paths: PostgreSQL's COPY (1,000,000
units in under a minute), else batched inserts (SQLite, and on request).
"""
from __future__ import annotations

import colorsys
import json
import re
import time
from collections.abc import Iterator

from sqlalchemy import func, insert, select, text

from app.demo.country import DemoStructure, DemoUnit, iter_demo_units, level_sizes
from app.extensions import db
from app.models import OrgUnit, OrgUnitCategory, OrgUnitType, Role, Team, TeamType, User, utcnow
from app.services.platform.users import ensure_default_roles, get_or_create_project, hash_password

DEMO_PROJECT = "Demo project"
DEMO_PASSWORD = "fieldflow"
BATCH_SIZE = 5000

# (name, short name, category) by depth; each type's sub-unit type is the next one.
LEVEL_TYPES = (
    ("Country", "COUNTRY", OrgUnitCategory.COUNTRY),
    ("Region", "REGION", OrgUnitCategory.REGION),
    ("District", "DISTRICT", OrgUnitCategory.DISTRICT),
    ("Health facility", "HF", OrgUnitCategory.HF),
)
# Readable on a light map; used in order, then distinct generated hues.
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
           "#17becf", "#bcbd22", "#7f7f7f", "#4f46e5", "#0f766e", "#b45309", "#be185d",
           "#15803d", "#1d4ed8", "#a21caf", "#c2410c", "#0e7490", "#4d7c0f")


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


ORG_UNIT_COLUMNS = ("id", "project_id", "name", "org_unit_type_id", "parent_id", "path", "depth", "geometry",
                    "latitude", "longitude", "area_type", "source_ref", "created_at", "updated_at", "deleted_at")


class _Tally:
    """What went in: units per depth, and the regions and districts (users and teams follow them)."""

    def __init__(self):
        self.per_depth: dict[int, int] = {}
        self.upper = DemoStructure()

    def count(self, unit: DemoUnit) -> None:
        self.per_depth[unit.depth] = self.per_depth.get(unit.depth, 0) + 1
        if unit.depth < len(LEVEL_TYPES) - 1:
            self.upper.units.append(unit)


def _unit_rows(units, start: int, project, types, now, tally: _Tally) -> Iterator[tuple]:
    """Rows in ORG_UNIT_COLUMNS order, ids from `start` on in unit order and paths computed here;
    geometry as GeoJSON text, `now` the creation time."""
    type_ids = [t.id for t in types]
    paths: dict[int, str] = {}  # by index, for units that can have children
    for unit in units:
        tally.count(unit)
        uid = start + unit.index
        parent_path = paths[unit.parent] if unit.parent is not None else ""
        path = f"{parent_path}{uid}."
        if unit.depth < len(LEVEL_TYPES) - 1:
            paths[unit.index] = path
        yield (uid, project.id, unit.name, type_ids[unit.depth],
               start + unit.parent if unit.parent is not None else None, path, unit.depth, unit.geojson,
               unit.latitude, unit.longitude, unit.area_type, f"demo:{uid}", now, now, None)


def _copy_org_units(rows: Iterator[tuple], total: int, progress) -> None:
    """PostgreSQL's COPY in the session's transaction, the rows streamed to the server as they are made.

    Loading at least as many units as the table holds, it follows the manual's advice for bulk loads
    ("Populating a Database"): the table's foreign keys and secondary indexes are dropped for the
    load and made again after it — one validating join per key instead of three checks queued per
    row (20 s of a million-unit load here), one sorted build per index instead of a million insertions.
    The caller holds the table's exclusive lock; on any error the transaction, constraints and
    indexes included, rolls back."""
    connection = db.session.connection()
    deferred: list[tuple[str, str]] = []  # (drop, create) statements
    if total >= connection.execute(text("SELECT count(*) FROM org_units")).scalar_one():
        for name, definition in connection.execute(text(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'org_units'::regclass AND contype = 'f' ORDER BY conname")):
            deferred.append((f'ALTER TABLE org_units DROP CONSTRAINT "{name}"',
                             f'ALTER TABLE org_units ADD CONSTRAINT "{name}" {definition}'))
        for name, definition in connection.execute(text(  # not those of constraints (the primary key)
                "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
                "WHERE x.indrelid = 'org_units'::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) ORDER BY i.relname")):
            deferred.append((f'DROP INDEX "{name}"', definition))
    for drop, _ in deferred:
        connection.execute(text(drop))
    done = 0
    with connection.connection.driver_connection.cursor() as cursor:
        with cursor.copy(f"COPY org_units ({', '.join(ORG_UNIT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
                done += 1
                if progress and done % BATCH_SIZE == 0:
                    progress(done, total)
    for _, create in deferred:
        connection.execute(text(create))
    if progress:
        progress(total, total)


def _insert_org_units(rows: Iterator[tuple], total: int, progress) -> None:
    """Batched Core inserts (SQLite, or PostgreSQL when asked)."""
    geometry = ORG_UNIT_COLUMNS.index("geometry")
    batch: list[dict] = []
    done = 0
    for row in rows:
        values = dict(zip(ORG_UNIT_COLUMNS, row))
        values["geometry"] = json.loads(row[geometry]) if row[geometry] is not None else None
        batch.append(values)
        if len(batch) >= BATCH_SIZE:
            db.session.execute(insert(OrgUnit.__table__), batch)
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    if batch:
        db.session.execute(insert(OrgUnit.__table__), batch)
    if progress:
        progress(total, total)


def _write_org_units(units, project, types, total: int, progress, use_copy: bool) -> _Tally:
    """Ids are pre-assigned after the current maximum: on PostgreSQL the table is locked so that nobody
    takes one meanwhile (exclusively for COPY, which changes its constraints)."""
    is_pg = db.engine.dialect.name == "postgresql"
    if is_pg:
        mode = "ACCESS EXCLUSIVE" if use_copy else "SHARE ROW EXCLUSIVE"
        db.session.execute(text(f"LOCK TABLE org_units IN {mode} MODE"))
    start = db.session.execute(select(func.coalesce(func.max(OrgUnit.id), 0))).scalar_one() + 1
    tally = _Tally()
    # COPY takes the time as text: dumping a datetime per row would cost more than the row's other values
    now = utcnow().isoformat() if use_copy else utcnow()
    rows = _unit_rows(units, start, project, types, now, tally)
    (_copy_org_units if use_copy else _insert_org_units)(rows, total, progress)
    if is_pg:
        db.session.execute(text(
            "SELECT setval(pg_get_serial_sequence('org_units', 'id'), (SELECT MAX(id) FROM org_units))"))
    return tally


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


def load_demo(org_units: int = 5000, seed: int = 42, regions: int | None = None, progress=None,
              use_copy: bool | None = None) -> dict:
    """Load the demo country into "Demo project" (skipped when it already has org units).

    Org units go in with PostgreSQL's COPY, else batched inserts (SQLite; `use_copy=False` asks for
    them on PostgreSQL too). `progress(done, total)` is called as org units go in. Commits once at the
    end; on any error the session is rolled back and nothing is kept.
    """
    started = time.perf_counter()
    is_pg = db.engine.dialect.name == "postgresql"
    if use_copy and not is_pg:
        raise ValueError("COPY needs PostgreSQL")
    try:
        project = get_or_create_project(DEMO_PROJECT)
        has_units = db.session.execute(
            select(OrgUnit.id).where(OrgUnit.project_id == project.id).limit(1)).first()
        if has_units:
            db.session.rollback()
            return {"skipped": True, "project": DEMO_PROJECT}
        r, d, facilities = level_sizes(org_units, regions)
        total = 1 + r + r * d + sum(facilities)
        if progress:  # shapes are made as units go in; the first batch takes longest
            progress(0, total)
        types = _ensure_types(project)
        tally = _write_org_units(iter_demo_units(org_units, seed, regions), project, types, total, progress,
                                 is_pg if use_copy is None else use_copy)
        users = _demo_users(tally.upper, project, hash_password(DEMO_PASSWORD))
        teams = _demo_teams(tally.upper, project, users)
        _demo_plannings(project, users)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {
        "project": DEMO_PROJECT,
        "org_units": sum(tally.per_depth.values()),
        "regions": tally.per_depth.get(1, 0),
        "districts": tally.per_depth.get(2, 0),
        "facilities": tally.per_depth.get(3, 0),
        "teams": teams,
        "users": len(users),
        "seconds": round(time.perf_counter() - started, 2),
    }
