"""EO source files as their producers publish them, and reading them into rasters.

| dataset | file (in `EO_CACHE_DIR/<dataset>/`, the drop folder) | download (when `EO_DOWNLOAD` is on) |
|---|---|---|
| chirps-daily | `chirps-v2.0.YYYY.MM.DD.tif` or `.tif.gz` (nodata −9999) | `EO_CHIRPS_DAILY_URL/YYYY/chirps-v2.0.YYYY.MM.DD.tif.gz` |
| chirps-monthly | `chirps-v2.0.YYYY.MM.tif` or `.tif.gz` | `EO_CHIRPS_MONTHLY_URL/chirps-v2.0.YYYY.MM.tif.gz` |
| era5-land-* | any `*.nc` as the CDS delivers it (`valid_time`/`latitude`/`longitude`, `t2m` K, `tp` m since 00 UTC), or `*.grib`/`*.grb`/`*.grib2` (cfgrib) | the CDS API at `EO_CDS_URL` with `EO_CDS_KEY`, through `cdsapi` (optional extra; see `eo_cds`) |
| worldpop-population | any `*_ppp_YYYY*.tif` (100 m or 1 km, nodata as in the file) | `EO_WORLDPOP_URL/YYYY/ISO3/iso3_ppp_YYYY_1km_Aggregated.tif` |

Rasters may be in any CRS: only the window covering the org units (their bounds reprojected to the
file's CRS) is read. When a file is missing, not downloadable, and `EO_SAMPLE_DATA` is on, a small
deterministic synthetic file in the same published format is written over the demo country (a
"sample"); the job says so.
"""
from __future__ import annotations

import glob
import hashlib
import os
import time
import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterator

import numpy as np
from flask import current_app

from app.services.processing import eo_cds
from app.services.processing.eo_data import DATASETS, Dataset
from app.services.processing.steps import PermanentError

CHIRPS_NODATA = -9999.0
SAMPLE_BOX = (16.5, 1.5, 23.5, 8.5)  # west, south, east, north: the demo country
SAMPLE_LAKE = (21.0, 4.0, 21.4, 4.4)  # nodata in the CHIRPS sample, as CHIRPS has over water
SAMPLE_RES = {"chirps": 0.05, "era5": 0.1, "worldpop": 0.025}


@dataclass
class Raster:
    day: date  # the day (first of the month or year for monthly or yearly data) it stands for
    data: np.ndarray  # float64, NaN where there is no data
    transform: object
    crs: object


@dataclass
class Sources:
    files: list[str]
    sample: bool  # some of them are the generated sample


def cache_dir(dataset_id: str) -> str:
    root = current_app.config.get("EO_CACHE_DIR") or os.path.join(current_app.instance_path, "eo_cache")
    path = os.path.join(root, dataset_id)
    os.makedirs(path, exist_ok=True)
    return path


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _months(start: date, end: date) -> list[date]:
    out, y, m = [], start.year, start.month
    while (y, m) <= (end.year, end.month):
        out.append(date(y, m, 1))
        y, m = y + (m == 12), m % 12 + 1
    return out


def _month_days(month: date) -> list[date]:
    return [d for d in _days(month, month + timedelta(days=30)) if d.month == month.month]


def _config(name: str, default=None):
    return current_app.config.get(name, default)


# --- finding, downloading or generating the files ---------------------------------------------

def chirps_name(dataset_id: str, day: date) -> str:
    return f"chirps-v2.0.{day:%Y.%m.%d}.tif" if dataset_id == "chirps-daily" else f"chirps-v2.0.{day:%Y.%m}.tif"


def _chirps_url(dataset_id: str, day: date) -> str:
    if dataset_id == "chirps-daily":
        return f"{_config('EO_CHIRPS_DAILY_URL').rstrip('/')}/{day.year}/{chirps_name(dataset_id, day)}.gz"
    return f"{_config('EO_CHIRPS_MONTHLY_URL').rstrip('/')}/{chirps_name(dataset_id, day)}.gz"


