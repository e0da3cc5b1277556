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
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, ColumnElement, bindparam, case, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.history import FINISHED_FRACTION, TitleWatched
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.contracts.profiles import MyListChanged, ProfileUpserted, TitleRated
from cinemesh.platform.db import Database
from cinemesh.platform.outbox import processed_table
from cinemesh.services.recommender.models import Interaction, Profile, Title

if TYPE_CHECKING:  # only for a type: the trainer process, which imports this module, need not
    # import the event bus client that kept.py brings
    from cinemesh.platform.kept import KeptReads

# Older interactions weigh under 2^-10 at the default half-life: skipped. Defined here, not in
# collaborative.py, so the event consumer process does not import numpy and scipy for it.
RECENT_ITEMS = 50

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
Key = tuple[str, str]  # (profile_id, title_id)


async def mark_new(session: AsyncSession, *, consumer: str, event_ids: list[str]) -> set[str]:
    """Record the ids `consumer` handles in this transaction; returns those it had not yet.
    The first statement of the transaction writes, so SQLite takes its write lock at once."""
    if not event_ids:
        return set()
    now = datetime.now(UTC)
    rows = [
        {"consumer": consumer, "event_id": event_id, "processed_at": now}
        for event_id in dict.fromkeys(event_ids)
    ]
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    inserted = await session.execute(
        insert(processed_table)
        .values(rows)
        .on_conflict_do_nothing()
        .returning(processed_table.c.event_id)
    )
    return set(inserted.scalars())


