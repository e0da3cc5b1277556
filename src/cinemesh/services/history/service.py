"""The history domain: resume positions, continue watching, and when a title counts as watched."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.history import FINISHED_FRACTION, TitleWatched
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.platform.kept import KeptReads
from cinemesh.services.history.models import Progress

Stage = Callable[..., Awaitable[Any]]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def view(row: Progress) -> dict[str, Any]:
    return {
        "title_id": row.title_id,
        "episode_id": row.episode_id or None,
        "position_s": row.position_s,
        "duration_s": row.duration_s,
        "finished": row.finished,
        "progress": round(row.position_s / row.duration_s, 4) if row.duration_s else 0.0,
        "updated_at": _aware(row.updated_at).isoformat(),
    }


@dataclass
class History:
    stage: Stage

    async def record(self, session: AsyncSession, progress: PlaybackProgress) -> None:
        """Keep the newest position; announce `history.watched` the first time it passes 95%."""
        at = _aware(datetime.fromisoformat(progress.at))
        key = (progress.profile_id, progress.title_id, progress.episode_id or "")
        row = await session.get(Progress, key)
        if row is not None and _aware(row.updated_at) > at:
            return  # an older event delivered late
        finished = (
            bool(progress.duration_s)
            and progress.position_s >= FINISHED_FRACTION * progress.duration_s
        )
        if row is None:
            row = Progress(
                profile_id=key[0],
                title_id=key[1],
                episode_id=key[2],
                account_id=progress.account_id,
                position_s=progress.position_s,
                duration_s=progress.duration_s,
                finished=False,
                updated_at=at,
            )
            session.add(row)
        was_finished = row.finished
        row.position_s, row.duration_s, row.updated_at = (
            progress.position_s,
            progress.duration_s,
            at,
        )
        row.finished = finished
        if finished and not was_finished:
            event = TitleWatched(
                profile_id=key[0],
                title_id=key[1],
                episode_id=progress.episode_id,
                at=at.isoformat(),
            )
            await self.stage(session, TitleWatched.TYPE, event.model_dump(mode="json"), key=key[0])

    async def forget(self, session: AsyncSession, *, profile_id: str) -> None:
        """A deleted profile's history goes with it."""
        await session.execute(delete(Progress).where(Progress.profile_id == profile_id))

    async def views(self, session: AsyncSession, *, profile_id: str) -> Seen:
        """Every position the profile has, most recent first, each with its account."""
        rows = await session.scalars(
            select(Progress)
            .where(Progress.profile_id == profile_id)
            .order_by(Progress.updated_at.desc())
        )
        return [(row.account_id, view(row)) for row in rows]


# What `History.views` reads once and each instance keeps between requests: (account, view)
# pairs, so a request picks its account's views without copying them.
Seen = list[tuple[str, dict[str, Any]]]
Views = list[dict[str, Any]]


@dataclass(frozen=True)
class KeptPositions:
    """The positions this instance keeps per profile until an event changes them."""

    positions: KeptReads[Seen]


def of_account(seen: Seen, account_id: str) -> Views:
    """Another account's profile has no history, as far as this account can tell."""
    return [view for owner, view in seen if owner == account_id]


def continue_watching(views: Views, *, up_next: bool = False) -> Views:
    """Most recent first, one entry per title, finished titles left out; with `up_next`, a
    series whose latest viewing is a finished episode stays, marked `up_next`, for the caller
    to replace with the episode after it (history does not know the order of episodes)."""
    titles: set[str] = set()
    items = []
    for item in views:
        if item["title_id"] in titles:
            continue
        titles.add(item["title_id"])
        if not item["finished"]:
            items.append(item)
        elif up_next and item["episode_id"]:
            items.append({**item, "up_next": True})
    return items


def watched(views: Views) -> Views:
    return [item for item in views if item["finished"]]


def progress(views: Views, *, title_id: str, episode_id: str | None) -> dict[str, Any] | None:
    for item in views:
        if item["title_id"] == title_id and (
            episode_id is None or item["episode_id"] == episode_id
        ):
            return item
    return None
