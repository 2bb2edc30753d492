"""Fixtures: a migrated real database (PostgreSQL at TEST_DATABASE_URL, else SQLite), a real Redis
(REDIS_URL, else an embedded redis-server), the app, clients, users, tokens and workers."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db as _db  # noqa: E402
from app.extensions import get_redis  # noqa: E402
from app.models import Base  # noqa: E402

PASSWORD = "correct-horse-battery"

pytest_plugins = ["tests.planning_fixtures", "tests.ticket_fixtures", "tests.dhis2_double", "tests.cds_double",
                  "tests.eo_fixtures"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _xdist_index() -> int:
    """0 outside pytest-xdist; n for worker gw<n> (each worker gets its own database and Redis db)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) if worker.startswith("gw") else 0


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    url = os.environ.get("REDIS_URL")
    if url:
        base, _, number = url.rpartition("/")
        yield f"{base}/{int(number or 0) + _xdist_index()}" if number.isdigit() else url
        return
    from app.embedded_redis import start_redis_on_port

    port = _free_port()
    proc = start_redis_on_port(tmp_path_factory.mktemp("redis"), port)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(5)


@pytest.fixture(scope="session")
def instance_path(tmp_path_factory):
    return str(tmp_path_factory.mktemp("instance"))


def _worker_database(url: str) -> str:
    """The PostgreSQL database of this xdist worker: `<name>_gw<n>`, created on first use."""
    import sqlalchemy

    from app.config import normalise_database_url

    index = _xdist_index()
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return url
    base = sqlalchemy.engine.make_url(normalise_database_url(url))
    name = f"{base.database}_gw{index}"
    engine = sqlalchemy.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return _worker_database(url)
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def app_config(database_url, redis_url, instance_path):
    from app.config import normalise_database_url

    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production",
        "JWT_SECRET_KEY": "test-jwt-secret-key-not-for-production-0123456789",
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": f"fieldflow-test-{os.getpid()}",
        "JOB_HEARTBEAT_SECONDS": 1,
        "JOB_STALE_SECONDS": 3,
        "LOGIN_MAX_FAILURES": 5,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",  # scrypt costs ~100 ms a hash; tests make hundreds
    }


@pytest.fixture(scope="session")
def worker_env(app_config, instance_path):
    """Environment for worker processes: the same database, Redis and queue as the tests."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": app_config["SQLALCHEMY_DATABASE_URI"],
        "REDIS_URL": app_config["REDIS_URL"],
        "RQ_QUEUE": app_config["RQ_QUEUE"],
        "SECRET_KEY": app_config["SECRET_KEY"],
        "JWT_SECRET_KEY": app_config["JWT_SECRET_KEY"],
        "JOB_HEARTBEAT_SECONDS": "1",
        "JOB_STALE_SECONDS": "3",
        "FIELDFLOW_INSTANCE_PATH": instance_path,
        "PYTHONPATH": str(ROOT),
    })
    return env


@pytest.fixture(scope="session")
def _migrated(app_config):
    """Drop everything, then build the schema with the real migrations (not create_all)."""
    import flask_migrate

    app = create_app(app_config)
    with app.app_context():
        engine = _db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(engine)
            with engine.begin() as conn:
                conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
        flask_migrate.upgrade(directory=str(ROOT / "migrations"))
        _db.session.remove()
        engine.dispose()
    return True


_SEQUENCES: dict[str, str] = {}


def _clean_database() -> None:
    """Empty the tables a test wrote to (one probe finds them; the rest are left alone), and restart
    their id sequences. DELETE, not TRUNCATE: on tables this small it costs a fraction (TRUNCATE makes
    new files for every table and index)."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    if _db.engine.dialect.name == "postgresql":
        if not _SEQUENCES:
            _SEQUENCES.update(_db.session.execute(text(
                "SELECT table_name, pg_get_serial_sequence(table_name, column_name) FROM information_schema.columns "
                "WHERE table_schema = 'public' AND pg_get_serial_sequence(table_name, column_name) IS NOT NULL")).all())
        probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables)
        touched = set(_db.session.execute(text(probe)).scalars())
        if touched:
            _db.session.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks: all goes
            _db.session.execute(text("; ".join(f"DELETE FROM {name}" for name in tables if name in touched)))
            restart = [f"setval('{_SEQUENCES[name]}', 1, false)" for name in touched if name in _SEQUENCES]
            if restart:
                _db.session.execute(text(f"SELECT {', '.join(restart)}"))
    else:
        for name in tables:
            _db.session.execute(text(f"DELETE FROM {name}"))
    _db.session.commit()


