"""A Copernicus CDS double on loopback that answers the calls the official client (`cdsapi` 0.7.x →
`ecmwf-datastores-client`, the "retrieve/v1" API) makes, the way the CDS answers them:

- `GET /api/catalogue/v1/messages` → `{"messages": []}`;
- `GET /api/retrieve/v1/processes/{id}` → the process description (404 for an unknown dataset);
- `POST /api/retrieve/v1/processes/{id}/execution` `{"inputs": {...}}` → 201, a status info with a
  `monitor` link; the request is validated as the ERA5-Land form does (400 problem JSON otherwise);
- `GET /api/retrieve/v1/jobs/{id}` → the job's status, one step of `statuses` per look (`self` link,
  `results` link once successful; `?request=true` adds `metadata.request.ids`, `?log=true` the log);
- `GET …/jobs/{id}/results` → `{"asset": {"value": {"href", "file:size", "type", …}}}`; for a failed
  job a 400 `{"type": "RuntimeError", "title", "detail": <traceback>}` as the CDS's processing API does;
- `GET|HEAD /download/{id}.nc` → the file (no key: the CDS serves results from object storage).

Every call but the messages and the download must carry the key in `PRIVATE-TOKEN` (401 otherwise).
The file is NetCDF as the CDS delivers ERA5-Land: `valid_time`/`latitude`/`longitude` (latitudes
north→south on the 0.1° grid inside `area`), `number` and `expver` coordinates, `t2m` in K or `tp` in m
(float32, GRIB attributes). Values come from `field(cf_name, valid_time, lats, lons)`.
"""
from __future__ import annotations

import io
import re
import threading
import uuid
from datetime import datetime, timezone

import numpy as np
import pytest
from flask import Flask, jsonify, request, send_file, url_for

KEY = "0f3c5a7e-1b2d-4e6f-8a9b-cd12ef345678"  # the shape of a CDS personal access token
DATASET = "reanalysis-era5-land"
VARIABLES = {"2m_temperature": ("t2m", "K", 167, "2 metre temperature"),
             "total_precipitation": ("tp", "m", 228, "Total precipitation")}
FIELDS = {"variable", "year", "month", "day", "time", "data_format", "download_format", "area"}
TWO_DIGITS = re.compile(r"^\d{2}$")
HOUR = re.compile(r"^([01]\d|2[0-3]):00$")


def problem(status: int, title: str, detail: str, kind: str = "invalid request"):
    return jsonify({"type": kind, "title": title, "detail": detail}), status


def _as_list(value):
    return value if isinstance(value, list) else [value]


