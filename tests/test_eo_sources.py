"""EO sources as published, and the numbers they give: each test writes small files in the real
format (names, variables, attributes, units, nodata, CRS) and checks the values the import would
send against numbers worked out by hand. One test per bug of issue 16."""
import gzip
import os
from datetime import datetime

import numpy as np
import pytest

from app.services.processing import eo_data
from app.services.processing import job_status as st
from app.services.platform.errors import ValidationFailed
from tests.eo_fixtures import box as _box

MERC = 20037508.342789244 / 180  # EPSG:3857 metres per degree of longitude


def _tif(path, data, west, north, res, crs="EPSG:4326", nodata=-9999.0, yres=None):
    import rasterio
    from rasterio.transform import from_origin

    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
                       crs=crs, nodata=nodata, transform=from_origin(west, north, res, yres or res)) as dst:
        dst.write(np.asarray(data, dtype="float32"), 1)


def _gzip(path):
    with open(path, "rb") as src, gzip.open(path + ".gz", "wb") as dst:
        dst.write(src.read())
    os.remove(path)


def test_values_are_written_exactly_with_fixed_decimals():
    assert eo_data.format_value(2743500.0, 0) == "2743500"  # was "2.7435e+06"
    assert eo_data.format_value(123456789.126, 2) == "123456789.13"
    assert eo_data.format_value(0.1 + 0.2, 2) == "0.30"
    assert eo_data.format_value(-0.001, 2) == "0.00"  # never "-0.00"
    assert eo_data.format_value(1e-7, 2) == "0.00" and eo_data.format_value(-3.456, 1) == "-3.5"


def test_a_single_day_chirps_file_gz_with_nodata_gives_areal_means_and_reports_the_lake(app, db, eo, run_worker, client):
    """chirps-v2.0.2021.03.05.tif.gz, 1° pixels for readability: row 0 = [2, 4, 6, 8], row 1 = [-9999 ×2, 10, 12].
    A district over the two nodata pixels has no value (was 0); one over a nodata and a valid pixel has
    the valid pixel's value (was halved); one over half of each of two pixels has their mean."""
    folder = eo.dataset_dir("chirps-daily")
    data = np.array([[2, 4, 6, 8], [-9999, -9999, 10, 12]])
    path = str(folder / "chirps-v2.0.2021.03.05.tif")
    _tif(path, data, 10, 12, 1.0)
    _gzip(path)
    eo.district("Lake0000001", _box(10, 10, 12, 11), "Lake district")
    eo.district("Shore000001", _box(11, 10, 13, 11))
    eo.district("Half0000001", _box(10.5, 11, 12.5, 12))  # ½ of 2, all of 4, ½ of 6 → (1 + 4 + 3) / 2
    eo.district("Town0000001", _box(13.2, 11.2, 13.4, 11.4))  # inside one pixel (8)
    job = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-05")
    assert job.status == st.SUCCESSFUL, job.message
    assert eo.values(client, job) == {("Shore000001", "20210305"): "10.00", ("Half0000001", "20210305"): "4.00",
                                      ("Town0000001", "20210305"): "8.00"}
    assert [(u["orgUnit"], u["reason"]) for u in job.results["orgUnitsWithoutValue"]] == [("Lake0000001", "no valid pixel")]
    assert job.results["sampleData"] is False and job.results["rowCount"] == 3


def test_chirps_precipitation_is_the_sum_over_days_of_areal_means_not_a_sum_over_pixels(app, db, eo, run_worker, client):
    """A month of daily files: on day d every pixel has d mm. Whatever the district's size, its
    monthly total is 1 + 2 + … + 30 = 465 mm (a sum over pixels grew with the district)."""
    folder = eo.dataset_dir("chirps-daily")
    for d in range(1, 31):
        _tif(str(folder / f"chirps-v2.0.2021.04.{d:02d}.tif"), np.full((4, 4), d), 10, 12, 0.5)
    eo.district("Small000001", _box(10, 11.5, 10.5, 12))
    eo.district("Large000001", _box(10, 10, 12, 12))
    job = eo.run(run_worker, datasetId="chirps-daily", start="2021-04-01", end="2021-04-30", periodType="MONTHLY")
    assert job.status == st.SUCCESSFUL, job.message
    assert eo.values(client, job) == {("Small000001", "202104"): "465.00", ("Large000001", "202104"): "465.00"}
    with pytest.raises(ValidationFailed) as refused:  # a sum over pixels (the seeded schedule's) is refused
        eo.run(run_worker, datasetId="chirps-daily", start="2021-04-01", end="2021-04-30", aggregation="sum")
    assert "a sum over pixels grows with the district's size" in refused.value.details["aggregation"][0]
    with pytest.raises(ValidationFailed) as partial:  # a monthly total of half a month would be wrong
        eo.run(run_worker, datasetId="chirps-daily", start="2021-04-01", end="2021-04-15", periodType="MONTHLY")
    assert "whole periods" in partial.value.details["periodType"][0]


