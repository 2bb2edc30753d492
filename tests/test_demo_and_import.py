"""Demo country loader and org unit import (GeoJSON / CSV), through services and the CLI."""
from __future__ import annotations

import json
import re

import pytest
from shapely.geometry import shape
from shapely.ops import unary_union
from sqlalchemy import func, select, text

from app.extensions import db
from app.models import OrgUnit, OrgUnitType, Team, TeamType, User
from app.demo.country import build_demo_structure, iter_demo_units, level_sizes
from app.demo.planning import DEMO_PROJECT, load_demo
from app.services.platform.errors import ValidationFailed
from app.services.planning.geometry import centroid, simplify_geometry
from app.services.planning.orgunit_import import import_org_units
from app.services.platform.users import get_or_create_project

FOUR_DECIMALS = re.compile(r"^-?\d+(\.\d{1,4})?$")


def count_units() -> int:
    return db.session.execute(select(func.count()).select_from(OrgUnit)).scalar_one()


def all_coordinates(geometry: dict):
    def walk(value):
        if isinstance(value, (int, float)):
            yield value
        else:
            for item in value:
                yield from walk(item)
    return list(walk(geometry["coordinates"]))


# --- geometry helpers -------------------------------------------------------------------------

def test_simplify_geometry_rounds_and_keeps_only_areas_and_points():
    polygon = {"type": "Polygon", "coordinates": [[[0, 0], [1.123456789, 0], [1, 1], [0.5, 1.00001], [0, 1], [0, 0]]]}
    simplified = simplify_geometry(polygon)
    assert simplified["type"] == "Polygon"
    assert all(FOUR_DECIMALS.match(repr(c)) for c in all_coordinates(simplified))
    assert [0.5, 1.00001] not in simplified["coordinates"][0]  # within tolerance: dropped
    assert simplify_geometry({"type": "Point", "coordinates": [20.123456, 5.987654]}) == \
        {"type": "Point", "coordinates": [20.1235, 5.9877]}
    assert simplify_geometry({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}) is None
    assert centroid(polygon) == pytest.approx((0.5, 0.53), abs=0.05)


# --- demo loader ------------------------------------------------------------------------------

def test_demo_structure_is_deterministic_in_the_seed():
    first = build_demo_structure(600, seed=7)
    second = build_demo_structure(600, seed=7)
    other = build_demo_structure(600, seed=8)
    assert [u.name for u in first.units] == [u.name for u in second.units]
    assert [u.geometry for u in first.units] == [u.geometry for u in second.units]
    assert [u.area_type for u in first.units] == [u.area_type for u in second.units]
    assert [u.name for u in first.units] != [u.name for u in other.units]


def test_level_sizes_follow_the_documented_rule():
    regions, districts_per_region, facilities = level_sizes(100_000)
    assert (regions, districts_per_region) == (4, 50)
    assert 1 + regions + regions * districts_per_region + sum(facilities) == 100_000
    assert max(facilities) - min(facilities) <= 1
    assert level_sizes(600)[:2] == (8, 3)
    with pytest.raises(ValidationFailed):
        level_sizes(20)


