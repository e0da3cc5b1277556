"""experiments' tables: the experiments, who was exposed to which cell (first and latest time a
treatment was shown), and what exposed profiles did afterwards (observations from events).
Moments are Unix milliseconds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, BigInteger, Float, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class StoredExperiment(Base):
    __tablename__ = "experiments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(String(2000), default="")
    layer: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(64))
    traffic: Mapped[float] = mapped_column(Float)  # share of the layer's profiles, 0..1
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{name, weight, treatments}]
    control: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)  # draft, running, stopped
    first_bucket: Mapped[int] = mapped_column(Integer, default=0)
    end_bucket: Mapped[int] = mapped_column(Integer, default=0)
    created_ms: Mapped[int] = mapped_column(BigInteger)
    started_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    stopped_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Exposure(Base):
    """A profile was shown its cell's experience (logged by whoever showed it)."""

    __tablename__ = "exposures"
    __table_args__ = (UniqueConstraint("experiment_id", "profile_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    experiment_id: Mapped[str] = mapped_column(String(64))
    profile_id: Mapped[str] = mapped_column(String(64), index=True)
    cell: Mapped[str] = mapped_column(String(64))
    first_ms: Mapped[int] = mapped_column(BigInteger)
    last_ms: Mapped[int] = mapped_column(BigInteger)
    times: Mapped[int] = mapped_column(Integer, default=1)
    shown: Mapped[list[str]] = mapped_column(JSON)  # the titles recommended at the latest one


class Observation(Base):
    """One thing a profile did (a play start, watch time, a play's QoE), from an event."""

    __tablename__ = "observations"
    __table_args__ = (Index("ix_observations_profile_at", "profile_id", "at_ms"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[str] = mapped_column(String(64))
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    at_ms: Mapped[int] = mapped_column(BigInteger)
