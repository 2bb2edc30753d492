"""ERA5-Land from the Copernicus Climate Data Store, through its official client (`cdsapi`, an
optional extra: `pip install -r requirements-era5.txt`).

With a personal access token (`EO_CDS_KEY`, no colon), cdsapi ≥ 0.7.2 hands the work to
`ecmwf-datastores-client`, which speaks the CDS "retrieve/v1" API (OGC API – Processes-like):

1. `GET {EO_CDS_URL}/catalogue/v1/messages` — the portal's notices, when the client starts;
2. `GET {url}/retrieve/v1/processes/reanalysis-era5-land`, then
   `POST …/execution` with `{"inputs": request}` and the key in a `PRIVATE-TOKEN` header → 201 and a
   job (`jobID`, `status`, a `monitor` link);
3. `GET {monitor}?log=true&request=true` until `status` is `successful` (or `failed`/`rejected`/
   `dismissed`: the job's results then answer 400 with the CDS's reason);
4. `GET {monitor}` (its `results` link) → `GET …/results` → `{"asset": {"value": {"href", "file:size",
   "type"}}}`; the asset is fetched (HEAD, GET, no key) and its size checked.

We submit with `wait_until_complete=False` and poll with the step's own sleep (so the job stays
killable and bounded by its deadline) every `EO_CDS_POLL_SECONDS`, for at most `EO_CDS_WAIT_SECONDS`.
A request still queued then fails the attempt (the step retries: the CDS answers a repeated request
from its cache once it is done). The file is written beside the drop folder's files under a
temporary name and moved in only once it is complete and holds the days asked for: nothing half
written is ever read. The key goes only into the client's header: never into a log line, a job's
inputs or a page (the client's debug lines, which print it, are dropped).
"""
from __future__ import annotations

import os
import tempfile
import time
from datetime import date
from typing import Callable

import numpy as np
from flask import current_app

from app.logging_filters import mask_literal, redact_text
from app.services.processing.steps import PermanentError, StepTimeout

CDS_DATASET = "reanalysis-era5-land"
CDS_VARIABLES = {"temperature": "2m_temperature", "precipitation": "total_precipitation"}
ALL_HOURS = tuple(f"{h:02d}:00" for h in range(24))
GRID = 0.1  # ERA5-Land's grid step, in degrees
EXTRA = "requirements-era5.txt"


class CdsStillRunning(StepTimeout):
    """The CDS has not finished the request within EO_CDS_WAIT_SECONDS: the attempt times out, the step
    retries, and the job says why in these words."""


def configured() -> bool:
    """Whether ERA5-Land downloads are asked for: downloads on and a CDS key set."""
    return bool(current_app.config.get("EO_DOWNLOAD") and current_app.config.get("EO_CDS_KEY"))


def era5_request(variable: str, days: list[date], bounds: tuple[float, float, float, float]) -> dict:
    """The CDS request for `days` (all in one month) of an ERA5-Land variable over `bounds` (west,
    south, east, north), widened to whole grid cells plus one. Temperature: every hour (the daily mean
    is over 24 hours); precipitation: 00 UTC only (it holds the previous day's accumulated total)."""
    west, south, east, north = bounds
    area = [_snap(north, np.ceil) + GRID, _snap(west, np.floor) - GRID,
            _snap(south, np.floor) - GRID, _snap(east, np.ceil) + GRID]
    return {
        "variable": [CDS_VARIABLES[variable]],
        "year": f"{days[0]:%Y}",
        "month": f"{days[0]:%m}",
        "day": [f"{d:%d}" for d in days],
        "time": list(ALL_HOURS) if variable == "temperature" else ["00:00"],
        "data_format": "netcdf",
        "download_format": "unarchived",
        "area": [round(max(min(v, limit), -limit), 1) for v, limit in zip(area, (90.0, 180.0, 90.0, 180.0))],
    }