def test_chirps_monthly_published_gz(app, db, eo, run_worker, client):
    folder = eo.dataset_dir("chirps-monthly")
    for month, value in ((1, 100.25), (2, 50.5)):
        path = str(folder / f"chirps-v2.0.2021.{month:02d}.tif")
        _tif(path, np.full((2, 2), value), 10, 12, 1.0)
        _gzip(path)
    eo.district("Dist0000001", _box(10, 10, 12, 12))
    job = eo.run(run_worker, datasetId="chirps-monthly", start="2021-01-01", end="2021-02-28")
    assert job.status == st.SUCCESSFUL, job.message
    assert eo.values(client, job) == {("Dist0000001", "202101"): "100.25", ("Dist0000001", "202102"): "50.50"}


def _era5(path, lons, lats, times, t2m, tp):
    import xarray as xr

    xr.Dataset({"t2m": (("valid_time", "latitude", "longitude"), np.asarray(t2m, dtype="float32"), {"units": "K"}),
                "tp": (("valid_time", "latitude", "longitude"), np.asarray(tp, dtype="float32"), {"units": "m"})},
               coords={"valid_time": np.array(times, dtype="datetime64[ns]"), "latitude": lats, "longitude": lons,
                       "number": 0}).to_netcdf(path, engine="h5netcdf")


def test_era5_land_netcdf_as_the_cds_delivers_it(app, db, eo, run_worker, client):
    """valid_time/latitude/longitude, longitudes 0–360 (a district west of Greenwich at 359.x),
    latitudes north→south, t2m in K every 6 h, tp in m accumulated since 00 UTC."""
    folder = eo.dataset_dir("era5-land-temperature")
    lons, lats = np.array([359.8, 359.9, 0.0, 0.1]), np.array([10.1, 10.0])
    hours = [datetime(2021, 6, 1, h) for h in (0, 6, 12, 18)] + [datetime(2021, 6, 2, 0)]
    t2m = [np.full((2, 4), k) for k in (290.15, 296.15, 302.15, 296.15, 280.0)]  # mean of 1 Jun: 296.15 K = 23 °C
    tp = [np.full((2, 4), m) for m in (0.9, 0.002, 0.005, 0.007, 0.0125)]  # 1 Jun total: 12.5 mm, at 2 Jun 00 UTC
    _era5(str(folder / "data_stream-oper_stepType-instant.nc"), lons, lats, hours, t2m, tp)
    os.makedirs(eo.dataset_dir("era5-land-precipitation"), exist_ok=True)
    os.link(folder / "data_stream-oper_stepType-instant.nc", eo.dataset_dir("era5-land-precipitation") / "era5.nc")
    eo.district("West0000001", _box(-0.25, 9.95, -0.05, 10.15))
    eo.district("East0000001", _box(0.0, 9.95, 0.15, 10.15))
    temperature = eo.run(run_worker, datasetId="era5-land-temperature", start="2021-06-01", end="2021-06-01")
    assert temperature.status == st.SUCCESSFUL, temperature.message
    assert eo.values(client, temperature) == {("West0000001", "20210601"): "23.00", ("East0000001", "20210601"): "23.00"}
    rain = eo.run(run_worker, datasetId="era5-land-precipitation", start="2021-06-01", end="2021-06-01",
                  dataElement="eoElement02")
    assert rain.status == st.SUCCESSFUL, rain.message
    assert eo.values(client, rain) == {("West0000001", "20210601"): "12.50", ("East0000001", "20210601"): "12.50"}
    # 2 Jun's total needs 3 Jun 00 UTC, which is not there: missing, named, not guessed
    short = eo.run(run_worker, datasetId="era5-land-precipitation", start="2021-06-02", end="2021-06-02")
    assert short.status == st.FAILED and "2021-06-03" in short.message


