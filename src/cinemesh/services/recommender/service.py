"""The recommender's data: events folded into one row per (profile, title), the catalog view
(genres, maturity) and what a profile's history looks like to the models.

How signals become one implicit weight (`signal_weight`):
- watched to the end (`history.watched`): 1.0, each rewatch +0.25 (up to +1.0);
- started but not finished (`playback.progress`): 0.2 + 0.6 * furthest fraction played;
- thumbs up: at least 1.0 and +0.5; thumbs down: 0 (no evidence of taste, and never shown);
- in My List: at least 0.5.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cinemesh.contracts.catalog import TitleUpserted
from cinemesh.contracts.history import FINISHED_FRACTION, TitleWatched
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.contracts.profiles import MyListChanged, ProfileUpserted, TitleRated
from cinemesh.services.recommender.collaborative import RECENT_ITEMS
from cinemesh.services.recommender.models import Interaction, Profile, Title

RATINGS = {"up": 1, "down": -1, "none": 0}


def moment(value: str | datetime | None) -> datetime:
    """An aware datetime from an event's ISO string (naive means UTC)."""
    if value is None:
        return datetime.now(UTC)
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def signal_weight(*, plays: int, progress: float, rating: int, in_list: bool) -> float:
    """How much one (profile, title) row says about the profile's taste (module docstring)."""
    if rating < 0:
        return 0.0
    if plays > 0:
        weight = 1.0 + 0.25 * min(plays - 1, 4)
    elif progress > 0:
        weight = 0.2 + 0.6 * min(progress, 1.0)
    else:
        weight = 0.0
    if rating > 0:
        weight = max(weight, 1.0) + 0.5
    if in_list:
        weight = max(weight, 0.5)
    return weight


def row_weight(row: Interaction) -> float:
    return signal_weight(
        plays=row.plays, progress=row.progress, rating=row.rating, in_list=row.in_list
    )


# --- events in ---------------------------------------------------------------------------
async def _row(session: AsyncSession, profile_id: str, title_id: str, at: datetime) -> Interaction:
    row = await session.get(Interaction, (profile_id, title_id), with_for_update=True)
    if row is None:
        row = Interaction(
            profile_id=profile_id,
            title_id=title_id,
            plays=0,
            progress=0.0,
            rating=0,
            in_list=False,
            last_at=at,
        )
        session.add(row)
    elif moment(row.last_at) < at:
        row.last_at = at
    return row


async def record_watched(session: AsyncSession, event: TitleWatched) -> None:
    row = await _row(session, event.profile_id, event.title_id, moment(event.at))
    row.plays += 1
    row.progress = max(row.progress, 1.0)


async def record_progress(session: AsyncSession, event: PlaybackProgress) -> None:
    if event.duration_s <= 0:
        return
    fraction = min(1.0, max(0.0, event.position_s / event.duration_s))
    row = await _row(session, event.profile_id, event.title_id, moment(event.at))
    row.progress = max(row.progress, fraction)


async def record_rating(session: AsyncSession, event: TitleRated) -> None:
    row = await _row(session, event.profile_id, event.title_id, moment(event.at))
    row.rating = RATINGS[event.rating]


async def record_my_list(session: AsyncSession, event: MyListChanged) -> None:
    row = await _row(session, event.profile_id, event.title_id, moment(event.at))
    row.in_list = event.action == "added"


async def record_title(session: AsyncSession, event: TitleUpserted) -> None:
    row = await session.get(Title, event.title_id, with_for_update=True)
    if row is None:
        row = Title(title_id=event.title_id)
        session.add(row)
    row.name = event.title[:300]
    row.genres = list(event.genres)
    row.maturity_rating = event.maturity_rating
    row.popularity = float(event.popularity)
    row.updated_at = datetime.now(UTC)


async def forget_title(session: AsyncSession, title_id: str) -> None:
    await session.execute(delete(Title).where(Title.title_id == title_id))


async def record_profile(session: AsyncSession, event: ProfileUpserted) -> None:
    row = await session.get(Profile, event.profile_id, with_for_update=True)
    if row is None:
        session.add(Profile(profile_id=event.profile_id, maturity=event.maturity))
    else:
        row.maturity = event.maturity


async def forget_profile(session: AsyncSession, profile_id: str) -> None:
    await session.execute(delete(Interaction).where(Interaction.profile_id == profile_id))
    await session.execute(delete(Profile).where(Profile.profile_id == profile_id))


