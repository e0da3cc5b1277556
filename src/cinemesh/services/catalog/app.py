"""catalog: titles, series and episodes, artwork, and which media asset plays each item."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from pydantic_settings import SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from cinemesh.contracts.media import AssetReady
from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import ServiceSettings, load_settings
from cinemesh.services.catalog.api import catalog_router
from cinemesh.services.catalog.service import Catalog

MIGRATIONS = Path(__file__).parent / "migrations"


class CatalogSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CINEMESH_CATALOG_", extra="ignore")


def create_app() -> FastAPI:
    settings = load_settings(CatalogSettings)
    runtime = ServiceRuntime(
        "catalog", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    catalog = Catalog(stage=runtime.stage)

    @runtime.consume(AssetReady.TYPE)
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

    return runtime.build_app(
        catalog_router(runtime, catalog, runtime.data_dir / "catalog" / "artwork")
    )