def test_load_demo_builds_a_consistent_tiled_hierarchy(app):
    summary = load_demo(600, seed=42)
    assert summary["org_units"] == 600 == count_units()
    assert (summary["regions"], summary["districts"], summary["facilities"]) == (8, 24, 567)

    project = get_or_create_project(DEMO_PROJECT)
    types = {t.depth: t for t in db.session.execute(
        select(OrgUnitType).where(OrgUnitType.project_id == project.id)).scalars()}
    assert [types[d].short_name for d in range(4)] == ["COUNTRY", "REGION", "DISTRICT", "HF"]
    assert types[0].sub_unit_types == [types[1]] and types[3].sub_unit_types == []

    units = {u.id: u for u in db.session.execute(select(OrgUnit)).scalars()}
    per_depth = {d: sum(1 for u in units.values() if u.depth == d) for d in range(4)}
    assert per_depth == {0: 1, 1: 8, 2: 24, 3: 567}
    for unit in units.values():
        assert unit.path.endswith(f".{unit.id}.") or unit.path == f"{unit.id}."
        assert unit.org_unit_type_id == types[unit.depth].id
        assert unit.area_type in ("URBAN", "RURAL")
        assert unit.source_ref == f"demo:{unit.id}"
        assert shape(unit.geometry).contains(shape({"type": "Point", "coordinates": [unit.longitude, unit.latitude]}))
        if unit.parent_id is None:
            assert unit.depth == 0
        else:
            parent = units[unit.parent_id]
            assert unit.path == f"{parent.path}{unit.id}." and unit.depth == parent.depth + 1
    assert all(FOUR_DECIMALS.match(repr(c)) for u in units.values() for c in all_coordinates(u.geometry))
    facilities = [u.name for u in units.values() if u.depth == 3]
    assert all(re.search(r" (Health Centre|Health Post|Hospital)$", n) for n in facilities)
    assert 0.1 < sum(u.area_type == "URBAN" for u in units.values()) / len(units) < 0.4

    # Children tile their parent: same area, no overlap.
    for parent in (u for u in units.values() if u.depth in (0, 1)):
        children = [shape(u.geometry) for u in units.values() if u.parent_id == parent.id]
        parent_area = shape(parent.geometry).area
        assert unary_union(children).area == pytest.approx(parent_area, rel=0.01)
        assert sum(c.area for c in children) == pytest.approx(parent_area, rel=0.01)


def test_load_demo_creates_teams_and_users_and_is_skipped_the_second_time(app):
    load_demo(300, seed=1)
    teams = list(db.session.execute(select(Team)).scalars())
    root = next(t for t in teams if t.parent_id is None)
    assert root.name == "National coordination" and root.type == TeamType.TEAM_OF_TEAMS
    regions = [t for t in teams if t.parent_id == root.id]
    districts = [t for t in teams if t.type == TeamType.TEAM_OF_USERS]
    assert len(regions) == 8 and len(districts) == 16 and len(teams) == 25
    assert all(t.path == f"{t.parent.path}{t.id}." for t in teams if t.parent_id)
    assert all(t.manager_id is not None for t in teams)
    assert len({t.colour for t in teams}) == len(teams)
    assert all(re.fullmatch(r"#[0-9a-f]{6}", t.colour) for t in teams)
    for team in districts:
        assert len(team.users) == 2
        assert all(re.fullmatch(r"field\.[a-z0-9-]+\.[12]", u.username) for u in team.users)
        assert team.parent.type == TeamType.TEAM_OF_TEAMS
    users = {u.username: u for u in db.session.execute(select(User)).scalars()}
    assert {"admin", "coordinator", "agent"} <= set(users)
    assert users["admin"].role.name == "admin" and users["coordinator"].role.name == "coordinator"
    assert all(DEMO_PROJECT in [p.name for p in u.projects] for u in users.values())

    from app.schemas.auth import TokenIn
    from app.services.platform.users import authenticate
    assert authenticate(TokenIn(username="admin", password="fieldflow"), "127.0.0.1") is not None
    assert authenticate(TokenIn(username=districts[0].users[0].username, password="fieldflow"), "127.0.0.1") is not None

    before = count_units()
    assert load_demo(300, seed=1) == {"skipped": True, "project": DEMO_PROJECT}
    assert count_units() == before


def _units_of(project_name: str) -> list[tuple]:
    """A project's org units as loaded, ids counted from its first unit (two loads compare equal)."""
    project = get_or_create_project(project_name)
    units = list(db.session.execute(select(OrgUnit).where(OrgUnit.project_id == project.id).order_by(OrgUnit.id)).scalars())
    first = units[0].id
    return [(u.id - first, u.parent_id - first if u.parent_id else None, [a - first for a in u.ancestor_ids],
             u.path.count("."), u.depth, u.org_unit_type.short_name, u.name, u.geometry, u.latitude, u.longitude,
             u.area_type, int(u.source_ref.removeprefix("demo:")) - first) for u in units]


