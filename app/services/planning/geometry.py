"""Geometry helpers: what we store is simplified, rounded GeoJSON (Polygon, MultiPolygon or Point).

Maps only need a few metres of precision; 4 decimals of a degree is about 11 m, and a
simplified ring keeps map pages and API responses small.
"""
from __future__ import annotations

import json

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

STORED_TYPES = ("Polygon", "MultiPolygon", "Point")


class GeometryError(ValueError):
    """The value is not GeoJSON geometry shapely can read."""


def to_shape(geojson: dict | BaseGeometry) -> BaseGeometry:
    """A shapely geometry from a GeoJSON geometry dict (or a shapely geometry, returned as is)."""
    if isinstance(geojson, BaseGeometry):
        return geojson
    if not isinstance(geojson, dict) or "type" not in geojson:
        raise GeometryError("geometry must be a GeoJSON object with a 'type'")
    try:
        geom = shape(geojson)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise GeometryError(f"invalid {geojson.get('type')} geometry: {exc}") from None
    if not np.all(np.isfinite(shapely.get_coordinates(geom))):
        raise GeometryError("geometry has non-finite coordinates")
    return geom


def _polygonal_part(geom: BaseGeometry) -> BaseGeometry | None:
    """Keep Polygon/MultiPolygon/Point; from a collection keep its polygons (clipping makes those)."""
    if geom.is_empty:
        return None
    if geom.geom_type in STORED_TYPES:
        return geom
    if geom.geom_type == "GeometryCollection":
        polygons = []
        for part in geom.geoms:
            if part.geom_type == "Polygon" and not part.is_empty:
                polygons.append(part)
            elif part.geom_type == "MultiPolygon":
                polygons.extend(p for p in part.geoms if not p.is_empty)
        if not polygons:
            return None
        return polygons[0] if len(polygons) == 1 else MultiPolygon(polygons)
    return None


def _round(geoms: np.ndarray, decimals: int) -> np.ndarray:
    """Coordinates rounded to `decimals`. The rare piece this makes invalid is snapped with
    GEOS's grid instead, which keeps rings valid but is several times slower."""
    rounded = shapely.transform(geoms, lambda coords: np.round(coords, decimals))
    invalid = ~shapely.is_valid(rounded)
    if invalid.any():
        snapped = shapely.set_precision(geoms[invalid], 10.0 ** -decimals)
        rounded[invalid] = shapely.transform(snapped, lambda coords: np.round(coords, decimals))
    return rounded


def simplify_shape(geom: BaseGeometry, tolerance: float = 0.001, decimals: int = 4) -> BaseGeometry | None:
    """Simplified geometry rounded to `decimals`, or None when nothing storable is left."""
    return simplify_shapes([geom], tolerance, decimals)[0]


def shape_to_geojson(geom: BaseGeometry) -> dict:
    """A plain GeoJSON dict (lists, floats) for one geometry."""
    return json.loads(shapely.to_geojson(geom))


def simplify_geometry(geojson: dict | BaseGeometry, tolerance: float = 0.001, decimals: int = 4) -> dict | None:
    """Simplified GeoJSON rounded to `decimals`, only Polygon, MultiPolygon or Point.

    Returns None for empty or unsupported geometry (lines, for instance); raises
    GeometryError when the input is not readable GeoJSON geometry.
    """
    simplified = simplify_shape(to_shape(geojson), tolerance, decimals)
    return None if simplified is None else shape_to_geojson(simplified)


def centroid(geojson: dict | BaseGeometry) -> tuple[float, float]:
    """(latitude, longitude) of the geometry's centre, rounded to 6 decimals.

    The centroid of a concave or multi-part shape can fall outside it; then a point
    guaranteed inside (shapely's representative point) is returned instead, because the
    location is used to place a marker on the unit.
    """
    geom = to_shape(geojson)
    if geom.is_empty:
        raise GeometryError("empty geometry has no centre")
    point = geom.centroid
    if geom.geom_type not in ("Point", "MultiPoint") and not geom.contains(point):
        point = geom.representative_point()
    return round(point.y, 6), round(point.x, 6)


def simplify_shapes(geoms, tolerance: float = 0.001, decimals: int = 4) -> list[BaseGeometry | None]:
    """`simplify_shape` over many geometries at once (vectorised: imports and the demo use it)."""
    parts = _polygonal_parts(geoms)
    kept = [i for i, g in enumerate(parts) if g is not None]
    out: list[BaseGeometry | None] = [None] * len(parts)
    if not kept:
        return out
    arr = np.empty(len(kept), dtype=object)
    arr[:] = [parts[i] for i in kept]
    invalid = ~shapely.is_valid(arr)
    if invalid.any():  # self-intersecting rings and the like, as drawn by hand
        arr[invalid] = shapely.make_valid(arr[invalid])
    if tolerance > 0:
        arr = shapely.simplify(arr, tolerance, preserve_topology=True)
    for i, g in zip(kept, _polygonal_parts(_round(arr, decimals))):
        out[i] = g
    return out


_STORED_TYPE_IDS = (shapely.GeometryType.POINT, shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON)


def _polygonal_parts(geoms) -> list[BaseGeometry | None]:
    """`_polygonal_part` of each; the common case (a non-empty stored type) is checked vectorised."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    stored = np.isin(shapely.get_type_id(arr), _STORED_TYPE_IDS) & ~shapely.is_empty(arr)
    return [g if ok else _polygonal_part(g) for g, ok in zip(arr.tolist(), stored.tolist())]


def shapes_to_geojson(geoms) -> list[dict]:
    """GeoJSON dicts for many geometries (GEOS writes them; much faster than `mapping`)."""
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = list(geoms)
    return [json.loads(s) for s in shapely.to_geojson(arr)]
