"""playback's tables: sessions with their stream leases, and its own view of what is
playable (titles' maturity and ready assets, learnt from events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class PlaybackSession(Base):
    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64), index=True)
    profile_id: Mapped[str] = mapped_column(String(64))
    title_id: Mapped[str] = mapped_column(String(64))
    episode_id: Mapped[str] = mapped_column(String(80))
    asset_id: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[float] = mapped_column(Float)
    position_s: Mapped[float] = mapped_column(Float)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    lease_expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    device: Mapped[str] = mapped_column(String(64), default="", server_default="")


class AccountStreams(Base):
    """One row per account, written first in a start so concurrent starts serialize."""

    __tablename__ = "account_streams"

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    touched_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PlayableTitle(Base):
    __tablename__ = "titles"

    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    maturity_rating: Mapped[str] = mapped_column(String(8))


class ReadyAsset(Base):
    __tablename__ = "assets"

    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    episode_id: Mapped[str] = mapped_column(String(80), primary_key=True)  # "" for a movie
    asset_id: Mapped[str] = mapped_column(String(64))
    duration_s: Mapped[float] = mapped_column(Float)
    renditions: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class KnownProfile(Base):
    """A profile's account and maturity, learnt from `profiles.profile.*` events."""

    __tablename__ = "profiles"

    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    maturity: Mapped[str] = mapped_column(String(8))


class DeviceThroughput(Base):
    """What a profile's player measured on one device: the start of its next play."""

    __tablename__ = "throughput"

    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    device: Mapped[str] = mapped_column(String(64), primary_key=True)  # "" when unnamed
    bandwidth_bps: Mapped[float] = mapped_column(Float)
    samples: Mapped[int] = mapped_column(Integer)
    measured_at: Mapped[datetime] = mapped_column(UtcDateTime)