def _org_unit_schema() -> set[str]:
    """The definitions of org_units' indexes and constraints, as PostgreSQL prints them."""
    return set(db.session.execute(text(
        "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = 'org_units'::regclass "
        "UNION SELECT conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'org_units'::regclass")).scalars())


def test_copy_loads_the_same_country_as_inserts(app):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    schema = _org_unit_schema()
    copied = load_demo(600, seed=5, use_copy=True)
    assert _org_unit_schema() == schema  # dropped for the load, made again
    get_or_create_project(DEMO_PROJECT).name = "Copied"  # the next load makes a new demo project
    db.session.commit()
    inserted = load_demo(600, seed=5, use_copy=False)
    assert {k: v for k, v in copied.items() if k != "seconds"} == {k: v for k, v in inserted.items() if k != "seconds"}
    assert copied["org_units"] == 600
    by_copy, by_insert = _units_of("Copied"), _units_of(DEMO_PROJECT)
    assert len(by_copy) == 600 and by_copy == by_insert
    assert {row[4] for row in by_copy} == {0, 1, 2, 3}
    # Both countries work: each has its team tree, and a new unit takes the next id.
    assert db.session.execute(select(func.count()).select_from(Team)).scalar_one() == 2 * inserted["teams"]
    assert db.session.execute(select(func.max(OrgUnit.id))).scalar_one() == 1200
    extra = OrgUnit(project_id=get_or_create_project(DEMO_PROJECT).id, name="Extra", path="", depth=0,
                    org_unit_type_id=db.session.execute(select(OrgUnit.org_unit_type_id).limit(1)).scalar_one())
    db.session.add(extra)
    db.session.flush()
    assert extra.id == 1201


def test_demo_units_do_not_depend_on_how_many_processes_make_them():
    def units(processes: int) -> list[tuple]:
        return [(u.index, u.parent, u.name, u.geojson, u.latitude, u.longitude, u.area_type)
                for u in iter_demo_units(1500, seed=3, processes=processes)]

    assert units(1) == units(2)


def test_cli_demo_load(runner):
    result = runner.invoke(args=["demo", "load", "--org-units", "300"])
    assert result.exit_code == 0, result.output
    assert "300 org units" in result.output
    assert count_units() == 300


# --- import -----------------------------------------------------------------------------------

@pytest.fixture
def project(app):
    """A project with Country > Region > District types (no units)."""
    project = get_or_create_project("Import project")
    for depth, (name, short) in enumerate((("Country", "COUNTRY"), ("Region", "REGION"), ("District", "DISTRICT"))):
        db.session.add(OrgUnitType(project_id=project.id, name=name, short_name=short, depth=depth))
    db.session.commit()
    return project