class Fold:
    """The rows a batch of events changes: loaded with one query per table before the first
    event, changed in memory in event order, written by the session's flush at commit. Events
    folded one after another through one Fold leave the tables as one transaction per event
    would."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.interactions: dict[Key, Interaction] = {}
        self.titles: dict[str, Title] = {}
        self.profiles: dict[str, Profile] = {}

    async def load(self, *, keys: set[Key], titles: set[str], profiles: set[str]) -> None:
        """Read (and on PostgreSQL lock, in key order) the rows the events will change."""
        if keys:
            # profile IN .. AND title IN .., not (profile, title) IN ..: SQLite scans the whole
            # table for a row-value IN list, and uses the primary key for this one
            found = await self.session.scalars(
                select(Interaction)
                .where(
                    Interaction.profile_id.in_(sorted({p for p, _ in keys})),
                    Interaction.title_id.in_(sorted({t for _, t in keys})),
                )
                .order_by(Interaction.profile_id, Interaction.title_id)
                .with_for_update()
            )
            for row in found:
                if (row.profile_id, row.title_id) in keys:
                    self.interactions[(row.profile_id, row.title_id)] = row
        if titles:
            rows = await self.session.scalars(
                select(Title)
                .where(Title.title_id.in_(sorted(titles)))
                .order_by(Title.title_id)
                .with_for_update()
            )
            self.titles.update({r.title_id: r for r in rows})
        if profiles:
            found_profiles = await self.session.scalars(
                select(Profile)
                .where(Profile.profile_id.in_(sorted(profiles)))
                .order_by(Profile.profile_id)
                .with_for_update()
            )
            self.profiles.update({r.profile_id: r for r in found_profiles})

    def interaction(self, profile_id: str, title_id: str, at: datetime) -> Interaction:
        row = self.interactions.get((profile_id, title_id))
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
            self.session.add(row)
            self.interactions[(profile_id, title_id)] = row
        elif moment(row.last_at) < at:
            row.last_at = at
        return row

    def forget(self, rows: list[Any]) -> None:
        """Rows a delete statement is about to remove: out of the session and the fold."""
        for row in rows:
            self.session.expunge(row)


def record_watched(fold: Fold, event: TitleWatched) -> None:
    row = fold.interaction(event.profile_id, event.title_id, moment(event.at))
    row.plays += 1
    row.progress = max(row.progress, 1.0)


def record_progress(fold: Fold, event: PlaybackProgress) -> None:
    if event.duration_s <= 0:
        return
    fraction = min(1.0, max(0.0, event.position_s / event.duration_s))
    row = fold.interaction(event.profile_id, event.title_id, moment(event.at))
    row.progress = max(row.progress, fraction)


def record_rating(fold: Fold, event: TitleRated) -> None:
    at = moment(event.at)
    row = fold.interaction(event.profile_id, event.title_id, at)
    if newer(at, row.rated_at):
        row.rating, row.rated_at = RATINGS[event.rating], at


def record_my_list(fold: Fold, event: MyListChanged) -> None:
    at = moment(event.at)
    row = fold.interaction(event.profile_id, event.title_id, at)
    if newer(at, row.listed_at):
        row.in_list, row.listed_at = event.action == "added", at


def newer(at: datetime, last_set: datetime | None) -> bool:
    """Whether a signal from `at` replaces what was set at `last_set` (ties: the later event)."""
    return last_set is None or at >= moment(last_set)


def older(revision: int, held: int | None) -> bool:
    """Whether a catalog event is older than the row it would change (0: unknown, applies)."""
    return bool(revision) and revision < (held or 0)


def record_title(fold: Fold, event: TitleUpserted) -> None:
    row = fold.titles.get(event.title_id)
    if row is not None and older(event.revision, row.revision):
        return
    if row is None:
        row = fold.titles[event.title_id] = Title(title_id=event.title_id, revision=0)
        fold.session.add(row)
    row.name = event.title[:300]
    row.genres = list(event.genres)
    row.maturity_rating = event.maturity_rating
    row.popularity = float(event.popularity)
    row.updated_at = datetime.now(UTC)
    row.revision = event.revision or row.revision
    row.deleted = False


def forget_title(fold: Fold, event: TitleDeleted) -> None:
    """Leave a tombstone holding the delete's revision: the title leaves training at once, and
    an older upsert delivered later changes nothing."""
    row = fold.titles.get(event.title_id)
    if row is not None and older(event.revision, row.revision):
        return
    if row is None:
        row = fold.titles[event.title_id] = Title(
            title_id=event.title_id, name="", genres=[], maturity_rating="NC-17", popularity=0.0
        )
        fold.session.add(row)
    row.updated_at = datetime.now(UTC)
    row.revision = event.revision or row.revision or 0
    row.deleted = True


def record_profile(fold: Fold, event: ProfileUpserted) -> None:
    row = fold.profiles.get(event.profile_id)
    if row is None:
        row = fold.profiles[event.profile_id] = Profile(profile_id=event.profile_id)
        fold.session.add(row)
    row.maturity = event.maturity


async def forget_profile(fold: Fold, profile_id: str) -> None:
    gone = [key for key in fold.interactions if key[0] == profile_id]
    fold.forget([fold.interactions.pop(key) for key in gone])
    fold.forget([fold.profiles.pop(profile_id)] if profile_id in fold.profiles else [])
    for statement in (
        delete(Interaction).where(Interaction.profile_id == profile_id),
        delete(Profile).where(Profile.profile_id == profile_id),
    ):
        await fold.session.execute(statement, execution_options={"synchronize_session": False})


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


_PROFILE: BindParameter[str] = bindparam("profile_id")
LEFT_OUT = select(
    _titles_where(FINISHED),
    _titles_where(STARTED),
    _titles_where(DISLIKED),
    _titles_where(LIKED),
    _titles_where(LISTED),
    select(Profile.maturity).where(Profile.profile_id == _PROFILE).scalar_subquery(),
).where(_I.profile_id == _PROFILE)
NEWEST = (
    select(_I.title_id, _I.plays, _I.progress, _I.rating, _I.in_list)
    .where(_I.profile_id == _PROFILE, POSITIVE)
    .order_by(_I.last_at.desc(), _I.title_id)
    .limit(bindparam("recent"))
)  # built once: building and keying these per request cost about 0.5 ms


async def profile_history(
    conn: AsyncConnection, profile_id: str, *, recent: int = RECENT_ITEMS
) -> ProfileHistory:
    """What the rows need of one profile: its `recent` newest positive signals and the sets of
    titles to leave out, in two statements that return about `recent` rows at most."""
    sets = (await conn.execute(LEFT_OUT, {"profile_id": profile_id})).one()
    newest = await conn.execute(NEWEST, {"profile_id": profile_id, "recent": recent})
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


@dataclass(frozen=True)
class Histories:
    """Profile histories as this instance reads them: from the database once, then kept until
    the consumer process says the profile changed (platform/kept.py)."""

    db: Database
    kept: KeptReads[ProfileHistory]

    async def of(self, profile_id: str) -> ProfileHistory:
        async def read() -> ProfileHistory:
            async with self.db.connection() as conn:
                return await profile_history(conn, profile_id)

        return await self.kept.read_through(profile_id, read)


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


async def training_data(conn: AsyncConnection) -> TrainingData:
    """Every positive signal and the catalog view, read as plain rows (no ORM objects)."""
    signals = await conn.execute(
        select(
            _I.profile_id, _I.title_id, _I.plays, _I.progress, _I.rating, _I.in_list, _I.last_at
        ).where(POSITIVE)
    )
    interactions = [
        (
            profile_id,
            title_id,
            signal_weight(plays=plays, progress=progress, rating=rating, in_list=listed),
            moment(last_at).timestamp(),
        )
        for profile_id, title_id, plays, progress, rating, listed, last_at in signals
    ]
    t = Title.__table__.c
    catalog = await conn.execute(
        select(t.title_id, t.name, t.genres, t.maturity_rating, t.popularity, t.updated_at).where(
            t.deleted.is_(False)
        )
    )
    titles = [
        {
            "title_id": title_id,
            "name": name,
            "genres": list(genres or []),
            "maturity_rating": maturity_rating,
            "popularity": popularity,
            "updated_at": moment(updated_at).isoformat(),
        }
        for title_id, name, genres, maturity_rating, popularity, updated_at in catalog
    ]
    return TrainingData(interactions, titles)