def test_worldpop_in_a_projected_crs_sums_people_with_partial_pixels(app, db, eo, run_worker, client):
    """A WorldPop-like GeoTIFF in EPSG:3857 (it "succeeded" with 0 rows): 1° wide pixels of 1,371,750
    people. A district over 2 whole pixels has 2,743,500 people, written "2743500" (was "2.7435e+06");
    one over half a pixel has 685,875."""
    from rasterio.warp import transform as reproject

    folder = eo.dataset_dir("worldpop-population")
    _, (north, south) = reproject("EPSG:4326", "EPSG:3857", [0, 0], [12, 11])
    _tif(str(folder / "caf_ppp_2020_1km_Aggregated.tif"), np.full((1, 4), 1371750.0), 10 * MERC, north, MERC,
         crs="EPSG:3857", nodata=-99999.0, yres=north - south)
    eo.district("Two00000001", _box(10, 11, 12, 12))
    eo.district("Half0000001", _box(13.5, 11, 14, 12))
    eo.district(None, _box(12, 11, 13, 12), "Unmatched")
    job = eo.run(run_worker, datasetId="worldpop-population", start="2020-01-01", end="2020-12-31")
    assert job.status == st.SUCCESSFUL, job.message
    assert eo.values(client, job) == {("Two00000001", "2020"): "2743500", ("Half0000001", "2020"): "685875"}
    assert [u["name"] for u in job.results["orgUnitsWithoutUid"]] == ["Unmatched"]  # reported, never sent as "3"


def test_missing_files_are_named_and_the_sample_is_in_the_published_format(app, db, eo, run_worker):
    eo.district("Dist0000001", _box(18, 3, 20, 5))
    missing = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-06")
    assert missing.status == st.FAILED and "2021-03-05, 2021-03-06" in missing.message
    app.config["EO_SAMPLE_DATA"] = True
    sample = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-06")
    assert sample.status == st.SUCCESSFUL and sample.results["sampleData"] is True
    assert sorted(os.listdir(eo.folder / "chirps-daily")) == ["chirps-v2.0.2021.03.05.tif", "chirps-v2.0.2021.03.06.tif"]
    era5 = eo.run(run_worker, datasetId="era5-land-temperature", start="2021-03-31", end="2021-03-31")
    assert era5.status == st.SUCCESSFUL, era5.message
    assert all(15 < float(v["value"]) < 35 for v in eo.preview(era5)["dataValues"])  # °C, not K