def _worldpop_url(year: int) -> str:
    iso3 = (_config("EO_WORLDPOP_COUNTRY") or "").upper()
    return f"{_config('EO_WORLDPOP_URL').rstrip('/')}/{year}/{iso3}/{iso3.lower()}_ppp_{year}_1km_Aggregated.tif"


def _download(url: str, path: str) -> bool:
    """Fetch `url` into `path` (atomically); False when the server has no such file (404)."""
    import requests

    with requests.get(url, stream=True, timeout=(10, 120)) as response:
        if response.status_code == 404:
            return False
        response.raise_for_status()  # 5xx and network errors: the step retries
        tmp = f"{path}.{os.getpid()}.part"
        with open(tmp, "wb") as fh:
            for chunk in response.iter_content(1 << 20):
                fh.write(chunk)
    os.replace(tmp, path)
    return True


def _in_sample(dataset: Dataset, first: date, last: date) -> bool:
    """Whether the sample covers a file of first..last (one that has begun: this year's population too)."""
    return bool(_config("EO_SAMPLE_DATA", True)) and dataset.sample_start <= first and first <= (
        dataset.sample_end or date.today())


def _missing(dataset: Dataset, what: list[str]) -> PermanentError:
    shown = ", ".join(what[:3]) + (f" and {len(what) - 3} more" if len(what) > 3 else "")
    download = ("set a CDS key (EO_CDS_KEY) and turn on downloads (EO_DOWNLOAD)" if dataset.id.startswith("era5-land")
                else "turn on downloads (EO_DOWNLOAD)")
    return PermanentError(
        f"No {dataset.title} data for {shown} in the EO cache. Put the files as published in the drop folder "
        f"for {dataset.id}, or {download}. The sample data covers "
        f"{dataset.sample_start:%d %b %Y} to {'today' if dataset.sample_end is None else f'{dataset.sample_end:%d %b %Y}'}.")


def resolve(dataset_id: str, start: date, end: date, bounds: tuple[float, float, float, float] | None = None,
            step=None) -> Sources:
    """The files covering start..end: found in the drop folder, downloaded, or generated as a sample.
    `bounds` (west, south, east, north) is the area a CDS request asks for; `step` (a StepContext)
    receives the download's log lines and paces its polling. Raises PermanentError naming what is missing."""
    dataset, folder = DATASETS[dataset_id], cache_dir(dataset_id)
    if dataset_id.startswith("era5-land"):
        return _resolve_era5(dataset, folder, start, end, bounds, step)
    if dataset_id == "worldpop-population":
        keys = [(str(y), date(y, 1, 1), date(y, 12, 31)) for y in range(start.year, end.year + 1)]
    elif dataset.native == "monthly":
        keys = [(f"{m:%Y-%m}", m, _months(m, m)[0]) for m in _months(start, end)]
    else:
        keys = [(f"{d:%Y-%m-%d}", d, d) for d in _days(start, end)]
    files, missing, sample = [], [], False
    for label, first, last in keys:
        path = _find(dataset, folder, first)
        if path is None and _config("EO_DOWNLOAD"):
            target = _download_target(dataset, folder, first)
            if _download(target[0], target[1]):
                path = target[1]
        if path is None and _in_sample(dataset, first, last):
            path, sample = _write_sample(dataset, folder, first), True
        if path is None:
            missing.append(label)
        files.append(path)
    if missing:
        raise _missing(dataset, missing)
    return Sources(files, sample)


def _find(dataset: Dataset, folder: str, first: date) -> str | None:
    if dataset.id == "worldpop-population":
        found = sorted(glob.glob(os.path.join(folder, f"*_ppp_{first.year}*.tif")))
        return found[0] if found else None
    name = os.path.join(folder, chirps_name(dataset.id, first))
    return next((p for p in (name, name + ".gz") if os.path.exists(p)), None)


def _download_target(dataset: Dataset, folder: str, first: date) -> tuple[str, str]:
    if dataset.id == "worldpop-population":
        url = _worldpop_url(first.year)
        return url, os.path.join(folder, url.rsplit("/", 1)[-1])
    return _chirps_url(dataset.id, first), os.path.join(folder, chirps_name(dataset.id, first) + ".gz")


