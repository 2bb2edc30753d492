"""Earth-observation source data for the EO aggregate import: datasets, the local cache of
GeoTIFFs, the synthetic sample dataset, and zonal statistics over org unit polygons.

Source files are read from a per-dataset cache folder (`EO_CACHE_DIR/<dataset>/`): one GeoTIFF per
month for daily datasets (one band per day), one per year for yearly ones. When a requested file is
absent and the period lies inside the sample range, a small synthetic file is generated
deterministically (seeded by dataset and period) over the demo country, so the flow runs offline
end to end. Real downloads (dhis2eo / earthkit) are not wired in: dhis2eo pulls a large scientific
stack (earthkit, cartopy, dask, eccodes); files placed in the cache folder are used as they are.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from flask import current_app

from app.services.processing.steps import PermanentError

GRID_WEST, GRID_NORTH, GRID_RES, GRID_SIZE = 16.5, 8.5, 0.1, 70  # 0.1° over the demo country


@dataclass(frozen=True)
class Dataset:
    id: str
    title: str
    variable: str
    units: str
    native: str  # "daily" or "yearly"
    temporal: str  # how days fold into a longer period: "sum" or "mean"
    sample_start: date
    sample_end: date


DATASETS = {d.id: d for d in (
    Dataset("chirps-daily", "CHIRPS daily precipitation", "precipitation", "mm", "daily", "sum",
            date(2024, 1, 1), date(2024, 6, 30)),
    Dataset("era5-land-temperature", "ERA5-Land daily 2 m temperature", "temperature", "°C", "daily", "mean",
            date(2024, 1, 1), date(2024, 6, 30)),
    Dataset("worldpop-population", "WorldPop population (people per pixel)", "population", "people", "yearly", "sum",
            date(2020, 1, 1), date(2024, 12, 31)),
)}


def cache_dir(dataset_id: str) -> str:
    root = current_app.config.get("EO_CACHE_DIR") or os.path.join(current_app.instance_path, "eo_cache")
    path = os.path.join(root, dataset_id)
    os.makedirs(path, exist_ok=True)
    return path


def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little")


def _synthetic(dataset: Dataset, key: str, days: list[date]) -> np.ndarray:
    """A smooth, deterministic field per day (or one for a year): same inputs, same numbers."""
    rng = np.random.default_rng(_seed(dataset.id, key))
    ys, xs = np.mgrid[0:GRID_SIZE, 0:GRID_SIZE] / GRID_SIZE
    if dataset.variable == "population":
        hubs = rng.uniform(0.2, 0.8, size=(6, 2))
        density = sum(np.exp(-((xs - hx) ** 2 + (ys - hy) ** 2) / 0.01) for hx, hy in hubs)
        return (50 + 2000 * density * rng.uniform(0.9, 1.1, size=xs.shape))[None].astype("float32")
    out = np.empty((len(days), GRID_SIZE, GRID_SIZE), dtype="float32")
    for i, day in enumerate(days):
        season = np.sin(2 * np.pi * (day.timetuple().tm_yday - 80) / 365)
        if dataset.variable == "precipitation":
            wet = np.clip(0.3 + 0.4 * season + 0.3 * ys - 0.2 * xs, 0.02, 0.95)
            rain = rng.gamma(0.8, 9.0, size=xs.shape) * (rng.random(xs.shape) < wet)
            out[i] = rain
        else:
            out[i] = 26 + 3 * season - 6 * ys + rng.normal(0, 0.8, size=xs.shape)
    return out


def _write_tif(path: str, data: np.ndarray) -> None:
    import rasterio
    from rasterio.transform import from_origin

    tmp = f"{path}.{os.getpid()}.tmp"
    with rasterio.open(tmp, "w", driver="GTiff", width=GRID_SIZE, height=GRID_SIZE, count=data.shape[0],
                       dtype="float32", crs="EPSG:4326", compress="deflate", predictor=3,
                       transform=from_origin(GRID_WEST, GRID_NORTH, GRID_RES, GRID_RES)) as dst:
        dst.write(data)
    os.replace(tmp, path)  # atomic: two workers generating the same month never see half a file


def _month_days(year: int, month: int) -> list[date]:
    first = date(year, month, 1)
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return [first + timedelta(days=n) for n in range((nxt - first).days)]


def source_files(dataset_id: str, start: date, end: date) -> list[tuple[str, list[date]]]:
    """(file, dates of its bands) covering start..end, generating sample files when missing."""
    dataset = DATASETS[dataset_id]
    folder, out = cache_dir(dataset_id), []
    if dataset.native == "yearly":
        keys = [(str(y), [date(y, 1, 1)]) for y in range(start.year, end.year + 1)]
    else:
        keys, y, m = [], start.year, start.month
        while (y, m) <= (end.year, end.month):
            keys.append((f"{y:04d}-{m:02d}", _month_days(y, m)))
            y, m = y + (m == 12), m % 12 + 1
    for key, days in keys:
        path = os.path.join(folder, f"{key}.tif")
        if not os.path.exists(path):
            if not (dataset.sample_start <= days[0] and days[-1] <= dataset.sample_end):
                raise PermanentError(
                    f"No {dataset.title} data for {key} in the EO cache. The sample data covers "
                    f"{dataset.sample_start:%d %b %Y} to {dataset.sample_end:%d %b %Y}: choose a period inside it, "
                    f"or ask an administrator to add the source file for {key}.")
            _write_tif(path, _synthetic(dataset, key, days))
        out.append((path, days))
    return out


def read_period(dataset_id: str, start: date, end: date) -> tuple[np.ndarray, list[date], object]:
    """Stack of rasters (T, H, W) for each date in start..end (one per year for yearly data)."""
    import rasterio

    arrays, dates, transform = [], [], None
    for path, days in source_files(dataset_id, start, end):
        with rasterio.open(path) as src:
            transform = src.transform
            data = src.read(masked=False).astype("float64")
            nodata = src.nodata
        if nodata is not None:
            data[data == nodata] = np.nan
        for band, day in enumerate(days):
            if DATASETS[dataset_id].native == "yearly" or start <= day <= end:
                arrays.append(data[band])
                dates.append(day)
    return np.stack(arrays), dates, transform


def unit_masks(geometries: dict[int, dict], shape: tuple[int, int], transform) -> dict[int, np.ndarray]:
    """Flat pixel indices of each org unit: pixel centres inside its polygon (all touched pixels for a
    unit smaller than a pixel; the pixel under it for a point)."""
    from rasterio.features import geometry_mask
    from rasterio.transform import rowcol

    masks = {}
    for unit_id, geometry in geometries.items():
        if geometry.get("type") == "Point":
            row, col = rowcol(transform, *geometry["coordinates"][:2])
            inside = 0 <= row < shape[0] and 0 <= col < shape[1]
            masks[unit_id] = np.array([row * shape[1] + col]) if inside else np.array([], dtype=int)
            continue
        mask = geometry_mask([geometry], out_shape=shape, transform=transform, invert=True)
        if not mask.any():
            mask = geometry_mask([geometry], out_shape=shape, transform=transform, invert=True, all_touched=True)
        masks[unit_id] = np.flatnonzero(mask)
    return masks


REDUCERS = {"mean": np.nanmean, "sum": np.nansum, "min": np.nanmin, "max": np.nanmax}


def zonal_stat(raster: np.ndarray, pixels: np.ndarray, aggregation: str) -> float | None:
    values = raster.ravel()[pixels]
    if values.size == 0 or np.all(np.isnan(values)):
        return None
    return float(REDUCERS[aggregation](values))