class CdsDouble:
    def __init__(self, field):
        self.field = field
        self.submitted: list[dict] = []  # the inputs of each accepted request
        self.calls: list[tuple[str, str]] = []  # (method, path) of every call
        self.statuses = ["accepted", "running", "successful"]  # what successive looks at a job see
        self.fail_with: str | None = None  # the next job fails with this error (its traceback's last line)
        self.jobs: dict[str, dict] = {}
        self.app = Flask("cds-double")
        self.app.add_url_rule("/api/catalogue/v1/messages", view_func=lambda: jsonify({"messages": []}))
        self.app.add_url_rule("/api/retrieve/v1/processes/<pid>", view_func=self.process)
        self.app.add_url_rule("/api/retrieve/v1/processes/<pid>/execution", view_func=self.execute, methods=["POST"])
        self.app.add_url_rule("/api/retrieve/v1/jobs/<job_id>", view_func=self.job)
        self.app.add_url_rule("/api/retrieve/v1/jobs/<job_id>/results", view_func=self.results)
        self.app.add_url_rule("/download/<job_id>.nc", view_func=self.download)
        self.app.before_request(self._auth)

    def _auth(self):
        self.calls.append((request.method, request.path))
        if request.path.startswith("/api/retrieve/") and request.headers.get("PRIVATE-TOKEN") != KEY:
            return problem(401, "Authentication failed", "Invalid or missing PRIVATE-TOKEN", "authentication failed")
        return None

    def process(self, pid):
        if pid != DATASET:
            return problem(404, "process not found", f"Process {pid} not found", "no such process")
        return jsonify({"id": DATASET, "title": "ERA5-Land hourly data from 1950 to present", "version": "1.0.0",
                        "inputs": {name: {"schema": {"type": "array"}} for name in sorted(FIELDS)},
                        "outputs": {"asset": {"schema": {"type": "object"}}},
                        "links": [{"href": request.base_url, "rel": "self"}],
                        "metadata": {"datasetMetadata": {"messages": []}}})

    def execute(self, pid):
        if pid != DATASET:
            return problem(404, "process not found", f"Process {pid} not found", "no such process")
        body = request.get_json(silent=True)
        inputs = body.get("inputs") if isinstance(body, dict) else None
        error = self._invalid(inputs)
        if error:
            return problem(400, "invalid request", error)
        self.submitted.append(inputs)
        job_id = str(uuid.uuid4())
        now = datetime.now(timezone.utc).isoformat()
        self.jobs[job_id] = {"inputs": inputs, "looks": 0, "created": now,
                             "fail": self.fail_with, "file": None if self.fail_with else self._netcdf(inputs)}
        self.fail_with = None
        monitor = url_for("job", job_id=job_id, _external=True)
        return jsonify({"processID": DATASET, "type": "process", "jobID": job_id, "status": "accepted",
                        "created": now, "updated": now,
                        "links": [{"href": monitor, "rel": "monitor", "type": "application/json",
                                   "title": "job status info"}]}), 201

    def _invalid(self, inputs) -> str | None:
        """What the ERA5-Land form refuses (and what this double cannot serve: anything but NetCDF)."""
        if not isinstance(inputs, dict) or not {"variable", "year", "month", "day", "time"} <= set(inputs):
            return "variable, year, month, day and time are required"
        if set(inputs) - FIELDS:
            return f"unknown fields: {sorted(set(inputs) - FIELDS)}"
        variables = _as_list(inputs["variable"])
        if not variables or any(v not in VARIABLES for v in variables):
            return f"variable must be among {sorted(VARIABLES)}: {variables}"
        years, months = _as_list(inputs["year"]), _as_list(inputs["month"])
        if any(not (isinstance(y, str) and re.fullmatch(r"\d{4}", y)) for y in years):
            return f"year must be YYYY text: {years}"
        if any(not (isinstance(m, str) and TWO_DIGITS.match(m) and 1 <= int(m) <= 12) for m in months):
            return f"month must be 01..12: {months}"
        days = _as_list(inputs["day"])
        if not days or any(not (isinstance(d, str) and TWO_DIGITS.match(d) and 1 <= int(d) <= 31) for d in days):
            return f"day must be 01..31: {days}"
        times = _as_list(inputs["time"])
        if not times or any(not (isinstance(t, str) and HOUR.match(t)) for t in times):
            return f"time must be HH:00: {times}"
        if inputs.get("data_format") != "netcdf":
            return f"data_format must be netcdf here, got {inputs.get('data_format')!r}"
        if inputs.get("download_format", "unarchived") != "unarchived":
            return "download_format must be unarchived"
        area = inputs.get("area")
        if area is not None:
            if not (isinstance(area, list) and len(area) == 4 and all(isinstance(v, (int, float)) for v in area)):
                return "area must be [north, west, south, east]"
            north, west, south, east = area
            if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
                return f"area must be [north, west, south, east] with north > south and west < east: {area}"
        return None

    def _netcdf(self, inputs) -> bytes:
        import xarray as xr

        north, west, south, east = inputs.get("area") or [90, -180, -90, 180]
        lats = np.round(np.arange(round(north * 10), round(south * 10) - 1, -1) / 10, 1)
        lons = np.round(np.arange(round(west * 10), round(east * 10) + 1) / 10, 1)
        times = [np.datetime64(f"{y}-{m}-{d}T{t}") for y in _as_list(inputs["year"]) for m in _as_list(inputs["month"])
                 for d in _as_list(inputs["day"]) for t in _as_list(inputs["time"])]
        data_vars = {}
        for variable in _as_list(inputs["variable"]):
            name, units, param, long_name = VARIABLES[variable]
            values = np.array([self.field(name, t, lats, lons) for t in times], dtype="float32")
            data_vars[name] = (("valid_time", "latitude", "longitude"), values,
                               {"units": units, "long_name": long_name, "GRIB_paramId": param,
                                "GRIB_shortName": "2t" if name == "t2m" else "tp", "GRIB_gridType": "regular_ll"})
        ds = xr.Dataset(data_vars, coords={
            "number": np.int64(0),
            "valid_time": ("valid_time", np.array(times, dtype="datetime64[ns]"), {"standard_name": "time"}),
            "latitude": ("latitude", lats, {"units": "degrees_north", "standard_name": "latitude"}),
            "longitude": ("longitude", lons, {"units": "degrees_east", "standard_name": "longitude"}),
            "expver": ("valid_time", np.array(["0001"] * len(times), dtype=object)),
        }, attrs={"GRIB_centre": "ecmf", "GRIB_centreDescription": "European Centre for Medium-Range Weather Forecasts",
                  "Conventions": "CF-1.7", "institution": "European Centre for Medium-Range Weather Forecasts",
                  "history": "grib_to_netcdf (double)"})
        buffer = io.BytesIO()
        ds.to_netcdf(buffer, engine="h5netcdf")
        return buffer.getvalue()

    def _status(self, job: dict) -> str:
        if job["fail"]:
            return "failed" if job["looks"] > 1 else "accepted"
        return self.statuses[min(job["looks"] - 1, len(self.statuses) - 1)] if job["looks"] else "accepted"

    def job(self, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            return problem(404, "job not found", f"Job {job_id} not found", "no such job")
        job["looks"] += 1
        status = self._status(job)
        links = [{"href": request.base_url, "rel": "self", "type": "application/json"}]
        if status in ("successful", "failed"):
            links.append({"href": f"{request.base_url}/results", "rel": "results"})
        reply = {"processID": DATASET, "type": "process", "jobID": job_id, "status": status,
                 "created": job["created"], "updated": datetime.now(timezone.utc).isoformat(), "links": links,
                 "metadata": {}}
        if request.args.get("request") == "true":
            reply["metadata"]["request"] = {"ids": job["inputs"]}
        if request.args.get("log") == "true":
            reply["metadata"]["log"] = []
        return jsonify(reply)

    def results(self, job_id):
        job = self.jobs.get(job_id)
        if job is None:
            return problem(404, "job not found", f"Job {job_id} not found", "no such job")
        status = self._status(job)
        if status == "failed":
            return problem(400, "The job has failed", "Traceback (most recent call last):\n  File \"adaptor.py\", "
                                                      f"line 1, in retrieve\n{job['fail']}", "RuntimeError")
        if status != "successful":
            return problem(404, "results not ready", f"Status of {job_id} is {status}.", "results not ready")
        href = url_for("download", job_id=job_id, _external=True)
        return jsonify({"asset": {"value": {"type": "application/netcdf", "href": href,
                                            "file:size": len(job["file"]), "file:checksum": uuid.uuid4().hex,
                                            "file:local_path": f"s3://cache/{job_id}.nc"}}})

    def download(self, job_id):
        job = self.jobs.get(job_id)
        if job is None or job["file"] is None:
            return "Not Found", 404
        return send_file(io.BytesIO(job["file"]), mimetype="application/netcdf", download_name=f"{job_id}.nc")


@pytest.fixture
def cds_double():
    """A CDS double on loopback; set its `field` to the values it should serve (zeros by default)."""
    from werkzeug.serving import make_server

    double = CdsDouble(lambda name, t, lats, lons: np.zeros((len(lats), len(lons))))
    server = make_server("127.0.0.1", 0, double.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    double.url = f"http://127.0.0.1:{server.server_port}/api"
    yield double
    server.shutdown()
    thread.join(5)