ERA5_FILES = ("*.nc", "*.grib", "*.grb", "*.grib2")
ERA5_SHORT_NAMES = {"t2m": "2t", "tp": "tp"}  # CF (NetCDF, cfgrib) name → GRIB shortName
ERA5_NAMES = {"temperature": "t2m", "precipitation": "tp"}  # our variable → its CF name


def _era5_files(folder: str) -> list[str]:
    return sorted(p for pattern in ERA5_FILES for p in glob.glob(os.path.join(folder, pattern)))


def _era5_times(path: str, name: str) -> np.ndarray:
    da = _era5_array(path, name)
    if da is None:
        return np.array([], dtype="datetime64[s]")
    try:
        return da["valid_time"].values.astype("datetime64[s]")
    finally:
        da.close()


def _resolve_era5(dataset: Dataset, folder: str, start: date, end: date, bounds, step) -> Sources:
    """ERA5-Land files covering the hours of start..end (and 00 UTC of the day after, which holds the
    last day's accumulated precipitation): the drop folder's, then the CDS's (one request per month of
    missing days), then the sample's."""
    files = _era5_files(folder)
    name = ERA5_NAMES[dataset.variable]
    have = {t.astype(datetime).date() for p in files for t in _era5_times(p, name)}
    need = _days(start, end + timedelta(days=1 if dataset.variable == "precipitation" else 0))
    sample = False
    for month in _months(start, need[-1]):
        lacking = [d for d in need if (d.year, d.month) == (month.year, month.month) and d not in have]
        if lacking and bounds is not None and eo_cds.configured():
            files.append(eo_cds.download(
                dataset.variable, lacking, bounds, folder,
                log=step.log if step else (lambda message, level="info": None),
                sleep=step.sleep if step else time.sleep,
                check=lambda path, days=lacking: _check_era5(path, name, days)))
            have.update(lacking)
            continue
        if lacking and _in_sample(dataset, month, month):
            path = os.path.join(folder, f"era5-land-sample-{month:%Y-%m}.nc")
            _write_era5_sample(path, month)
            files.append(path)
            have.update(lacking)
            sample = True
    missing = [f"{d:%Y-%m-%d}" for d in need if d not in have]
    if missing:
        raise _missing(dataset, missing)
    return Sources(sorted(set(files)), sample)


def _check_era5(path: str, name: str, days: list[date]) -> None:
    """A file from the CDS must be NetCDF holding `name` on each of `days`."""
    try:
        ds = _open_nc(path)
    except Exception:  # noqa: BLE001 — whatever the reader says, the file is not what was asked for
        raise PermanentError("The CDS delivered a file that is not NetCDF (the request asks for data_format "
                             "netcdf, download_format unarchived)") from None
    try:
        if name not in ds.variables or "valid_time" not in ds.variables:
            raise PermanentError(f"The CDS delivered a file without {name} over valid_time")
        delivered = {t.astype(datetime).date() for t in ds["valid_time"].values.astype("datetime64[s]")}
        lacking = [f"{d:%Y-%m-%d}" for d in days if d not in delivered]
        if lacking:
            raise PermanentError(f"The CDS delivered no {name} for {', '.join(lacking[:5])}")
    finally:
        ds.close()


# --- the sample, in the published formats ------------------------------------------------------

def _seed(*parts) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8], "little")


