"""What the recommender consumes. Each handler runs in a transaction that also records the
event id, so a redelivered event changes nothing; a malformed payload is logged and skipped."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.contracts.profiles import MyListChanged, ProfileDeleted, ProfileUpserted, TitleRated
from cinemesh.platform.events import Event
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.recommender import service

log = logger("recommender.events")


def register_consumers(runtime: ServiceRuntime) -> None:
    @runtime.consume("history.watched")
    async def on_watched(session: AsyncSession, event: Event) -> None:
        await _apply(session, event)

    @runtime.consume("playback.*")
    async def on_playback(session: AsyncSession, event: Event) -> None:
        await _apply(session, event)

    @runtime.consume("profiles.>")
    async def on_profiles(session: AsyncSession, event: Event) -> None:
        await _apply(session, event)

    @runtime.consume("catalog.title.*")
    async def on_catalog(session: AsyncSession, event: Event) -> None:
        await _apply(session, event)


async def _apply(session: AsyncSession, event: Event) -> None:
    try:
        await apply_event(session, event)
    except ValueError as exc:  # a ValidationError or an unreadable timestamp
        log.error("skipping a malformed event", type=event.type, id=event.id, error=str(exc))


async def apply_event(session: AsyncSession, event: Event) -> None:
    """Fold one event into the tables; types the recommender does not use are ignored."""
    data = event.data
    if event.type == TitleWatched.TYPE:
        await service.record_watched(session, TitleWatched.model_validate(data))
    elif event.type in (PlaybackProgress.TYPE, PlaybackStopped.TYPE):
        await service.record_progress(session, PlaybackProgress.model_validate(data))
    elif event.type == TitleRated.TYPE:
        await service.record_rating(session, TitleRated.model_validate(data))
    elif event.type == MyListChanged.TYPE:
        await service.record_my_list(session, MyListChanged.model_validate(data))
    elif event.type == ProfileUpserted.TYPE:
        await service.record_profile(session, ProfileUpserted.model_validate(data))
    elif event.type == ProfileDeleted.TYPE:
        await service.forget_profile(session, ProfileDeleted.model_validate(data).profile_id)
    elif event.type == TitleUpserted.TYPE:
        await service.record_title(session, TitleUpserted.model_validate(data))
    elif event.type == TitleDeleted.TYPE:
        await service.forget_title(session, TitleDeleted.model_validate(data).title_id)
