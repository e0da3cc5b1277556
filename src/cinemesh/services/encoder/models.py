"""encoder's tables: ingest jobs and the assets they produced."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(String(64), index=True)
    episode_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    asset_id: Mapped[str] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(200))
    source_info: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), index=True)
    percent: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # the subtitle tracks (ids) this job publishes, chosen when it was queued
    subtitles: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Asset(Base):
    """A published package; the primary key is what makes `media.asset.ready` happen once."""

    __tablename__ = "assets"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), index=True)
    title_id: Mapped[str] = mapped_column(String(64), index=True)
    episode_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    duration_s: Mapped[float] = mapped_column(Float)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    ladder: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class SubtitleTrack(Base):
    """A checked subtitle or caption file of a title (or one of its episodes), as WebVTT; the
    next package of that title or episode publishes the newest track of each language and
    kind."""

    __tablename__ = "subtitle_tracks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(String(64), index=True)
    episode_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    language: Mapped[str] = mapped_column(String(35))
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    webvtt: Mapped[str] = mapped_column(Text)
    cues: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
