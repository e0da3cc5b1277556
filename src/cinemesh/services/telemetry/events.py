"""What telemetry consumes: every `playback.*` event names a session, its account and what it
plays; a beacon is taken only for a session known this way to be the caller's."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.playback import PlaybackProgress, PlaybackStarted, PlaybackStopped
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.telemetry.service import Telemetry


def consume_events(runtime: ServiceRuntime, telemetry: Telemetry) -> None:
    async def learn_session(session: AsyncSession, event: Event) -> None:
        told: PlaybackStarted | PlaybackProgress
        if event.type == PlaybackStarted.TYPE:
            told = PlaybackStarted.model_validate(event.data)
        elif event.type in (PlaybackProgress.TYPE, PlaybackStopped.TYPE):
            told = PlaybackProgress.model_validate(event.data)
        else:  # a kind of playback event this version does not know
            return
        await telemetry.learn_session(
            session,
            session_id=told.session_id,
            account_id=told.account_id,
            profile_id=told.profile_id,
            title_id=told.title_id,
            episode_id=told.episode_id,
        )

    # The handler's name is the consumer's name (`telemetry.learn_session`): keep it.
    runtime.consume("playback.*")(learn_session)
