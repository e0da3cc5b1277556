"""What catalog consumes: a media asset that is ready becomes playable on its title; the
markers the encoder detected in a season's audio mark its episodes (unless an admin did)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.media import AssetReady, MarkersDetected
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.catalog.service import Catalog


def consume_events(runtime: ServiceRuntime, catalog: Catalog) -> None:
    async def link_ready_asset(session: AsyncSession, event: Event) -> None:
        ready = AssetReady.model_validate(event.data)
        asset = {
            "asset_id": ready.asset_id,
            "duration_s": ready.duration_s,
            "renditions": [r.model_dump() for r in ready.renditions],
            "master_playlist": ready.master_playlist,
        }
        await catalog.link_asset(
            session, title_id=ready.title_id, episode_id=ready.episode_id, asset=asset
        )

    async def mark_detected(session: AsyncSession, event: Event) -> None:
        await catalog.take_detected(session, MarkersDetected.model_validate(event.data))

    runtime.consume(AssetReady.TYPE)(link_ready_asset)
    runtime.consume(MarkersDetected.TYPE)(mark_detected)