class _ConfigGuard:
    """Restores an app's config after a test that changed it (apps live for the whole session)."""

    def __init__(self, *apps):
        self.saved = [(a, dict(a.config)) for a in apps]

    def restore(self) -> None:
        for application, config in self.saved:
            if application.config != config:
                application.config.clear()
                application.config.update(config)


@pytest.fixture(scope="session")
def _session_app(_migrated, app_config):
    """One app for the whole session: the tests' own app context (services, factories, asserts)."""
    return create_app(app_config)


@pytest.fixture(scope="session")
def _session_web_app(_migrated, app_config):
    """A second app serving requests, as a web process would: requests get their own app context
    (and session), never the test's — so `g` and identity maps do not leak between them."""
    return create_app(app_config)


@pytest.fixture
def app(_session_app, _session_web_app):
    from app.services.orchestration.automation import ensure_builtin_rules
    from app.services.platform.users import ensure_default_roles

    guard = _ConfigGuard(_session_app, _session_web_app)
    with _session_app.app_context():
        _clean_database()
        get_redis().flushdb()
        ensure_default_roles()
        ensure_builtin_rules()  # as `flask db upgrade`/`make run` leave them
        yield _session_app
        _db.session.remove()
    guard.restore()


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def web_app(app, _session_web_app):
    return _session_web_app


@pytest.fixture
def client(web_app):
    return web_app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- users, login, tokens ---------------------------------------------------------------------

@pytest.fixture
def make_user(app):
    from app.schemas.users import UserIn
    from app.services.platform.users import create_user

    counter = {"n": 0}

    def _make(role: str = "coordinator", projects=("Project A",), username: str | None = None, **kwargs):
        counter["n"] += 1
        return create_user(UserIn(username=username or f"{role}{counter['n']}", password=PASSWORD, role=role,
                                  projects=list(projects), **kwargs))

    return _make


def csrf_token_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@pytest.fixture
def login(client):
    """Log a user in through the real login form (with its CSRF token)."""

    def _login(user, password: str = PASSWORD, test_client=None):
        c = test_client or client
        token = csrf_token_from(c.get("/login").get_data(as_text=True))
        response = c.post("/login", data={"username": user.username, "password": password, "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)[:500]
        return c

    return _login


@pytest.fixture
def csrf(client):
    """The CSRF token of the logged-in session (as a page's hx-headers carry it)."""

    def _token(test_client=None):
        return csrf_token_from((test_client or client).get("/").get_data(as_text=True))

    return _token


@pytest.fixture
def api_token(app):
    from app.services.platform.tokens import issue_user_token

    def _token(user) -> dict:
        token, _ = issue_user_token(user)
        return {"Authorization": f"Bearer {token}"}

    return _token


# --- workers ----------------------------------------------------------------------------------

@pytest.fixture
def run_worker(app):
    """Run queued jobs in this process until the queue is empty (the worker's RQ SimpleWorker in burst mode)."""
    from app.extensions import get_queue
    from app.rq_jobs.workers import FieldflowSimpleWorker

    def _run():
        FieldflowSimpleWorker([get_queue()], connection=get_redis()).work(burst=True, logging_level="WARNING")
        _db.session.expire_all()

    return _run


@pytest.fixture
def worker_process(worker_env):
    """Start real `python worker.py` processes (own process group, so they can be SIGKILLed)."""
    procs: list[subprocess.Popen] = []

    def _start(burst: bool = False) -> subprocess.Popen:
        args = [sys.executable, str(ROOT / "worker.py")] + (["--burst"] if burst else [])
        proc = subprocess.Popen(args, env=worker_env, cwd=str(ROOT), start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(proc)
        return proc

    yield _start
    for proc in procs:
        if proc.poll() is None:
            kill_tree(proc.pid)
        proc.wait(10)


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (an RQ work horse runs in its own session,
    so killing the worker's process group alone would leave it running)."""
    pids, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        pids.append(current)
        frontier.extend(_children(current))
    for target in pids:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


# --- live server (browser tests, real HTTP clients) --------------------------------------------

@pytest.fixture(scope="session")
def _live_server(_migrated, app_config):
    from werkzeug.serving import make_server

    server_app = create_app(app_config)
    server = make_server("127.0.0.1", 0, server_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}"
    server.flask_app = server_app
    yield server
    server.shutdown()
    thread.join(5)


@pytest.fixture
def live_server(app, _live_server):
    """A real HTTP server (threaded werkzeug) on the session's database and Redis."""
    guard = _ConfigGuard(_live_server.flask_app)
    yield _live_server
    guard.restore()


# --- headless Chromium (one browser per session, a fresh context per test) --------------------

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("FIELDFLOW_REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    pg = context.new_page()
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