def _snap(value: float, rounding) -> float:
    return float(rounding(round(value / GRID, 6)) * GRID)


def _client(log: Callable[[str, str], None]):
    try:
        import cdsapi
    except ImportError:
        raise PermanentError(
            "ERA5-Land downloads from the Copernicus CDS need the optional extra: pip install -r "
            f"{EXTRA} (the cdsapi client). Or download the files from the CDS yourself and put them in the "
            "drop folder.") from None
    config = current_app.config
    mask_literal(config["EO_CDS_KEY"])  # in this process's logs, whatever prints it

    def _say(level: str):
        return lambda message, *args, **kwargs: log(redact_text(f"CDS: {message % args if args else message}"), level)

    return cdsapi.Client(
        url=config["EO_CDS_URL"], key=config["EO_CDS_KEY"], quiet=True, progress=False, verify=True,
        timeout=60, retry_max=1,  # one try per call: the step's own retries and backoff take over
        sleep_max=1, wait_until_complete=False, delete=False,
        info_callback=_say("info"), warning_callback=_say("warning"), error_callback=_say("warning"),
        debug_callback=lambda *args, **kwargs: None)  # its debug lines carry the key and whole replies


def download(variable: str, days: list[date], bounds, folder: str, *, log: Callable[[str, str], None],
             sleep: Callable[[float], None], check: Callable[[str], None]) -> str:
    """Retrieve `days` (one month) of `variable` from the CDS into `folder`; returns the file's path.
    `check(path)` vets the delivered file before it is moved in (raising PermanentError). Raises
    PermanentError when the CDS refuses or fails the request (its reason in the message)."""
    import requests

    request = era5_request(variable, days, bounds)
    name = f"era5-land-{CDS_VARIABLES[variable]}-{days[0]:%Y-%m}-{days[0]:%d}-{days[-1]:%d}.nc"
    path = os.path.join(folder, name)
    client = _client(log)
    from ecmwf.datastores.processing import ProcessingFailedError  # cdsapi's engine, installed with it

    fd, part = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
    os.close(fd)
    request_id = "?"
    try:
        remote = client.retrieve(CDS_DATASET, request)
        request_id = remote.request_id
        log(f"CDS request {request_id}: {CDS_DATASET} {request['variable'][0]} {days[0]:%Y-%m} days "
            f"{request['day'][0]}–{request['day'][-1]}, area {request['area']}", "info")
        started, config = time.monotonic(), current_app.config
        while not remote.results_ready:
            if time.monotonic() - started > config["EO_CDS_WAIT_SECONDS"]:
                raise CdsStillRunning(f"the CDS request {request_id} is not done after {config['EO_CDS_WAIT_SECONDS']:g} s "
                                      "(the next attempt asks again; the CDS answers it from its cache once done)")
            sleep(config["EO_CDS_POLL_SECONDS"])
        remote.download(part)
        check(part)
        os.replace(part, path)
    except requests.HTTPError as exc:
        response = exc.response
        if response is not None and 400 <= response.status_code < 500:
            raise PermanentError(f"The CDS refused or failed request {request_id} ({response.status_code}): "
                                 f"{_reason(response)}") from None
        raise  # 5xx: the step retries
    except ProcessingFailedError as exc:
        raise PermanentError(f"The CDS request {request_id} failed: {str(exc)[:400]}") from None
    finally:
        if os.path.exists(part):
            os.remove(part)
    log(f"CDS request {request_id}: saved {name} in the drop folder", "info")
    return path


def _reason(response) -> str:
    """The CDS's words for a refused or failed request: its title and the last line of its detail
    (a failed job's detail is the worker's traceback, whose last line is the error)."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "")[:300]
    lines = [line.strip() for line in str(body.get("detail") or "").splitlines() if line.strip()]
    parts = [str(body.get("title") or "").strip(), lines[-1] if lines else ""]
    return " — ".join(p for p in parts if p)[:400] or str(body)[:300]
