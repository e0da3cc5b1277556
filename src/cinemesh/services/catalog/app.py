"""catalog: titles, series and episodes, artwork, and which media asset plays each item."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.media_store import S3MediaStore, open_media_store
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.catalog.api import router
from cinemesh.services.catalog.artwork import ArtworkShelf
from cinemesh.services.catalog.events import consume_events
from cinemesh.services.catalog.service import Catalog
from cinemesh.services.catalog.settings import CatalogSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(CatalogSettings)
    runtime = ServiceRuntime(
        "catalog", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    catalog = Catalog(stage=runtime.stage)
    consume_events(runtime, catalog)
    store = open_media_store(runtime.data_dir)  # on S3, artwork is drawn once for all instances
    shelf = ArtworkShelf(
        runtime.data_dir / "catalog" / "artwork",
        store if isinstance(store, S3MediaStore) else None,
    )
    return runtime.build_app(router, provides=[catalog, shelf])
