"""telemetry's tables: the playback sessions it knows of (from playback's events) and the
beacons players sent for them. Moments are Unix milliseconds: beacons are only ever asked for
by a window ending now, and integers compare the same on every database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class KnownSession(Base):
    """Whose a playback session is and what it plays, learnt from `playback.*` events."""

    __tablename__ = "sessions"

    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(64))
    title_id: Mapped[str] = mapped_column(String(64))
    episode_id: Mapped[str] = mapped_column(String(80), default="")
    seen_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class StoredBeacon(Base):
    """One accepted beacon, with the title and plan it counts for."""

    __tablename__ = "beacons"
    __table_args__ = (UniqueConstraint("session_id", "seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    received_ms: Mapped[int] = mapped_column(BigInteger, index=True)
    title_id: Mapped[str] = mapped_column(String(64))
    plan: Mapped[str] = mapped_column(String(16))
    edge: Mapped[str] = mapped_column(String(200), default="")  # "" when the player did not say
    ttff_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    played_ms: Mapped[int] = mapped_column(Integer)
    stalls: Mapped[int] = mapped_column(Integer)
    rebuffer_ms: Mapped[int] = mapped_column(Integer)
    bitrate_kbps: Mapped[float | None] = mapped_column(Float, nullable=True)
    height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    switches: Mapped[int] = mapped_column(Integer)
    dropped_frames: Mapped[int] = mapped_column(Integer)
    decoded_frames: Mapped[int] = mapped_column(Integer)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    error_count: Mapped[int] = mapped_column(Integer)
    fatal: Mapped[bool] = mapped_column(Boolean)
