"""`UtcDateTime` keeps moments in UTC and reads them back aware on SQLite, which stores no
offset, as on PostgreSQL: an API answer made from a row always carries its offset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cinemesh.platform.db import Database, UtcDateTime

PARIS_SUMMER = timezone(timedelta(hours=2))


class Base(DeclarativeBase):
    pass


class Moment(Base):
    __tablename__ = "moments"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'moments.db'}")
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    yield db
    await db.dispose()


async def test_moments_come_back_aware_and_in_utc(database: Database) -> None:
    noon_utc = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    async with database.transaction() as session:
        session.add(Moment(name="utc", at=noon_utc))
        session.add(Moment(name="paris", at=noon_utc.astimezone(PARIS_SUMMER)))
        session.add(Moment(name="naive", at=noon_utc.replace(tzinfo=None)))
    async with database.session() as session:
        found = {m.name: m.at for m in (await session.scalars(select(Moment))).all()}
    assert found == {"utc": noon_utc, "paris": noon_utc, "naive": noon_utc}
    assert all(at.utcoffset() == timedelta(0) for at in found.values())
    assert found["paris"].isoformat() == "2026-06-01T12:00:00+00:00"


async def test_comparisons_in_queries_use_the_same_moments(database: Database) -> None:
    noon_utc = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    async with database.transaction() as session:
        session.add(Moment(name="noon", at=noon_utc))
    before = noon_utc.astimezone(PARIS_SUMMER) - timedelta(minutes=1)  # 13:59 in Paris
    async with database.session() as session:
        later = (await session.scalars(select(Moment.name).where(Moment.at > before))).all()
    assert later == ["noon"]
