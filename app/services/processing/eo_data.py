"""Earth-observation datasets of the EO aggregate import: what each measures, how its days fold
into a DHIS2 period, how pixels fold into an org unit, how values are written — and the zonal
statistics themselves.

| dataset | per pixel | over an org unit (spatial) | over a period (temporal) | written |
|---|---|---|---|---|
| chirps-daily | daily total, mm | coverage-weighted mean | sum of the daily means | mm, 2 decimals |
| chirps-monthly | monthly total, mm | coverage-weighted mean | sum of the monthly means | mm, 2 decimals |
| era5-land-temperature | hourly t2m, K → daily mean °C | coverage-weighted mean | mean of the daily means | °C, 2 decimals |
| era5-land-precipitation | tp, m since 00 UTC → daily total mm | coverage-weighted mean | sum of the daily means | mm, 2 decimals |
| worldpop-population | people | coverage-weighted sum | (one raster a year) | people, 0 decimals |

Nodata is excluded, never zero: a pixel without data has no weight; an org unit with no valid pixel
on a day of its period gets no value for that period and is reported. Coverage weights come from
`exactextract` (the exact fraction of each pixel inside the polygon), computed once per grid and
reused for every raster of the period (a sparse weighted sum per raster: see `Zones`).
Source files (published formats, drop folder, downloads, the sample) are in `eo_sources`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np


@dataclass(frozen=True)
class Dataset:
    id: str
    title: str
    variable: str
    units: str
    native: str  # "daily", "monthly" or "yearly": one raster per …
    temporal: str  # how rasters fold into a longer period: "sum" or "mean"
    aggregations: tuple[str, ...]  # spatial reductions that make sense; the first is the default
    decimals: int
    sample_start: date
    sample_end: date | None  # None: up to today (the sample is generated for any day in range)


DATASETS = {d.id: d for d in (
    Dataset("chirps-daily", "CHIRPS v2.0 daily precipitation", "precipitation", "mm", "daily", "sum",
            ("mean", "min", "max"), 2, date(2020, 1, 1), None),
    Dataset("chirps-monthly", "CHIRPS v2.0 monthly precipitation", "precipitation", "mm", "monthly", "sum",
            ("mean", "min", "max"), 2, date(2020, 1, 1), None),
    Dataset("era5-land-temperature", "ERA5-Land 2 m temperature", "temperature", "°C", "daily", "mean",
            ("mean", "min", "max"), 2, date(2020, 1, 1), None),
    Dataset("era5-land-precipitation", "ERA5-Land total precipitation", "precipitation", "mm", "daily", "sum",
            ("mean", "min", "max"), 2, date(2020, 1, 1), None),
    Dataset("worldpop-population", "WorldPop population (people per pixel)", "population", "people", "yearly", "sum",
            ("sum",), 0, date(2020, 1, 1), None),
)}
REDUCERS = ("mean", "sum", "min", "max")


def format_value(value: float, decimals: int) -> str:
    """Exactly, with fixed decimals and never an exponent: 2743500 → "2743500", 12.345 → "12.35"."""
    text = f"{value:.{decimals}f}"
    return text.lstrip("-") if float(text) == 0 else text  # never "-0.00"


class Zones:
    """The pixels of each org unit on one grid, with the fraction of each pixel inside the unit.

    `geometries` are GeoJSON in EPSG:4326; they are reprojected to the grid's CRS. A point takes the
    pixel under it. Built once per grid; `reduce(raster)` is then one gather and a few `bincount`s."""

    def __init__(self, geometries: list[dict], transform, shape: tuple[int, int], crs=None):
        from exactextract import exact_extract
        from exactextract.raster import NumPyRasterSource
        from rasterio.transform import rowcol
        from rasterio.warp import transform_geom

        self.n, self.shape = len(geometries), shape
        if crs is not None and not _is_wgs84(crs):
            geometries = [transform_geom("EPSG:4326", crs, g) for g in geometries]
        height, width = shape
        west, north = transform.c, transform.f
        east, south = west + transform.a * width, north + transform.e * height
        raster = NumPyRasterSource(np.zeros(shape, dtype="uint8"), xmin=west, ymin=south, xmax=east, ymax=north)
        polygons = [(i, g) for i, g in enumerate(geometries) if g.get("type") in ("Polygon", "MultiPolygon")]
        cells, weights, units = [], [], []
        if polygons:
            features = [{"type": "Feature", "properties": {"i": i}, "geometry": g} for i, g in polygons]
            for feature in exact_extract(raster, features, ["cell_id", "coverage"], include_cols=["i"]):
                p = feature["properties"]
                cells.append(np.asarray(p["cell_id"], dtype=np.int64))
                weights.append(np.asarray(p["coverage"], dtype=np.float64))
                units.append(np.full(len(p["cell_id"]), p["i"], dtype=np.int64))
        for i, g in enumerate(geometries):
            if g.get("type") == "Point":
                row, col = rowcol(transform, *g["coordinates"][:2])
                if 0 <= row < height and 0 <= col < width:
                    cells.append(np.array([row * width + col]))
                    weights.append(np.ones(1))
                    units.append(np.array([i]))
        join = (lambda parts, dtype: np.concatenate(parts) if parts else np.empty(0, dtype=dtype))
        self.cells, self.weights, self.units = join(cells, np.int64), join(weights, np.float64), join(units, np.int64)
        order = np.argsort(self.units, kind="stable")
        self.cells, self.weights, self.units = self.cells[order], self.weights[order], self.units[order]
        keep = self.weights > 0
        self.cells, self.weights, self.units = self.cells[keep], self.weights[keep], self.units[keep]

    def reduce(self, raster: np.ndarray, aggregation: str) -> np.ndarray:
        """One value per unit (NaN where the unit has no valid pixel). `raster` has NaN for nodata."""
        values = raster.reshape(-1)[self.cells].astype(np.float64)
        valid = ~np.isnan(values)
        weights = np.where(valid, self.weights, 0.0)
        covered = np.bincount(self.units, weights=weights, minlength=self.n)
        out = np.full(self.n, np.nan)
        has = covered > 0
        if aggregation in ("mean", "sum"):
            total = np.bincount(self.units, weights=weights * np.where(valid, values, 0.0), minlength=self.n)
            out[has] = total[has] / covered[has] if aggregation == "mean" else total[has]
            return out
        pick = valid
        if pick.any():
            fill = np.inf if aggregation == "min" else -np.inf
            ufunc = np.minimum if aggregation == "min" else np.maximum
            masked = np.where(pick, values, fill)
            starts = np.flatnonzero(np.r_[True, self.units[1:] != self.units[:-1]]) if self.units.size else np.empty(0, int)
            reduced = ufunc.reduceat(masked, starts) if starts.size else np.empty(0)
            out[self.units[starts]] = reduced
            out[~has] = np.nan
        return out


def _is_wgs84(crs) -> bool:
    from rasterio.crs import CRS

    try:
        return CRS.from_user_input(crs) == CRS.from_epsg(4326)
    except Exception:  # noqa: BLE001 — an unreadable CRS is not WGS 84: reprojecting says why
        return False


def bounds_of(geometries: list[dict]) -> tuple[float, float, float, float]:
    """west, south, east, north of GeoJSON geometries (EPSG:4326)."""
    from shapely.geometry import shape

    boxes = np.array([shape(g).bounds for g in geometries]) if geometries else np.zeros((1, 4))
    return float(boxes[:, 0].min()), float(boxes[:, 1].min()), float(boxes[:, 2].max()), float(boxes[:, 3].max())


def is_number(value: float) -> bool:
    return value is not None and not math.isnan(value)
