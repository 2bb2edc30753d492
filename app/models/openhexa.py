"""OpenHEXA connection settings (Iaso's `openhexa-config` slug). The token is stored encrypted."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import Base, UTCDateTime, utcnow


class OpenHexaConfig(Base):
    __tablename__ = "openhexa_configs"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(60), unique=True, default="openhexa-config")
    openhexa_url: Mapped[str] = mapped_column(String(500))
    token_encrypted: Mapped[str] = mapped_column(Text)
    workspace_slug: Mapped[str] = mapped_column(String(200))
    lqas_pipeline_code: Mapped[str | None] = mapped_column(String(200))
    poll_delay_seconds: Mapped[int] = mapped_column(Integer, default=2)
    timeout_minutes: Mapped[int] = mapped_column(Integer, default=10)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