# --- what the models read ------------------------------------------------------------------
@dataclass
class ProfileHistory:
    """A profile as the rows see it: positive signals newest first (from the database, the
    newest RECENT_ITEMS, all the models score), and what to leave out."""

    profile_id: str
    positives: list[tuple[str, float]] = field(default_factory=list)
    finished: set[str] = field(default_factory=set)
    started: set[str] = field(default_factory=set)
    disliked: set[str] = field(default_factory=set)
    liked: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    maturity: str | None = None

    @property
    def seen(self) -> set[str]:
        """Titles kept out of personal rows: finished, in progress, rated, in My List."""
        return self.finished | self.started | self.disliked | self.liked | self.listed


# Which (profile, title) rows fall in each set, as SQL, so a profile is read in two statements
# whatever its length: the sets come back as one aggregated string each, the positives as
# the newest RECENT_ITEMS rows. Each must agree with `signal_weight` and `ProfileHistory`.
_I = Interaction.__table__.c
FINISHED = (_I.plays > 0) | (_I.progress >= FINISHED_FRACTION)
STARTED = ~FINISHED & (_I.progress > 0)
DISLIKED = _I.rating < 0
LIKED = _I.rating > 0
LISTED = _I.in_list.is_(True)
POSITIVE = (_I.rating >= 0) & ((_I.plays > 0) | (_I.progress > 0) | LIKED | LISTED)
SEPARATOR = "\x1f"  # never in an id: ids are printable


def _titles_where(condition: ColumnElement[bool]) -> ColumnElement[str]:
    return func.aggregate_strings(case((condition, _I.title_id)), SEPARATOR)


def _split(joined: str | None) -> set[str]:
    return set(joined.split(SEPARATOR)) if joined else set()


async def profile_history(
    conn: AsyncConnection, profile_id: str, *, recent: int = RECENT_ITEMS
) -> ProfileHistory:
    """What the rows need of one profile: its `recent` newest positive signals and the sets of
    titles to leave out, in two statements that return about `recent` rows at most."""
    maturity = select(Profile.maturity).where(Profile.profile_id == profile_id)
    sets = (
        await conn.execute(
            select(
                _titles_where(FINISHED),
                _titles_where(STARTED),
                _titles_where(DISLIKED),
                _titles_where(LIKED),
                _titles_where(LISTED),
                maturity.scalar_subquery(),
            ).where(_I.profile_id == profile_id)
        )
    ).one()
    newest = await conn.execute(
        select(_I.title_id, _I.plays, _I.progress, _I.rating, _I.in_list)
        .where(_I.profile_id == profile_id, POSITIVE)
        .order_by(_I.last_at.desc(), _I.title_id)
        .limit(recent)
    )
    return ProfileHistory(
        profile_id,
        positives=[
            (title, signal_weight(plays=plays, progress=progress, rating=rating, in_list=listed))
            for title, plays, progress, rating, listed in newest
        ],
        finished=_split(sets[0]),
        started=_split(sets[1]),
        disliked=_split(sets[2]),
        liked=_split(sets[3]),
        listed=_split(sets[4]),
        maturity=sets[5],
    )


async def interaction_view(session: AsyncSession, profile_id: str) -> list[dict[str, Any]]:
    """Every row of one profile, for operators and tests."""
    rows = await session.scalars(
        select(Interaction)
        .where(Interaction.profile_id == profile_id)
        .order_by(Interaction.title_id)
    )
    return [
        {
            "title_id": r.title_id,
            "plays": r.plays,
            "progress": r.progress,
            "rating": r.rating,
            "in_list": r.in_list,
            "weight": round(row_weight(r), 4),
            "last_at": moment(r.last_at).isoformat(),
        }
        for r in rows
    ]


@dataclass(frozen=True)
class TrainingData:
    """Everything a retrain reads, in one consistent pass."""

    interactions: list[tuple[str, str, float, float]]  # profile, title, weight, unix time
    titles: list[dict[str, Any]]

    @property
    def fingerprint(self) -> str:
        latest = max((r[3] for r in self.interactions), default=0.0)
        total = round(sum(r[2] for r in self.interactions), 3)
        catalog = sorted(f"{t['title_id']}@{t['updated_at']}" for t in self.titles)
        digest = hashlib.sha256("\n".join(catalog).encode()).hexdigest()[:16]
        return f"{len(self.interactions)}:{total}:{latest}:{digest}"


async def training_data(session: AsyncSession) -> TrainingData:
    interactions = [
        (r.profile_id, r.title_id, row_weight(r), moment(r.last_at).timestamp())
        for r in await session.scalars(select(Interaction))
        if row_weight(r) > 0
    ]
    titles = [
        {
            "title_id": t.title_id,
            "name": t.name,
            "genres": list(t.genres or []),
            "maturity_rating": t.maturity_rating,
            "popularity": t.popularity,
            "updated_at": moment(t.updated_at).isoformat(),
        }
        for t in await session.scalars(select(Title))
    ]
    return TrainingData(interactions, titles)
