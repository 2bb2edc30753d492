"""ERA5-Land downloaded from the Copernicus CDS through the official client (`cdsapi`), against a
loopback double that answers its calls as the CDS does: the numbers imported are checked against
values worked out by hand, a failed CDS job fails ours in plain words with nothing left in the
drop folder, and the key shows nowhere."""
import logging
import os
import sys
from datetime import datetime

import numpy as np
import pytest

from app.config import ConfigError, load_config
from app.models import User
from app.services.processing import job_status as st
from tests.cds_double import KEY
from tests.eo_fixtures import box


def _at(lats, lons, lat, lon):
    return np.ix_(np.isclose(lats, lat), np.isclose(lons, lon))


def t2m(name, t, lats, lons):
    """K: 15 °C + ½ °C per UTC hour (daily mean +5.75) + 0.1 °C per day of the month, and +1 °C at
    (5.1 N, 10.1 E), +3 °C at (5.1 N, 10.4 E). tp: at 00 UTC of day d, 1 mm per day of the month of d − 1."""
    when = t.astype(datetime)
    if name == "tp":
        previous = (t - np.timedelta64(1, "D")).astype(datetime)
        return np.full((len(lats), len(lons)), 0.001 * previous.day)
    field = np.full((len(lats), len(lons)), 273.15 + 15 + 0.5 * when.hour + 0.1 * when.day)
    field[_at(lats, lons, 5.1, 10.1)] += 1
    field[_at(lats, lons, 5.1, 10.4)] += 3
    return field


@pytest.fixture
def cds(app, eo, cds_double):
    cds_double.field = t2m
    app.config.update(EO_DOWNLOAD=True, EO_CDS_URL=cds_double.url, EO_CDS_KEY=KEY, EO_CDS_POLL_SECONDS=0)
    # A: the 4 pixels (5.1–5.2 N, 10.1–10.2 E), one of them +1 → +0.25. B: all of the pixel at 10.3 E and
    # half of the one at 10.4 E (+3) → (0 × 1 + 3 × ½) / 1.5 = +1.
    eo.district("DistrictA01", box(10.05, 5.05, 10.25, 5.25))
    eo.district("DistrictB01", box(10.25, 5.05, 10.40, 5.15))
    return cds_double


def test_era5_land_is_downloaded_through_cdsapi_and_gives_hand_computed_celsius_means(
        app, db, eo, cds, run_worker, client, login, caplog):
    caplog.set_level(logging.DEBUG)
    job = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-01-30", end="2024-02-01")
    assert job.status == st.SUCCESSFUL, job.message
    # day mean °C = 15 + 5.75 + 0.1 × day + the unit's offset
    assert eo.values(client, job) == {
        ("DistrictA01", "20240130"): "24.00", ("DistrictA01", "20240131"): "24.10", ("DistrictA01", "20240201"): "21.10",
        ("DistrictB01", "20240130"): "24.75", ("DistrictB01", "20240131"): "24.85", ("DistrictB01", "20240201"): "21.85"}
    assert job.results["sampleData"] is False
    every_hour = [f"{h:02d}:00" for h in range(24)]
    area = [5.4, 9.9, 4.9, 10.5]  # north, west, south, east: the units' bounds on the 0.1° grid, plus a cell
    assert cds.submitted == [  # one request per month, as the ERA5-Land form takes them
        {"variable": ["2m_temperature"], "year": "2024", "month": "01", "day": ["30", "31"], "time": every_hour,
         "data_format": "netcdf", "download_format": "unarchived", "area": area},
        {"variable": ["2m_temperature"], "year": "2024", "month": "02", "day": ["01"], "time": every_hour,
         "data_format": "netcdf", "download_format": "unarchived", "area": area}]
    looks = [path for method, path in cds.calls if method == "GET" and path.startswith("/api/retrieve/v1/jobs/")
             and not path.endswith("/results")]
    assert len(looks) >= 6  # accepted → running → successful, for each request
    assert sorted(os.listdir(eo.folder / "era5-land-temperature")) == [  # kept: the next run reads them
        "era5-land-2m_temperature-2024-01-30-31.nc", "era5-land-2m_temperature-2024-02-01-01.nc"]
    again = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-01-31", end="2024-01-31")
    assert again.status == st.SUCCESSFUL and len(cds.submitted) == 2  # from the drop folder, no new request
    assert eo.values(client, again) == {("DistrictA01", "20240131"): "24.10", ("DistrictB01", "20240131"): "24.85"}

    # precipitation: 31 January's total is tp at 00 UTC on 1 February (31 mm), in the next month's request
    rain = eo.run(run_worker, datasetId="era5-land-precipitation", start="2024-01-31", end="2024-01-31",
                  dataElement="eoElement02")
    assert rain.status == st.SUCCESSFUL, rain.message
    assert eo.values(client, rain) == {("DistrictA01", "20240131"): "31.00", ("DistrictB01", "20240131"): "31.00"}
    assert [(r["variable"], r["month"], r["day"], r["time"]) for r in cds.submitted[2:]] == [
        (["total_precipitation"], "01", ["31"], ["00:00"]), (["total_precipitation"], "02", ["01"], ["00:00"])]

    # the key: sent in the client's header only, never in a job, a log line or a page
    login(db.session.get(User, job.launcher_id))
    page = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert "CDS request" in page  # the job log tells which CDS requests made the files
    logs = " ".join(line.message for line in job.logs)
    assert "CDS request" in logs
    for text in (page, str(job.inputs), logs, str(job.results), job.message or "", caplog.text):
        assert KEY not in text


