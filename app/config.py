"""Every setting Fieldflow reads, parsed strictly from the environment in one place.

A malformed value stops start-up with a message naming the variable, rather than
surfacing later as a confusing runtime error.
"""
from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path


class ConfigError(RuntimeError):
    """A setting in the environment cannot be used."""


def _int(env: dict, name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(env: dict, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {raw!r}") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {raw!r}")
    return value


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _http_url(env: dict, name: str) -> str | None:
    raw = (env.get(name) or "").strip()
    if not raw:
        return None
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {raw!r}")
    return raw.rstrip("/")


def _cds_key(env: dict) -> str | None:
    """EO_CDS_KEY: a CDS personal access token. The old "UID:KEY" form belongs to the retired CDS (the
    client would talk to its API). The value is a secret: no message repeats it."""
    raw = (env.get("EO_CDS_KEY") or "").strip()
    if not raw:
        return None
    if ":" in raw:
        raise ConfigError("EO_CDS_KEY must be a CDS personal access token; the UID:KEY form was for the retired CDS "
                          "(value not shown)")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,200}", raw):
        raise ConfigError("EO_CDS_KEY must be a CDS personal access token: 16 to 200 letters, digits, - or _ "
                          "(value not shown)")
    return raw


def normalise_database_url(url: str) -> str:
    """Point plain PostgreSQL URLs at psycopg 3 (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(env: dict, instance_path: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in instance/."""
    if env.get("SECRET_KEY"):
        return env["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def engine_options(database_uri: str) -> dict:
    """SQLAlchemy engine options for this database."""
    # No pool_pre_ping: app/__init__.py pings only connections that sat idle. psycopg prepares a statement
    # run 5 times (its default prepare_threshold): PostgreSQL then skips parsing and planning (the
    # principal's query: 0.15 ms prepared, 0.4 ms planned each time). Subtree queries write their prefix
    # into the SQL (`app.models.base.under_path`) so that a generic plan never hides the path index.
    options: dict = {}
    return options


def load_config(instance_path: str, env: dict | None = None) -> dict:
    """Build the Flask config mapping from environment variables."""
    env = dict(os.environ if env is None else env)
    instance = Path(instance_path)
    secret = _secret_key(env, instance)
    database_url = env.get("DATABASE_URL") or f"sqlite:///{instance / 'fieldflow.db'}"
    redis_url = env.get("REDIS_URL") or None
    return {
        "SECRET_KEY": secret,
        "SQLALCHEMY_DATABASE_URI": normalise_database_url(database_url),
        "REDIS_URL": redis_url,
        "RQ_QUEUE": env.get("RQ_QUEUE", "fieldflow"),
        # Browser sessions
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env, "SESSION_COOKIE_SECURE", False),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": _int(env, "CSRF_TIME_LIMIT_SECONDS", 8 * 3600, 60),
        # API tokens: Bearer only, short-lived
        "JWT_SECRET_KEY": env.get("JWT_SECRET_KEY") or secret,
        "JWT_TOKEN_LOCATION": ["headers"],
        "JWT_ACCESS_TOKEN_EXPIRES": timedelta(minutes=_int(env, "JWT_ACCESS_TOKEN_MINUTES", 60, 1)),
        # Login throttling: this many failures per window per username and address
        "LOGIN_MAX_FAILURES": _int(env, "LOGIN_MAX_FAILURES", 5, 1),
        "LOGIN_WINDOW_SECONDS": _int(env, "LOGIN_WINDOW_SECONDS", 300, 1),
        # werkzeug's password hash; tests pass a one-round pbkdf2 (not settable from the environment)
        "PASSWORD_HASH_METHOD": "scrypt",
        # Job engine
        "JOB_HEARTBEAT_SECONDS": _int(env, "JOB_HEARTBEAT_SECONDS", 5, 1),
        "JOB_STALE_SECONDS": _int(env, "JOB_STALE_SECONDS", 45, 2),
        "JOB_DEFAULT_TIMEOUT_SECONDS": _int(env, "JOB_DEFAULT_TIMEOUT_SECONDS", 3600, 1),
        # A failed job's step outputs (retry from the failed step) are kept this long after it ended
        "CHECKPOINT_RETENTION_DAYS": _int(env, "CHECKPOINT_RETENTION_DAYS", 14, 1),
        "API_MAX_PAGE_SIZE": _int(env, "API_MAX_PAGE_SIZE", 500, 1),
        # Request bodies above this many bytes are refused with 413 (uploads included)
        "MAX_CONTENT_LENGTH": _int(env, "MAX_CONTENT_LENGTH", 2 * 1024 * 1024, 1024),
        "LOG_LEVEL": env.get("LOG_LEVEL", "INFO").upper(),
        # EO source files (GeoTIFF per month/year per dataset); the sample dataset is generated here
        "EO_CACHE_DIR": env.get("EO_CACHE_DIR") or os.path.join(instance_path, "eo_cache"),
        "EO_SAMPLE_DATA": _bool(env, "EO_SAMPLE_DATA", True),  # generate the synthetic sample for missing files
        "EO_DOWNLOAD": _bool(env, "EO_DOWNLOAD", False),  # fetch missing CHIRPS/WorldPop files from the URLs below
        "EO_CHIRPS_DAILY_URL": env.get("EO_CHIRPS_DAILY_URL") or "https://data.chc.ucsb.edu/products/CHIRPS-2.0/global_daily/tifs/p05",
        "EO_CHIRPS_MONTHLY_URL": env.get("EO_CHIRPS_MONTHLY_URL") or "https://data.chc.ucsb.edu/products/CHIRPS-2.0/global_monthly/tifs",
        "EO_WORLDPOP_URL": env.get("EO_WORLDPOP_URL") or "https://data.worldpop.org/GIS/Population/Global_2000_2020_1km",
        "EO_WORLDPOP_COUNTRY": env.get("EO_WORLDPOP_COUNTRY") or "",  # ISO3 code, e.g. CAF
        # ERA5-Land from the Copernicus CDS (optional extra requirements-era5.txt): API root and personal key
        "EO_CDS_URL": _http_url(env, "EO_CDS_URL") or "https://cds.climate.copernicus.eu/api",
        "EO_CDS_KEY": _cds_key(env),  # a secret: only ever sent to EO_CDS_URL
        "EO_CDS_POLL_SECONDS": _seconds(env, "EO_CDS_POLL_SECONDS", 10),  # between two looks at a CDS request
        "EO_CDS_WAIT_SECONDS": _seconds(env, "EO_CDS_WAIT_SECONDS", 480),  # then the attempt fails; the step retries
        # Schedules with catch-up run at most this many missed periods back (older ones: a backfill)
        "SCHEDULE_CATCH_UP_MAX_PERIODS": min(_int(env, "SCHEDULE_CATCH_UP_MAX_PERIODS", 12, 1), 400),
        "EO_DHIS2_CHUNK_SIZE": _int(env, "EO_DHIS2_CHUNK_SIZE", 5000, 1),  # data values per POST
        # OpenHEXA: what pipelines call back (default: the URL the launch request came in on)
        "PIPELINE_CALLBACK_HOST": _http_url(env, "PIPELINE_CALLBACK_HOST"),
        "OPENHEXA_HTTP_TIMEOUT": _int(env, "OPENHEXA_HTTP_TIMEOUT", 10, 1),
        # Round-robin role source: another service's /api/v1/tts/round-robin/ (None: our own users)
        "TTS_SERVICE_URL": _http_url(env, "TTS_SERVICE_URL"),
        "TTS_SERVICE_TOKEN": env.get("TTS_SERVICE_TOKEN") or None,
        "LOG_FORMAT": env.get("LOG_FORMAT", "text").lower(),  # text or json (one object per line)
        # Outbox relay: batch size, attempts before an event is dead, first retry delay (doubles)
        "OUTBOX_BATCH_SIZE": _int(env, "OUTBOX_BATCH_SIZE", 200, 1),
        "OUTBOX_MAX_ATTEMPTS": _int(env, "OUTBOX_MAX_ATTEMPTS", 5, 1),
        "OUTBOX_RETRY_SECONDS": _int(env, "OUTBOX_RETRY_SECONDS", 2, 0),
        # Automation: events deeper than this in a causation chain fire no rules
        "AUTOMATION_MAX_DEPTH": _int(env, "AUTOMATION_MAX_DEPTH", 5, 1),
        # ... and one originating event's chain creates at most this many tasks, alerts, webhook deliveries
        "AUTOMATION_MAX_EFFECTS": _int(env, "AUTOMATION_MAX_EFFECTS", 100, 1),
        # Webhooks: private/loopback targets are refused unless their host is listed here
        "WEBHOOK_ALLOWED_HOSTS": [h.strip().lower() for h in env.get("WEBHOOK_ALLOWED_HOSTS", "").split(",") if h.strip()],
        "WEBHOOK_TIMEOUT_SECONDS": _int(env, "WEBHOOK_TIMEOUT_SECONDS", 5, 1),
        "WEBHOOK_MAX_ATTEMPTS": _int(env, "WEBHOOK_MAX_ATTEMPTS", 6, 1),
        "WEBHOOK_RETRY_SECONDS": _int(env, "WEBHOOK_RETRY_SECONDS", 5, 0),
        # /metrics: a Bearer token for Prometheus (users with VIEW_STATS may also read it when logged in)
        "METRICS_TOKEN": env.get("METRICS_TOKEN") or None,
        # The workflow seed's switches: metrics served at all (/metrics, and PROMETHEUS_PORT when set: the
        # exposition on its own port from each worker, for Prometheus on the internal network, no token)
        "METRICS_ENABLED": _bool(env, "METRICS_ENABLED", True),
        "PROMETHEUS_PORT": _int(env, "PROMETHEUS_PORT", 0, 0) or None,
        # A web process (wsgi.py) writes its counter increments to Redis this often (0: each at once).
        "METRICS_FLUSH_SECONDS": _seconds(env, "METRICS_FLUSH_SECONDS", 1.0),
        # Automation rules fire (false: events are still relayed and webhooks delivered; no rule runs)
        "WORKFLOW_ENABLED": _bool(env, "WORKFLOW_ENABLED", True),
        # The relay's sleep when no event is due (`flask outbox relay`; --interval overrides it)
        "WORKFLOW_WORKER_INTERVAL": _seconds(env, "WORKFLOW_WORKER_INTERVAL", 0.25),
    }
