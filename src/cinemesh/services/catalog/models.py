"""catalog's tables: titles, their genres, episodes, links to media assets, and the intro and
credits markers of movies and episodes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class Title(Base):
    __tablename__ = "titles"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    runtime_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    maturity_rating: Mapped[str] = mapped_column(String(8))
    maturity_level: Mapped[int] = mapped_column(Integer, index=True)
    synopsis: Mapped[str] = mapped_column(Text, default="")
    genres: Mapped[list[str]] = mapped_column(JSON, default=list)
    cast: Mapped[list[str]] = mapped_column(JSON, default=list)
    crew: Mapped[list[str]] = mapped_column(JSON, default=list)
    popularity: Mapped[float] = mapped_column(Float, default=0.0, index=True)
    available: Mapped[bool] = mapped_column(Boolean, default=True)
    asset: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    intro_start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    intro_end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    credits_start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TitleGenre(Base):
    __tablename__ = "title_genres"

    title_id: Mapped[str] = mapped_column(
        ForeignKey("titles.id", ondelete="CASCADE"), primary_key=True
    )
    genre: Mapped[str] = mapped_column(String(40), primary_key=True, index=True)


class Episode(Base):
    __tablename__ = "episodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(ForeignKey("titles.id", ondelete="CASCADE"), index=True)
    season: Mapped[int] = mapped_column(Integer)
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    runtime_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    synopsis: Mapped[str] = mapped_column(Text, default="")
    asset: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    intro_start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    intro_end_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    credits_start_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    # "admin" when an admin set them (detection never overwrites those), "detected" when the
    # encoder found them in the season's audio, None while there are none
    markers_source: Mapped[str | None] = mapped_column(String(16), nullable=True)
