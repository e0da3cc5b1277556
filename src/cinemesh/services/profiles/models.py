"""profiles' tables: profiles (5 slots per account), My List and thumbs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint, true
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import UtcDateTime


class Base(DeclarativeBase):
    pass


class Profile(Base):
    __tablename__ = "profiles"
    __table_args__ = (UniqueConstraint("account_id", "slot"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(32), index=True)
    slot: Mapped[int] = mapped_column(Integer)  # 0..4; the unique pair caps profiles per account
    name: Mapped[str] = mapped_column(String(40))
    avatar: Mapped[str] = mapped_column(String(40))
    language: Mapped[str] = mapped_column(String(16))
    # what the player switches a title to when the title has it; no subtitles when None
    audio_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    subtitle_language: Mapped[str | None] = mapped_column(String(16), nullable=True)
    kids: Mapped[bool] = mapped_column(Boolean)
    # the next episode starts by itself after the credits' countdown
    autoplay_next_episode: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=true()
    )
    maturity: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ListEntry(Base):
    __tablename__ = "my_list"

    profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Rating(Base):
    __tablename__ = "ratings"

    profile_id: Mapped[str] = mapped_column(
        ForeignKey("profiles.id", ondelete="CASCADE"), primary_key=True
    )
    title_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rating: Mapped[str] = mapped_column(String(8))
    rated_at: Mapped[datetime] = mapped_column(UtcDateTime)