def square(x: float, y: float, size: float = 1.0) -> dict:
    return {"type": "Polygon", "coordinates": [[[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]]}


def feature(ref, name, type_, parent=None, geometry=None, **extra) -> dict:
    props = {"id": ref, "name": name, "type": type_, **extra}
    if parent is not None:
        props["parent"] = parent
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(tmp_path, features, name="units.geojson"):
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return str(path)


def test_import_geojson_creates_hierarchy_with_simplified_rounded_geometry(project, tmp_path):
    wiggly = {"type": "Polygon", "coordinates": [[
        [10.123456789, 1.0], [12.0, 1.0], [12.0, 3.0], [11.0, 3.0000001], [10.0, 3.0], [10.123456789, 1.0]]]}
    path = write_geojson(tmp_path, [
        feature("R1", "North", "Region", parent="C", geometry=square(10, 1, 2), area_type="urban"),
        feature("C", "Testland", "COUNTRY", geometry=wiggly),
        feature(7, "Hill district", "district", parent="R1", geometry={"type": "Point", "coordinates": [10.5, 1.5]}),
    ])
    seen = []
    assert import_org_units(path, "Import project", progress=lambda d, t: seen.append((d, t))) == \
        {"created": 3, "updated": 0}
    assert seen[-1] == (3, 3)
    units = {u.source_ref: u for u in db.session.execute(select(OrgUnit)).scalars()}
    country, region, district = units["C"], units["R1"], units["7"]
    assert (country.path, country.depth, country.parent_id) == (f"{country.id}.", 0, None)
    assert region.path == f"{country.id}.{region.id}." and region.depth == 1 and region.area_type == "URBAN"
    assert district.path == f"{region.path}{district.id}." and district.depth == 2
    assert district.org_unit_type.name == "District"
    assert all(FOUR_DECIMALS.match(repr(c)) for c in all_coordinates(country.geometry))
    assert [11.0, 3.0000001] not in country.geometry["coordinates"][0]
    assert country.latitude == pytest.approx(2.0, abs=0.1)
    assert (district.latitude, district.longitude) == (1.5, 10.5)

    # Re-importing updates by ref instead of duplicating.
    path = write_geojson(tmp_path, [feature("R1", "North region", "Region", parent="C")], name="again.json")
    assert import_org_units(path, "Import project") == {"created": 0, "updated": 1}
    db.session.expire_all()
    assert count_units() == 3 and db.session.get(OrgUnit, region.id).name == "North region"


def test_import_moving_a_unit_rewrites_descendant_paths(project, tmp_path):
    import_org_units(write_geojson(tmp_path, [
        feature("C", "Testland", "Country"), feature("A", "A", "Region", parent="C"),
        feature("B", "B", "Region", parent="C"), feature("D", "D", "District", parent="A"),
    ]), "Import project")
    # Make region A a child of region B: district D (not in this file) must follow.
    assert import_org_units(write_geojson(tmp_path, [feature("A", "A", "Region", parent="B")], "move.geojson"),
                            "Import project") == {"created": 0, "updated": 1}
    db.session.expire_all()
    units = {u.source_ref: u for u in db.session.execute(select(OrgUnit)).scalars()}
    c, a, b, d = (units[k] for k in "CABD")
    assert a.parent_id == b.id and a.path == f"{c.id}.{b.id}.{a.id}." and a.depth == 2
    assert d.path == f"{a.path}{d.id}." and d.depth == 3


@pytest.mark.parametrize("name, content, expected", [
    ("bad.geojson", '{"type": "FeatureCollection", "features": [', "invalid JSON at line 1"),
    ("bad.json", '{"type": "Feature"}', "FeatureCollection"),
    ("bad.csv", "id,name\n1,A\n", "missing column(s): type"),
    ("bad.xlsx", "whatever", "unsupported file type"),
])
def test_import_rejects_malformed_files(project, tmp_path, name, content, expected):
    (tmp_path / name).write_text(content)
    with pytest.raises(ValidationFailed) as raised:
        import_org_units(str(tmp_path / name), "Import project")
    assert expected in raised.value.message
    assert count_units() == 0


def test_import_lists_every_problem_and_imports_nothing(project, tmp_path):
    path = write_geojson(tmp_path, [
        feature("C", "Testland", "Country"),
        feature("R1", "North", "Region", parent="C"),
        feature("R2", None, "Region", parent="C"),                     # feature 3: no name
        feature("R3", "South", "Region", parent="NOPE"),               # feature 4: unknown parent
        feature("R4", "East", "Province", parent="C"),                 # feature 5: unknown type
        feature("R1", "Again", "Region", parent="C"),                  # feature 6: duplicate ref
        feature("X", "Loop", "Region", parent="Y"),                    # features 7-8: a cycle
        feature("Y", "Loop", "Region", parent="X"),
        feature("G", "Bad shape", "Region", parent="C",
                geometry={"type": "Polygon", "coordinates": [[[0, 0], [1, 1]]]}),  # feature 9
    ])
    with pytest.raises(ValidationFailed) as raised:
        import_org_units(path, "Import project")
    details = raised.value.details
    assert details["feature 3"] == ["name is required"]
    assert "unknown parent 'NOPE'" in details["feature 4"][0]
    assert "unknown org unit type 'Province'" in details["feature 5"][0]
    assert "duplicate id 'R1' (first used on feature 2)" in details["feature 6"][0]
    assert "cycle" in details["feature 7"][0] and "feature 8" in details["feature 7"][0]
    assert "invalid geometry" in details["feature 9"][0]
    assert set(details) == {"feature 3", "feature 4", "feature 5", "feature 6", "feature 7", "feature 9"}
    assert "feature 3: name is required" in raised.value.message
    assert count_units() == 0


def test_import_csv(project, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text(
        "id,name,type,parent,area_type,latitude,longitude,geometry\n"
        "C,Testland,Country,,,,," + "\n"
        'R1,North,Region,C,RURAL,1.5,10.5,"' + json.dumps(square(10, 1)).replace('"', '""') + '"\n'
        "D1,Riverside,District,R1,URBAN,1.25,10.25,\n"
    )
    assert import_org_units(str(path), "Import project") == {"created": 3, "updated": 0}
    units = {u.source_ref: u for u in db.session.execute(select(OrgUnit)).scalars()}
    assert units["R1"].geometry["type"] == "Polygon" and units["R1"].latitude == 1.5
    assert units["D1"].geometry is None and (units["D1"].latitude, units["D1"].longitude) == (1.25, 10.25)
    assert units["D1"].path == f"{units['C'].id}.{units['R1'].id}.{units['D1'].id}."


def test_import_csv_names_the_bad_row(project, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("id,name,type,parent\nC,Testland,Country,\nR1,North,Region,C\nR2,,Region,C\n")
    with pytest.raises(ValidationFailed) as raised:
        import_org_units(str(path), "Import project")
    assert raised.value.details == {"row 3": ["name is required"]}
    assert count_units() == 0


def test_import_into_unknown_project(app, tmp_path):
    with pytest.raises(ValidationFailed) as raised:
        import_org_units(write_geojson(tmp_path, [feature("C", "Testland", "Country")]), "Nope")
    assert "project" in raised.value.details


def test_cli_import_reports_errors_and_exits_1(project, runner, tmp_path):
    path = tmp_path / "units.csv"
    path.write_text("id,name,type,parent\nC,Testland,Country,\nR1,North,Region,MISSING\n")
    result = runner.invoke(args=["orgunits", "import", str(path), "--project", "Import project"])
    assert result.exit_code == 1
    assert "row 2: unknown parent 'MISSING'" in result.output
    assert "nothing was imported" in result.output
    assert count_units() == 0

    path.write_text("id,name,type,parent\nC,Testland,Country,\nR1,North,Region,C\n")
    result = runner.invoke(args=["orgunits", "import", str(path), "--project", "Import project"])
    assert result.exit_code == 0, result.output
    assert "2 created, 0 updated" in result.output


@pytest.mark.parametrize("name,content,message", [
    ("deep.geojson", '{"type": "FeatureCollection", "features": ' + "[" * 5000 + "]" * 5000 + "}",
     "nested more than 64 levels deep"),
    ("nul.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "C", "name": "Test\x00land", "type": "Country"}, "geometry": None}]}),
     "the file.features.0.properties.name contains a NUL character"),
    ("nul.csv", "id,name,type,parent\nC,Test\x00land,Country,\n", "row 1: name contains a NUL character"),
    ("odd.geojson", json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "C", "name": "Testland", "type": "Country"},
         "geometry": {"type": "Polygon", "coordinates": [[["a", "b"]]]}}]}), "feature 1: invalid geometry"),
])
def test_cli_import_answers_malformed_files_with_one_clear_line(project, runner, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    result = runner.invoke(args=["orgunits", "import", str(path), "--project", "Import project"])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)  # click's exit, not a crash
    assert message in result.output and "Traceback" not in result.output, result.output
    assert count_units() == 0
