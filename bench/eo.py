"""Benchmark: the EO aggregate import's zonal statistics against a plain per-polygon rasterio mask.

    python bench/eo.py [--days 365] [--size 1000] [--units 5000] [--mask-days 3] [--data-dir DIR]

A year of daily CHIRPS-shaped GeoTIFFs (published names `chirps-v2.0.YYYY.MM.DD.tif`, float32, nodata
−9999 over a "sea" corner, 0.05° pixels: `--size` × `--size` over a country) aggregated to `--units`
Voronoi districts, monthly totals. Each variant runs in its own process, so each peak memory (max RSS)
is its own:

- ours: the import's own aggregate step (`eo_import._aggregate`: `eo_sources.rasters` reading the
  window of the districts, `eo_data.Zones` — exactextract coverage once per grid, then one gather and
  `bincount`s per raster);
- mask: for each file and each district, `rasterio.mask.mask(src, [polygon], crop=True)` and the mean
  of the valid pixels — timed over `--mask-days` files (it is slow) and extrapolated linearly to
  `--days` (it does the same work for every file).

Targets: ours ≥ 5× faster than the mask, peak memory under 1 GB. The files are generated once into
`--data-dir` (default /tmp/fieldflow-bench-eo) and reused.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WEST, NORTH, RES = 0.0, 50.0, 0.05


def _days(n: int) -> list[date]:
    return [date(2023, 1, 1) + timedelta(days=i) for i in range(n)]


def generate(folder: Path, days: int, size: int) -> list[str]:
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    folder.mkdir(parents=True, exist_ok=True)
    ys, xs = np.mgrid[0:size, 0:size] / size
    sea = (xs + ys) > 1.7  # a corner of nodata
    paths = []
    for day in _days(days):
        path = folder / f"chirps-v2.0.{day:%Y.%m.%d}.tif"
        paths.append(str(path))
        if path.exists():
            continue
        rng = np.random.default_rng(day.toordinal())
        wet = rng.random((size, size)) < 0.3 + 0.3 * ys
        rain = np.round(rng.gamma(0.8, 9.0, size=(size, size)) * wet, 2)
        rain[sea] = -9999.0
        with rasterio.open(f"{path}.tmp", "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                           crs="EPSG:4326", nodata=-9999.0, compress="deflate", tiled=True,
                           transform=from_origin(WEST, NORTH, RES, RES)) as dst:
            dst.write(rain.astype("float32"), 1)
        os.replace(f"{path}.tmp", path)
    return paths


def districts(n: int, size: int) -> list[dict]:
    import numpy as np
    from shapely import box
    from shapely.geometry import MultiPoint, mapping
    from shapely.ops import voronoi_diagram

    extent = size * RES
    bounds = box(WEST, NORTH - extent, WEST + extent, NORTH)
    points = MultiPoint(np.random.default_rng(7).uniform([WEST, NORTH - extent], [WEST + extent, NORTH], size=(n, 2)))
    cells = [cell.intersection(bounds) for cell in voronoi_diagram(points, envelope=bounds).geoms]
    return [mapping(cell.buffer(0)) for cell in cells if not cell.is_empty]


def run_ours(paths: list[str], units: list[dict], days: int) -> dict:
    from app.processes.eo_import import EoImportInputs, _aggregate

    class Quiet:
        job_id = "bench"

        def progress(self, *args, **kwargs):
            pass

        def log(self, *args, **kwargs):
            pass

    first, last = _days(days)[0], _days(days)[-1]
    whole_months_end = (last.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    if whole_months_end != last:  # totals need whole periods: bench over whole months only
        last = last.replace(day=1) - timedelta(days=1)
        paths = paths[:(last - first).days + 1]
    inputs = EoImportInputs.model_validate({"datasetId": "chirps-daily", "start": first.isoformat(), "end": last.isoformat(),
                                            "periodType": "MONTHLY", "orgUnitLevel": 1, "dataElement": "benchElemnt"})
    state = {"inputs": inputs, "extract_source_data": {"files": paths, "sample": False},
             "load_org_units": {"units": [{"id": i, "uid": f"U{i:010d}", "name": str(i), "geometry": g}
                                          for i, g in enumerate(units)]}}
    started = time.perf_counter()
    result = _aggregate(Quiet(), state)
    return {"seconds": time.perf_counter() - started, "files": len(paths), "rows": len(result["rows"]),
            "without_value": len(result["withoutValue"])}


def run_mask(paths: list[str], units: list[dict], mask_days: int, days: int) -> dict:
    import rasterio
    from rasterio.mask import mask

    sample = paths[:mask_days]
    started = time.perf_counter()
    means = []
    for path in sample:
        with rasterio.open(path) as src:
            for geometry in units:
                try:
                    data, _ = mask(src, [geometry], crop=True, filled=False)
                except ValueError:  # outside the raster
                    means.append(None)
                    continue
                valid = data.compressed()
                valid = valid[valid != src.nodata]
                means.append(float(valid.mean()) if valid.size else None)
    seconds = time.perf_counter() - started
    return {"seconds_measured": seconds, "files_measured": len(sample), "seconds": seconds * days / len(sample),
            "rows_per_file": sum(m is not None for m in means) // max(len(sample), 1)}


def child(args) -> int:
    paths = generate(Path(args.data_dir), args.days, args.size)
    units = districts(args.units, args.size)
    out = run_ours(paths, units, args.days) if args.only == "ours" else run_mask(paths, units, args.mask_days, args.days)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--mask-days", type=int, default=3)
    parser.add_argument("--data-dir", default="/tmp/fieldflow-bench-eo")
    parser.add_argument("--only", choices=("ours", "mask"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        return child(args)
    t = time.perf_counter()
    generate(Path(args.data_dir), args.days, args.size)
    print(f"data: {args.days} daily {args.size}×{args.size} GeoTIFFs in {args.data_dir} "
          f"(ready in {time.perf_counter() - t:.1f} s), {args.units} districts")
    results = {}
    for variant in ("ours", "mask"):
        cmd = [sys.executable, __file__, "--only", variant, "--days", str(args.days), "--size", str(args.size),
               "--units", str(args.units), "--mask-days", str(args.mask_days), "--data-dir", args.data_dir]
        results[variant] = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.splitlines()[-1])
    ours, plain = results["ours"], results["mask"]
    print(f"ours : {ours['seconds']:8.1f} s for {ours['files']} files ({ours['rows']} monthly values, "
          f"{ours['without_value']} districts without a value), peak {ours['peak_mb']:.0f} MB")
    print(f"mask : {plain['seconds']:8.1f} s for {args.days} files, extrapolated from {plain['seconds_measured']:.1f} s "
          f"over {plain['files_measured']} ({plain['rows_per_file']} values a file), peak {plain['peak_mb']:.0f} MB")
    speedup = plain["seconds"] * ours["files"] / args.days / ours["seconds"]
    print(f"speed-up: {speedup:.1f}× (target ≥ 5×); peak memory {ours['peak_mb']:.0f} MB (target < 1024 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