@pytest.fixture
def file_server(tmp_path_factory):
    """A loopback HTTP server over a folder laid out like CHC's and WorldPop's servers."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    root = tmp_path_factory.mktemp("published")
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(5)


def test_chirps_and_worldpop_are_downloaded_from_their_published_layouts(app, db, eo, run_worker, client, file_server):
    root, url = file_server
    daily = root / "CHIRPS-2.0" / "global_daily" / "tifs" / "p05" / "2021"
    daily.mkdir(parents=True)
    _tif(str(daily / "chirps-v2.0.2021.03.05.tif"), np.full((2, 2), 7.25), 10, 12, 1.0)
    _gzip(str(daily / "chirps-v2.0.2021.03.05.tif"))
    pop = root / "Global_2000_2020_1km" / "2020" / "CAF"
    pop.mkdir(parents=True)
    _tif(str(pop / "caf_ppp_2020_1km_Aggregated.tif"), np.full((2, 2), 250.0), 10, 12, 1.0, nodata=-99999.0)
    app.config.update(EO_DOWNLOAD=True, EO_CHIRPS_DAILY_URL=f"{url}/CHIRPS-2.0/global_daily/tifs/p05",
                      EO_WORLDPOP_URL=f"{url}/Global_2000_2020_1km", EO_WORLDPOP_COUNTRY="CAF")
    eo.district("Dist0000001", _box(10, 10, 11.5, 12))
    rain = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-05", end="2021-03-05")
    assert rain.status == st.SUCCESSFUL, rain.message
    assert eo.values(client, rain) == {("Dist0000001", "20210305"): "7.25"}
    assert os.listdir(eo.folder / "chirps-daily") == ["chirps-v2.0.2021.03.05.tif.gz"]  # kept: the next run reads it
    people = eo.run(run_worker, datasetId="worldpop-population", start="2020-01-01", end="2020-12-31")
    assert people.status == st.SUCCESSFUL, people.message
    assert eo.values(client, people) == {("Dist0000001", "2020"): "750"}  # 3 pixels of 250
    absent = eo.run(run_worker, datasetId="chirps-daily", start="2021-03-06", end="2021-03-06")  # a 404
    assert absent.status == st.FAILED and "2021-03-06" in absent.message


def _grib(path, lons, lats, messages):
    """GRIB 1 messages as ERA5-Land comes from the CDS: (shortName, date, hour, step, values)."""
    import eccodes

    with open(path, "wb") as fh:
        for short_name, day, hour, step, values in messages:
            gid = eccodes.codes_grib_new_from_samples("regular_ll_sfc_grib1")
            for key, value in (("Ni", len(lons)), ("Nj", len(lats)),
                               ("latitudeOfFirstGridPointInDegrees", float(lats[0])),
                               ("latitudeOfLastGridPointInDegrees", float(lats[-1])),
                               ("longitudeOfFirstGridPointInDegrees", float(lons[0])),
                               ("longitudeOfLastGridPointInDegrees", float(lons[-1])),
                               ("iDirectionIncrementInDegrees", float(lons[1] - lons[0])),
                               ("jDirectionIncrementInDegrees", float(lats[0] - lats[1])),
                               ("shortName", short_name), ("dataDate", int(day.strftime("%Y%m%d"))),
                               ("dataTime", hour * 100)):
                eccodes.codes_set(gid, key, value)
            if short_name == "tp":
                eccodes.codes_set(gid, "stepType", "accum")
                eccodes.codes_set(gid, "startStep", 0)
            eccodes.codes_set(gid, "endStep", step)
            eccodes.codes_set_values(gid, np.asarray(values, dtype="float64").ravel())
            eccodes.codes_write(gid, fh)
            eccodes.codes_release(gid)


def test_era5_land_grib_through_cfgrib(app, db, eo, run_worker, client):
    """The same numbers from GRIB: t2m every 6 h (K), tp accumulated from 00 UTC with steps 6..24 h."""
    pytest.importorskip("cfgrib")
    from datetime import date as day_

    lons, lats = np.array([10.0, 10.1, 10.2]), np.array([5.1, 5.0])
    d = day_(2021, 7, 1)
    messages = [("2t", d, h, 0, np.full((2, 3), k)) for h, k in ((0, 300.15), (6, 298.15), (12, 306.15), (18, 300.15))]
    messages += [("tp", d, 0, step, np.full((2, 3), m)) for step, m in ((6, 0.001), (12, 0.002), (18, 0.004), (24, 0.0085))]
    for dataset in ("era5-land-temperature", "era5-land-precipitation"):
        _grib(str(eo.dataset_dir(dataset) / "era5-land.grib"), lons, lats, messages)
    eo.district("Dist0000001", _box(9.95, 4.95, 10.25, 5.15))
    temperature = eo.run(run_worker, datasetId="era5-land-temperature", start="2021-07-01", end="2021-07-01")
    assert temperature.status == st.SUCCESSFUL, temperature.message
    assert eo.values(client, temperature) == {("Dist0000001", "20210701"): "28.00"}  # 301.15 K
    rain = eo.run(run_worker, datasetId="era5-land-precipitation", start="2021-07-01", end="2021-07-01")
    assert rain.status == st.SUCCESSFUL, rain.message
    assert eo.values(client, rain) == {("Dist0000001", "20210701"): "8.50"}  # step 24 = 2 Jul 00 UTC
    assert not [n for n in os.listdir(eo.dataset_dir("era5-land-temperature")) if n.endswith(".idx")]


def test_zones_min_max_points_and_units_off_the_grid():
    from rasterio.transform import from_origin

    raster = np.array([[1.0, 5.0, np.nan], [3.0, np.nan, 9.0]])
    zones = eo_data.Zones([_box(0, 0, 2, 2), {"type": "Point", "coordinates": [2.5, 0.5]}, _box(0, 1, 1, 2),
                           _box(1, 0, 2, 1), _box(40, 40, 41, 41)], from_origin(0, 2, 1, 1), raster.shape)
    assert zones.reduce(raster, "min")[:2].tolist() == [1.0, 9.0] and zones.reduce(raster, "max")[:2].tolist() == [5.0, 9.0]
    means = zones.reduce(raster, "mean")
    assert means[0] == 3.0 and means[2] == 1.0  # (1 + 5 + 3) / 3: the nodata pixel has no weight
    assert np.isnan(means[3]) and np.isnan(means[4])  # only nodata / off the grid: no value
    assert np.isnan(zones.reduce(raster, "max")[3]) and np.isnan(zones.reduce(raster, "sum")[4])
