"""A deterministic synthetic country as plain data (no database): regions, districts and health
facilities tiling a noisy disc, with pronounceable unique names and URBAN/RURAL settings.

`iter_demo_units` gives the same units for the same (n, seed, regions), parents before children, one
district's facilities at a time — so a million units stream into the database (`app/demo/planning.py`)
without being held in memory, their shapes made by one process per CPU.
"""
from __future__ import annotations

import json
import math
import multiprocessing
import os
import random
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon

from app.models import AreaType
from app.services.platform.errors import ValidationFailed
from app.services.planning.geometry import simplify_shapes

PARALLEL_FROM = 50_000  # units; below, starting worker processes costs more than it saves
COUNTRY_CENTRE = (20.0, 5.0)  # lon, lat
COUNTRY_RADIUS = 3.0  # degrees: the country is about 6° across
HF_KINDS = (("Health Centre", 0.55), ("Health Post", 0.35), ("Hospital", 0.10))
ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "w", "y", "z",
          "ch", "sh", "ny", "mb", "nd", "ng", "kw")
VOWELS = ("a", "e", "i", "o", "u")
SYLLABLES = tuple(onset + vowel for onset in ONSETS for vowel in VOWELS)


@dataclass
class DemoUnit:
    index: int
    parent: int | None  # index of the parent unit
    depth: int
    name: str
    geojson: str | None  # the stored shape as GeoJSON text (GEOS writes it)
    latitude: float
    longitude: float
    area_type: str

    @property
    def geometry(self) -> dict | None:
        return json.loads(self.geojson) if self.geojson is not None else None


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
        self.per_length: dict[int, int] = {}  # names used of each syllable count

    def word(self) -> str:
        for attempt in range(1000):
            syllables = (3 if self.rng.random() < 1 / 3 else 2) + attempt // 200
            # A length whose names are half used up is skipped: a million names stay cheap to draw.
            while self.per_length.get(syllables, 0) * 2 >= len(SYLLABLES) ** syllables:
                syllables += 1
            code = int(self.rng.random() * len(SYLLABLES) ** syllables)  # one draw per word
            parts = []
            for _ in range(syllables):
                code, digit = divmod(code, len(SYLLABLES))
                parts.append(SYLLABLES[digit])
            word = "".join(parts)
            if word not in self.used:
                self.used.add(word)
                self.per_length[syllables] = self.per_length.get(syllables, 0) + 1
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
    points = np.asarray(_points_inside(rng, parent, k))
    shapely.prepare(parent)
    for iteration in range(relax + 1):
        cells = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=parent, ordered=True)
        pieces = np.asarray(cells.geoms, dtype=object)
        crossing = ~shapely.contains_properly(parent, pieces)  # only cells on the border need clipping
        pieces[crossing] = shapely.intersection(pieces[crossing], parent)
        if iteration < relax:
            points = shapely.get_coordinates(shapely.point_on_surface(pieces))  # inside concave pieces too
    return list(pieces)


def _stored_pieces(raw_pieces) -> tuple[list, list[str | None], list[list[float]]]:
    """The pieces as stored (simplified; None when nothing is left), their GeoJSON texts, and a point
    inside each ([x, y]; a piece too small to survive rounding keeps its location but no shape)."""
    shapes = simplify_shapes(raw_pieces)
    located = np.asarray([g if g is not None else raw for g, raw in zip(shapes, raw_pieces)], dtype=object)
    points = shapely.get_coordinates(shapely.point_on_surface(located)).round(6).tolist()
    stored = np.asarray([g for g in shapes if g is not None], dtype=object)
    texts = iter(shapely.to_geojson(stored).tolist() if len(stored) else [])
    return shapes, [next(texts) if g is not None else None for g in shapes], points


def _district_facilities(task: tuple) -> tuple[list[str | None], list[list[float]]]:
    """One district's facility shapes and points, from its own seed: the same whichever process makes them."""
    district, count, seed = task
    _, texts, points = _stored_pieces(_partition(random.Random(seed), district, count))
    return texts, points


def _in_order(function, tasks: Iterator, processes: int) -> Iterator:
    """`map(function, tasks)`, over `processes` worker processes when more than one (a few tasks ahead of
    the consumer, so that finished work does not pile up in memory)."""
    if processes <= 1:
        yield from map(function, tasks)
        return
    # Workers forked from a fresh single-threaded server process ("forkserver"): a plain fork of a
    # process with threads (a web or test process: its pool, log and server threads) can copy a lock
    # another thread holds, and the child then waits for ever — seen as a hung test run. They compute
    # shapes only, and inherit no database connection.
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        pending: deque = deque()
        for task in tasks:
            pending.append(pool.apply_async(function, (task,)))
            if len(pending) >= 2 * processes:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def demo_processes(n: int) -> int:
    """Worker processes for the facilities' shapes: one per CPU (at most 4) from PARALLEL_FROM units."""
    return min(4, os.cpu_count() or 1) if n >= PARALLEL_FROM else 1


def iter_demo_units(n: int = 5000, seed: int = 42, regions: int | None = None,
                    processes: int | None = None) -> Iterator[DemoUnit]:
    """The synthetic country as plain data, parents before children (country, regions, districts,
    then each district's facilities); deterministic in (n, seed, regions), whatever the number of
    `processes` making the facilities' shapes (default: `demo_processes(n)`)."""
    rng = random.Random(seed)
    names = _Names(rng)
    r, d, facilities = level_sizes(n, regions)
    index = 0

    def units(parent: int | None, depth: int, texts, points, name) -> Iterator[DemoUnit]:
        nonlocal index
        for text_, (x, y) in zip(texts, points):
            unit_name = name()  # then its area type: one draw each, in this order
            area_type = AreaType.RURAL.value if depth == 0 or rng.random() >= 0.25 else AreaType.URBAN.value
            yield DemoUnit(index=index, parent=parent, depth=depth, name=unit_name, geojson=text_,
                           latitude=y, longitude=x, area_type=area_type)
            index += 1

    def children(parent: int | None, depth: int, raw_pieces, name, out: list) -> Iterator[DemoUnit]:
        """One unit per piece; appends their stored (simplified) shapes to `out`."""
        shapes, texts, points = _stored_pieces(raw_pieces)
        yield from units(parent, depth, texts, points, name)
        out.extend(shapes)

    # Children are clipped to their parent as stored (simplified), so siblings tile it.
    top: list = []
    yield from children(None, 0, [_country_shape(rng)], names.word, top)
    region_shapes: list = []
    yield from children(0, 1, _partition(rng, top[0], r, relax=2), names.word, region_shapes)
    district_shapes: list = []
    for i, region in enumerate(region_shapes):
        yield from children(1 + i, 2, _partition(rng, region, d, relax=2), names.word, district_shapes)
    first_district = 1 + r
    tasks = ((district, count, f"{seed}:{first_district + i}")
             for i, (district, count) in enumerate(zip(district_shapes, facilities)))
    made = _in_order(_district_facilities, tasks, demo_processes(n) if processes is None else processes)
    for i, (texts, points) in enumerate(made):
        yield from units(first_district + i, 3, texts, points, names.facility)


def build_demo_structure(n: int = 5000, seed: int = 42, regions: int | None = None) -> DemoStructure:
    """`iter_demo_units` as one list."""
    return DemoStructure(list(iter_demo_units(n, seed, regions)))
