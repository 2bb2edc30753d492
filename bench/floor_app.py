"""The floor: Fieldflow's stack with nothing but a request's own work, to measure against in the same run.

Flask + flask-jwt-extended + Flask-SQLAlchemy + psycopg, served like Fieldflow (gunicorn gthread):
- `GET /floor/me`: an authenticated read — the Bearer token checked, one user row loaded, JSON out;
- `POST /floor/rows`: an authenticated write — the token checked, the JSON body read, one row
  INSERTed and committed, 201 with its id.

Used by the HTTP benches through `bench/loadgen.py` (`start_floor`, `floor_token`); its two tables
(`floor_users`, `floor_rows`) live in the bench database next to Fieldflow's. Settings from the
environment: FLOOR_DATABASE_URL, JWT_SECRET_KEY.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from flask_jwt_extended import JWTManager, create_access_token, get_jwt_identity, jwt_required
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class FloorUser(Base):
    __tablename__ = "floor_users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    role: Mapped[str] = mapped_column(String(40))
    is_active: Mapped[bool] = mapped_column(default=True)


class FloorRow(Base):
    __tablename__ = "floor_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("floor_users.id"))
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def create_floor_app(database_url: str | None = None, jwt_secret: str | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SQLALCHEMY_DATABASE_URI=database_url or os.environ["FLOOR_DATABASE_URL"],
        JWT_SECRET_KEY=jwt_secret or os.environ["JWT_SECRET_KEY"],
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": False, "pool_size": 8},
    )
    db.init_app(app)
    JWTManager(app)

    @app.get("/floor/me")
    @jwt_required()
    def me():
        user = db.session.get(FloorUser, int(get_jwt_identity()))
        return jsonify(id=user.id, username=user.username, role=user.role, is_active=user.is_active)

    @app.post("/floor/rows")
    @jwt_required()
    def add_row():
        body = request.get_json()
        if not isinstance(body, dict):
            return jsonify(error="a JSON object is expected"), 400
        row = FloorRow(user_id=int(get_jwt_identity()), body=body, created_at=datetime.now(timezone.utc))
        db.session.add(row)
        db.session.commit()
        return jsonify(id=row.id), 201

    @app.get("/healthz")
    def healthz():
        return "ok"

    return app


def setup_floor(database_url: str, jwt_secret: str) -> str:
    """(Re)create the floor's tables with one user; returns a Bearer token for it."""
    app = create_floor_app(database_url, jwt_secret)
    with app.app_context():
        Base.metadata.drop_all(db.engine)
        Base.metadata.create_all(db.engine)
        user = FloorUser(username="floor", role="coordinator")
        db.session.add(user)
        db.session.commit()
        token = create_access_token(identity=str(user.id))
        db.session.remove()
        db.engine.dispose()
    return token


if os.environ.get("FLOOR_DATABASE_URL"):
    app = create_floor_app()  # gunicorn bench.floor_app:app
