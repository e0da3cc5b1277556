"""What history consumes: playback's progress and stops become resume positions, and a deleted
profile's history goes with it. Each handled event tells every instance the profile's kept
positions changed."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.notices import POSITIONS_CHANGED
from cinemesh.contracts.playback import PlaybackProgress, PlaybackStopped
from cinemesh.contracts.profiles import ProfileDeleted
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.history.service import History

CHANGES_POSITIONS = (PlaybackProgress.TYPE, PlaybackStopped.TYPE, ProfileDeleted.TYPE)


def consume_events(runtime: ServiceRuntime, history: History) -> None:
    async def positions_changed(event: Event) -> None:
        if event.type in CHANGES_POSITIONS:
            await runtime.changed(POSITIONS_CHANGED, [str(event.data["profile_id"])])

    async def on_playback(session: AsyncSession, event: Event) -> None:
        if event.type in (PlaybackProgress.TYPE, PlaybackStopped.TYPE):
            await history.record(session, PlaybackProgress.model_validate(event.data))

    async def forget_profile(session: AsyncSession, event: Event) -> None:
        await history.forget(
            session, profile_id=ProfileDeleted.model_validate(event.data).profile_id
        )

    # The handlers' names are the consumers' names (`history.on_playback`, ...): keep them.
    runtime.consume("playback.*", then=positions_changed)(on_playback)
    runtime.consume(ProfileDeleted.TYPE, then=positions_changed)(forget_profile)