def test_a_failed_cds_job_fails_ours_with_its_reason_and_leaves_nothing_in_the_drop_folder(
        app, db, eo, cds, run_worker):
    cds.fail_with = "cads_adaptors.exceptions.MarsNoDataError: no data is available within your requested subset"
    job = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-03-01", end="2024-03-01")
    assert job.status == st.FAILED
    request_id = next(iter(cds.jobs))
    assert f"The CDS refused or failed request {request_id} (400)" in job.message
    assert "no data is available within your requested subset" in job.message
    assert [s["status"] for s in job.steps[:3]] == ["successful", "successful", "failed"]
    assert job.steps[2]["attempts"] == 1  # permanent: the same request would fail again
    assert os.listdir(eo.folder / "era5-land-temperature") == []  # no file, no .part


def test_a_refused_request_and_a_wrong_key_are_said_plainly(app, db, eo, cds, run_worker):
    app.config["EO_CDS_KEY"] = "ffffffff-0000-0000-0000-000000000000"
    job = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-03-01", end="2024-03-01")
    assert job.status == st.FAILED and "(401): Authentication failed" in job.message
    assert cds.submitted == [] and os.listdir(eo.folder / "era5-land-temperature") == []


def test_without_the_optional_extra_the_job_names_it(app, db, eo, cds, run_worker, monkeypatch):
    monkeypatch.setitem(sys.modules, "cdsapi", None)  # as if `pip install -r requirements-era5.txt` was not run
    job = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-03-01", end="2024-03-01")
    assert job.status == st.FAILED
    assert "need the optional extra: pip install -r requirements-era5.txt" in job.message
    assert cds.calls == [] and os.listdir(eo.folder / "era5-land-temperature") == []
    app.config["EO_CDS_KEY"] = None  # no key: no download asked for, the usual "missing" message
    job = eo.run(run_worker, datasetId="era5-land-temperature", start="2024-03-01", end="2024-03-01")
    assert job.status == st.FAILED and "set a CDS key (EO_CDS_KEY)" in job.message


def test_the_cds_settings_are_parsed_strictly_and_the_key_is_never_repeated(tmp_path):
    config = load_config(str(tmp_path), {"EO_CDS_KEY": f" {KEY} ", "EO_CDS_URL": "http://127.0.0.1:9/api/"})
    assert config["EO_CDS_KEY"] == KEY and config["EO_CDS_URL"] == "http://127.0.0.1:9/api"
    assert load_config(str(tmp_path), {})["EO_CDS_URL"] == "https://cds.climate.copernicus.eu/api"
    for bad in ("12345:0f3c5a7e-1b2d-4e6f-8a9b-cd12ef345678", "short", "0f3c5a7e 1b2d 4e6f 8a9b"):
        with pytest.raises(ConfigError) as refused:
            load_config(str(tmp_path), {"EO_CDS_KEY": bad})
        assert "EO_CDS_KEY" in str(refused.value) and bad not in str(refused.value)
    with pytest.raises(ConfigError):
        load_config(str(tmp_path), {"EO_CDS_URL": "cds.climate.copernicus.eu"})


def test_a_request_still_queued_at_the_cds_fails_the_attempt_in_words_and_leaves_no_file(app, cds_double, tmp_path):
    from app.services.processing import eo_cds

    cds_double.statuses = ["accepted", "running"]  # the CDS queue is long today
    app.config.update(EO_CDS_URL=cds_double.url, EO_CDS_KEY=KEY, EO_CDS_POLL_SECONDS=0, EO_CDS_WAIT_SECONDS=0.2)
    lines, waits = [], []
    with pytest.raises(eo_cds.CdsStillRunning) as late:
        eo_cds.download("temperature", [datetime(2024, 3, 1).date()], (10.0, 5.0, 10.3, 5.2), str(tmp_path),
                        log=lambda message, level="info": lines.append(message), sleep=waits.append,
                        check=lambda path: None)
    request_id = next(iter(cds_double.jobs))
    assert str(late.value) == (f"the CDS request {request_id} is not done after 0.2 s (the next attempt asks again; "
                               "the CDS answers it from its cache once done)")
    assert waits and set(waits) == {0} and any("status has been updated to running" in line for line in lines)
    assert os.listdir(tmp_path) == []
