"""Flask extensions and the Redis / RQ accessors."""
from __future__ import annotations

import redis
from flask import current_app
from flask_jwt_extended import JWTManager
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from htmx_flask import Htmx
from rq import Queue

from app.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
login_manager = LoginManager()
jwt = JWTManager()
csrf = CSRFProtect()
htmx = Htmx()


def redis_url() -> str:
    """The Redis URL in use: REDIS_URL, else the embedded server for this instance."""
    url = current_app.config.get("REDIS_URL")
    if not url:
        from app.embedded_redis import embedded_redis_url

        url = embedded_redis_url(current_app.instance_path)
        current_app.config["REDIS_URL"] = url
    return url


def get_redis() -> redis.Redis:
    """One Redis client per app (connection-pooled)."""
    client = current_app.extensions.get("fieldflow_redis")
    if client is None:
        client = redis.Redis.from_url(redis_url(), socket_connect_timeout=2, socket_timeout=10)
        current_app.extensions["fieldflow_redis"] = client
    return client


def get_queue(name: str | None = None) -> Queue:
    """The RQ queue jobs go to."""
    return Queue(name or current_app.config["RQ_QUEUE"], connection=get_redis())
