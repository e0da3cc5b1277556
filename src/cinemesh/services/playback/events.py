"""What playback consumes: its own view of what is playable and who may watch it, the titles'
maturity (catalog), ready assets (media) and profiles' accounts and maturity (profiles)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.media import AssetReady
from cinemesh.contracts.profiles import ProfileDeleted, ProfileUpserted
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.playback.service import Playback


def consume_events(runtime: ServiceRuntime, playback: Playback) -> None:
    async def learn_title(session: AsyncSession, event: Event) -> None:
        title = TitleUpserted.model_validate(event.data)
        await playback.learn_title(
            session, title_id=title.title_id, maturity_rating=title.maturity_rating
        )

    async def forget_title(session: AsyncSession, event: Event) -> None:
        await playback.forget_title(session, TitleDeleted.model_validate(event.data).title_id)

    async def learn_asset(session: AsyncSession, event: Event) -> None:
        ready = AssetReady.model_validate(event.data)
        await playback.learn_asset(
            session,
            title_id=ready.title_id,
            episode_id=ready.episode_id,
            asset_id=ready.asset_id,
            duration_s=ready.duration_s,
            renditions=[r.model_dump() for r in ready.renditions],
        )

    async def learn_profile(session: AsyncSession, event: Event) -> None:
        if event.type == ProfileDeleted.TYPE:
            profile_id = ProfileDeleted.model_validate(event.data).profile_id
            await playback.forget_profile(session, profile_id)
        elif event.type == ProfileUpserted.TYPE:
            profile = ProfileUpserted.model_validate(event.data)
            await playback.learn_profile(
                session,
                profile_id=profile.profile_id,
                account_id=profile.account_id,
                maturity=profile.maturity,
            )

    # The handlers' names are the consumers' names (`playback.learn_title`, ...): keep them.
    runtime.consume(TitleUpserted.TYPE)(learn_title)
    runtime.consume(TitleDeleted.TYPE)(forget_title)
    runtime.consume(AssetReady.TYPE)(learn_asset)
    runtime.consume("profiles.profile.*")(learn_profile)
