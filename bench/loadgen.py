"""HTTP load for the benches: gunicorn as in production, `wrk` (a C load generator) as the client, and the
floor (`bench/floor_app.py`) measured in the same run so every rate is printed with its ratio to it.

The Python client (requests) costs more CPU than the server on this machine and capped earlier figures;
it stays only where a request's logic needs it (a chain of transitions reading each answer).
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def ensure_wrk() -> str:
    """The path of `wrk`, installed with apt-get (Debian package `wrk`) when missing."""
    path = shutil.which("wrk")
    if path:
        return path
    print("wrk is missing; installing it with apt-get (Debian package wrk)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    subprocess.run([*sudo, "apt-get", "install", "-y", "-q", "wrk"], check=False,
                   stdout=subprocess.DEVNULL)
    path = shutil.which("wrk")
    if not path:
        raise SystemExit("wrk is needed (apt-get install wrk) and could not be installed")
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_gunicorn(env: dict, app_spec: str = "wsgi:app", workers: int = 2, threads: int = 4) -> tuple[str, list]:
    """gunicorn gthread workers with keep-alive, as in production (DESIGN); returns (base URL, [master])."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", str(workers), "--worker-class", "gthread",
                             "--threads", str(threads), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                             app_spec], env=env, cwd=str(ROOT))
    return f"http://127.0.0.1:{port}", [proc]


def wait_up(base: str, tries: int = 150) -> None:
    import requests

    for _ in range(tries):
        try:
            if requests.get(f"{base}/healthz", timeout=5).status_code == 200:
                for _ in range(8):
                    requests.get(f"{base}/healthz", timeout=5)
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server at {base} did not come up")


def stop(procs: list) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(15)


@dataclass
class Result:
    rate: float
    requests: int
    errors: int
    latency: str

    def __str__(self) -> str:
        return f"{self.rate:,.0f}/s ({self.requests} requests, latency avg {self.latency}" + (
            f", {self.errors} NOT 2xx)" if self.errors else ")")


_LUA = r"""
local threads = {}
tid, counter = 0, 0
local paths = %(paths)s
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
function init(args) counter = 0 end
request = function()
  counter = counter + 1
  local n = %(base)d + tid * 100000000 + counter
  local path = %(path)s
  if #paths > 0 then
    local i = (counter - 1) * %(nthreads)d + tid
    if i > #paths then i = ((i - 1) %% #paths) + 1 end
    path = paths[i]
  end
  local body = nil
  if %(body)s ~= "" then body = string.gsub(%(body)s, "{n}", tostring(n)) end
  return wrk.format(%(method)s, path, {["Authorization"] = %(auth)s, ["Content-Type"] = "application/json"}, body)
end
"""


_calls: list = []


def wrk(base: str, path: str, token: str, *, method: str = "GET", body: str = "", paths: list[str] | None = None,
        seconds: float = 4, connections: int = 8, threads: int = 2) -> Result:
    """Load `path` (or each of `paths` once, in order, shared across wrk's threads) for `seconds`. In `body`,
    "{n}" becomes a number unique to the request. Returns the rate of completed requests."""
    exe = ensure_wrk()
    lua_paths = "{" + ",".join(f'"{p}"' for p in (paths or [])) + "}"
    q = json.dumps  # a JSON string is a Lua string literal
    _calls.append(None)  # each call numbers its requests apart from the previous calls
    script = _LUA % {"base": len(_calls) * 1_000_000_000, "paths": lua_paths, "path": q(path), "method": q(method),
                     "body": q(body),
                     "auth": q(f"Bearer {token}"), "nthreads": threads}
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(script)
    try:
        out = subprocess.run([exe, "-t", str(threads), "-c", str(connections), "-d", f"{max(1, round(seconds))}s", "-s", handle.name,
                              base], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(handle.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    count = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    latency = re.search(r"Latency\s+(\S+)", out).group(1)
    return Result(rate, count, int(errors.group(1)) if errors else 0, latency)


class Floor:
    """The floor app served (gunicorn 2×4 gthread) on the bench database, its read and insert ready to load."""

    def __init__(self, database_url: str, jwt_secret: str, connections: int = 8):
        sys.path.insert(0, str(ROOT))
        from bench.floor_app import setup_floor

        self.token = setup_floor(database_url, jwt_secret)
        env = {**os.environ, "FLOOR_DATABASE_URL": database_url, "JWT_SECRET_KEY": jwt_secret,
               "PYTHONPATH": str(ROOT)}
        self.base, self.procs = start_gunicorn(env, "bench.floor_app:app")
        self.connections = connections
        wait_up(self.base)
        self.read(1)  # warm-up
        self.insert(1)

    def read(self, seconds: float) -> Result:
        return wrk(self.base, "/floor/me", self.token, seconds=seconds, connections=self.connections)

    def insert(self, seconds: float) -> Result:
        return wrk(self.base, "/floor/rows", self.token, method="POST", body='{"n": {n}, "text": "floor row"}',
                   seconds=seconds, connections=self.connections)

    def stop(self) -> None:
        stop(self.procs)


def paired(ours, floor, seconds: float, rounds: int = 3) -> tuple[Result, Result]:
    """Load ours and the floor in turns (`rounds` slices each, `seconds` in all for each), so that the
    machine's other load weighs on both alike; returns the summed (ours, floor)."""
    results: tuple[list, list] = ([], [])
    for _ in range(rounds):
        for side, load in enumerate((ours, floor)):
            results[side].append(load(seconds / rounds))
    return tuple(_summed(parts) for parts in results)


def _summed(parts: list[Result]) -> Result:
    requests = sum(p.requests for p in parts)
    elapsed = sum(p.requests / p.rate for p in parts if p.rate)
    return Result(requests / elapsed if elapsed else 0.0, requests, sum(p.errors for p in parts),
                  "/".join(p.latency for p in parts))


def ratio_line(label: str, ours: Result, floor: Result, floor_label: str, target: float | None = None) -> str:
    ratio = ours.rate / floor.rate if floor.rate else 0.0
    goal = f"; target >= {target:g}" if target else ""
    return f"{label}: {ours}; floor {floor_label} {floor.rate:,.0f}/s; ratio {ratio:.2f}{goal}"


def load_average() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