def _sample_grid(kind: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Pixel-centre longitudes (west→east) and latitudes (north→south) over the demo country."""
    west, south, east, north = SAMPLE_BOX
    res = SAMPLE_RES[kind]
    lons = west + res / 2 + res * np.arange(round((east - west) / res))
    lats = north - res / 2 - res * np.arange(round((north - south) / res))
    return lons, lats, res


def _sample_field(kind: str, day: date, lons, lats) -> np.ndarray:
    rng = np.random.default_rng(_seed(kind, day.isoformat()))
    xs, ys = np.meshgrid((lons - SAMPLE_BOX[0]) / 7, (SAMPLE_BOX[3] - lats) / 7)
    season = np.sin(2 * np.pi * (day.timetuple().tm_yday - 80) / 365)
    if kind == "population":
        hubs = np.random.default_rng(_seed(kind, day.year)).uniform(0.2, 0.8, size=(6, 2))
        density = sum(np.exp(-((xs - hx) ** 2 + (ys - hy) ** 2) / 0.01) for hx, hy in hubs)
        return 5 + 300 * density * rng.uniform(0.9, 1.1, size=xs.shape)
    if kind == "precipitation":
        wet = np.clip(0.3 + 0.4 * season + 0.3 * ys - 0.2 * xs, 0.02, 0.95)
        return rng.gamma(0.8, 9.0, size=xs.shape) * (rng.random(xs.shape) < wet)
    return 26 + 3 * season - 6 * ys + rng.normal(0, 0.8, size=xs.shape)  # °C


def _write_tif(path: str, data: np.ndarray, west: float, north: float, res: float, nodata: float) -> None:
    import rasterio
    from rasterio.transform import from_origin

    tmp = f"{path}.{os.getpid()}.tmp"
    with rasterio.open(tmp, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype="float32", crs="EPSG:4326", nodata=nodata, compress="deflate",
                       transform=from_origin(west, north, res, res)) as dst:
        dst.write(data.astype("float32"), 1)
    os.replace(tmp, path)  # atomic: two workers generating the same file never see half of it


def _write_sample(dataset: Dataset, folder: str, first: date) -> str:
    if dataset.id == "worldpop-population":
        lons, lats, res = _sample_grid("worldpop")
        path = os.path.join(folder, f"sample_ppp_{first.year}.tif")
        _write_tif(path, _sample_field("population", first, lons, lats), SAMPLE_BOX[0], SAMPLE_BOX[3], res, -99999.0)
        return path
    lons, lats, res = _sample_grid("chirps")
    days = _month_days(first) if dataset.native == "monthly" else [first]
    data = sum(_sample_field("precipitation", d, lons, lats) for d in days)
    lake = ((lons[None, :] > SAMPLE_LAKE[0]) & (lons[None, :] < SAMPLE_LAKE[2])
            & (lats[:, None] > SAMPLE_LAKE[1]) & (lats[:, None] < SAMPLE_LAKE[3]))
    data = np.where(lake, CHIRPS_NODATA, data)
    path = os.path.join(folder, chirps_name(dataset.id, first))
    _write_tif(path, data, SAMPLE_BOX[0], SAMPLE_BOX[3], res, CHIRPS_NODATA)
    return path


def _write_era5_sample(path: str, month: date) -> None:
    """A month of 6-hourly ERA5-Land as the CDS delivers it (plus 00 UTC of the next month's first day)."""
    import xarray as xr

    lons, lats, _ = _sample_grid("era5")
    days = _month_days(month)
    times, t2m, tp = [], [], []
    for day in days + [days[-1] + timedelta(days=1)]:
        mean = _sample_field("temperature", day, lons, lats) + 273.15
        rain_m = _sample_field("precipitation", day - timedelta(days=1), lons, lats) / 1000  # yesterday's total
        today_m = _sample_field("precipitation", day, lons, lats) / 1000
        for hour in (0, 6, 12, 18) if day in days else (0,):
            times.append(np.datetime64(datetime(day.year, day.month, day.day, hour)))
            t2m.append(mean + 3 * np.sin(2 * np.pi * (hour - 9) / 24))
            tp.append(rain_m if hour == 0 else today_m * hour / 24)
    ds = xr.Dataset(
        {"t2m": (("valid_time", "latitude", "longitude"), np.array(t2m, dtype="float32"),
                 {"units": "K", "long_name": "2 metre temperature", "GRIB_paramId": 167}),
         "tp": (("valid_time", "latitude", "longitude"), np.array(tp, dtype="float32"),
                {"units": "m", "long_name": "Total precipitation", "GRIB_paramId": 228})},
        coords={"valid_time": np.array(times, dtype="datetime64[ns]"),
                "latitude": ("latitude", lats, {"units": "degrees_north"}),
                "longitude": ("longitude", lons % 360, {"units": "degrees_east"})},
        attrs={"GRIB_centre": "ecmf", "Conventions": "CF-1.7", "institution": "European Centre for Medium-Range Weather Forecasts"})
    tmp = f"{path}.{os.getpid()}.tmp"
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)


# --- reading ------------------------------------------------------------------------------------

def rasters(dataset_id: str, files: list[str], start: date, end: date,
            bounds: tuple[float, float, float, float]) -> Iterator[Raster]:
    """The rasters of start..end (one a day, month or year as the dataset comes), each cut to the
    window covering `bounds` (west, south, east, north in EPSG:4326) and with NaN for nodata."""
    dataset = DATASETS[dataset_id]
    if dataset_id.startswith("era5-land"):
        yield from _era5_rasters(dataset, files, start, end, bounds)
        return
    for path in files:
        day = _tif_day(dataset, path)
        yield _read_tif(path, day, bounds, CHIRPS_NODATA if dataset_id.startswith("chirps") else None)


def _tif_day(dataset: Dataset, path: str) -> date:
    name = os.path.basename(path)
    if dataset.id == "worldpop-population":
        year = name.split("_ppp_", 1)[1][:4]
        return date(int(year), 1, 1)
    parts = name.split(".")  # chirps-v2.0.YYYY.MM[.DD].tif[.gz]
    return date(int(parts[2]), int(parts[3]), int(parts[4]) if dataset.native == "daily" else 1)


def _read_tif(path: str, day: date, bounds, default_nodata: float | None) -> Raster:
    import rasterio
    from rasterio.warp import transform_bounds
    from rasterio.windows import Window, from_bounds

    with rasterio.open(f"/vsigzip/{path}" if path.endswith(".gz") else path) as src:
        crs = src.crs or "EPSG:4326"
        geographic = src.crs is None or src.crs.to_epsg() == 4326
        west, south, east, north = bounds if geographic else transform_bounds("EPSG:4326", crs, *bounds, densify_pts=21)
        full = Window(0, 0, src.width, src.height)
        with warnings.catch_warnings():  # rasterio 1.4 multiplies affines with `*` (affine 3 prefers `@`)
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            try:
                window = from_bounds(west, south, east, north, src.transform)
                window = Window(window.col_off - 1, window.row_off - 1, window.width + 2, window.height + 2)
                window = window.round_offsets().round_lengths().intersection(full)
            except Exception:  # noqa: BLE001 — rasterio raises WindowError when nothing overlaps
                window = Window(0, 0, 0, 0)
            if window.width <= 0 or window.height <= 0:
                return Raster(day, np.full((1, 1), np.nan), src.transform, crs)
            transform = src.window_transform(window)
        data = src.read(1, window=window).astype("float64")
        nodata = src.nodata if src.nodata is not None else default_nodata
    if nodata is not None:
        data[data == nodata] = np.nan
    data, transform = _north_up(data, transform)
    return Raster(day, data, transform, crs)


def _north_up(data: np.ndarray, transform):
    """A south-up raster (positive pixel height) flipped north-up, with its transform."""
    from affine import Affine

    if transform.e <= 0:
        return data, transform
    rows = data.shape[0]
    return data[::-1], Affine(transform.a, transform.b, transform.c, transform.d, -transform.e,
                              transform.f + transform.e * rows)


def _open_nc(path: str):
    import xarray as xr

    ds = xr.open_dataset(path, engine="h5netcdf")
    renames = {old: new for old, new in (("time", "valid_time"), ("lat", "latitude"), ("lon", "longitude"))
               if old in ds.variables and new not in ds.variables}
    return ds.rename(renames) if renames else ds


def _era5_array(path: str, name: str):
    """The variable `name` of an ERA5-Land file as (valid_time, latitude, longitude), lazily; None when
    the file has none. NetCDF as the CDS delivers it, or GRIB through cfgrib (its time × step, as
    accumulations come, flattened to valid times)."""
    import xarray as xr

    if path.endswith(".nc"):
        ds = _open_nc(path)
        if name not in ds.variables:
            ds.close()
            return None
        return ds[name]
    try:
        import cfgrib  # noqa: F401 — the engine xarray looks up
    except ImportError:
        raise PermanentError("GRIB files need cfgrib (pip install cfgrib): ask the CDS for NetCDF, or install it") from None
    ds = xr.open_dataset(path, engine="cfgrib", backend_kwargs={
        "filter_by_keys": {"shortName": ERA5_SHORT_NAMES[name]}, "indexpath": ""})
    if name not in ds.variables:
        ds.close()
        return None
    da = ds[name]
    stacked = [d for d in ("time", "step") if d in da.dims]
    if not stacked:
        return da.drop_vars([c for c in da.coords if c not in ("latitude", "longitude")]).expand_dims(
            valid_time=[da["valid_time"].values])
    da = da.stack(_valid=stacked)
    valid = np.asarray(da["valid_time"].values)
    da = da.drop_vars([c for c in da.coords if c not in ("latitude", "longitude")])
    return da.rename({"_valid": "valid_time"}).assign_coords(valid_time=valid).transpose("valid_time", "latitude", "longitude")


def _era5_rasters(dataset: Dataset, files: list[str], start: date, end: date, bounds) -> Iterator[Raster]:
    import xarray as xr
    from rasterio.transform import from_origin

    name = "t2m" if dataset.variable == "temperature" else "tp"
    opened = [da for da in (_era5_array(p, name) for p in files) if da is not None]
    try:
        if not opened:
            raise PermanentError(f"No variable {name} in the ERA5-Land files of the drop folder")
        da = xr.concat(opened, dim="valid_time") if len(opened) > 1 else opened[0]
        da = da.drop_duplicates("valid_time").sortby("valid_time")
        lon = da["longitude"].values
        if lon.max() > 180:  # 0–360 → −180–180
            da = da.assign_coords(longitude=((lon + 180) % 360) - 180)
        da = da.sortby("longitude").sortby("latitude", ascending=False)
        lons, lats = da["longitude"].values, da["latitude"].values
        dx, dy = float(lons[1] - lons[0]), float(lats[0] - lats[1])
        west, south, east, north = bounds
        cols = np.flatnonzero((lons >= west - dx) & (lons <= east + dx))
        rows = np.flatnonzero((lats >= south - dy) & (lats <= north + dy))
        if not cols.size or not rows.size:
            cols, rows = np.arange(1), np.arange(1)
        da = da.isel(longitude=slice(cols[0], cols[-1] + 1), latitude=slice(rows[0], rows[-1] + 1))
        transform = from_origin(float(da["longitude"][0]) - dx / 2, float(da["latitude"][0]) + dy / 2, dx, dy)
        units = (da.attrs.get("units") or "").strip()
        times = da["valid_time"].values.astype("datetime64[s]")
        for day in _days(start, end):
            day0 = np.datetime64(datetime(day.year, day.month, day.day))
            if name == "t2m":
                hours = np.flatnonzero((times >= day0) & (times < day0 + np.timedelta64(1, "D")))
                with warnings.catch_warnings():  # "mean of empty slice": all-nodata pixels stay NaN
                    warnings.simplefilter("ignore", RuntimeWarning)
                    data = np.nanmean(da.isel(valid_time=hours).values.astype("float64"), axis=0)
                data = data - 273.15 if units in ("K", "kelvin", "Kelvin") else data
            else:  # accumulated since 00 UTC: the day's total is the value at 00 UTC of the next day
                at = np.flatnonzero(times == day0 + np.timedelta64(1, "D"))
                data = da.isel(valid_time=int(at[0])).values.astype("float64")
                data = data * 1000 if units in ("m", "metres", "meters") else data
            yield Raster(day, data, transform, "EPSG:4326")
    finally:
        for array in opened:
            array.close()

