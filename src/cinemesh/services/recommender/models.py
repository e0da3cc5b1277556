"""recommender's tables: what each profile did with each title, and the catalog view it
needs for filtering (genres, maturity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Float, Index, Integer, String, false
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class Interaction(Base):
    """One profile and one title: every signal folded into a few columns."""

    __tablename__ = "interactions"

    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plays: Mapped[int] = mapped_column(Integer, default=0)  # history.watched events
    progress: Mapped[float] = mapped_column(Float, default=0.0)  # furthest fraction played
    rating: Mapped[int] = mapped_column(Integer, default=0)  # -1 down, 0 none, 1 up
    in_list: Mapped[bool] = mapped_column(Boolean, default=False)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    # when rating and in_list were set: a late, older event must not undo a newer one
    rated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    listed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)

    __table_args__ = (Index("ix_interactions_profile_recent", "profile_id", "last_at"),)


class Title(Base):
    __tablename__ = "titles"

    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    genres: Mapped[list[str]] = mapped_column(JSON)
    maturity_rating: Mapped[str] = mapped_column(String(16))
    popularity: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # the catalog's revision of what is held; a deleted title stays as a tombstone, so that a
    # late, older upsert cannot bring it back
    revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    deleted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Profile(Base):
    __tablename__ = "profiles"

    profile_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    maturity: Mapped[str] = mapped_column(String(16))
