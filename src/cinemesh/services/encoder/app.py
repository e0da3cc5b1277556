"""encoder: source uploads, the encode queue's workers, job status and assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.media_store import MediaStore, open_media_store
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.encoder.api import router
from cinemesh.services.encoder.events import consume_events
from cinemesh.services.encoder.package import MediaFolders
from cinemesh.services.encoder.service import Jobs, SubtitleTracks
from cinemesh.services.encoder.settings import EncoderSettings
from cinemesh.services.encoder.sources import SourceShelf
from cinemesh.services.encoder.worker import EncodeWorker

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(EncoderSettings)
    runtime = ServiceRuntime(
        "encoder", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    folders = MediaFolders(runtime.data_dir / "media")
    store: MediaStore = open_media_store(runtime.data_dir)
    jobs = Jobs(runtime.database, runtime.stage)
    tracks = SubtitleTracks(runtime.database)
    worker = EncodeWorker(
        runtime, jobs, tracks=tracks, folders=folders, store=store, settings=settings
    )
    consume_events(runtime, worker)
    sources = SourceShelf(folders, store)
    return runtime.build_app(router, provides=[jobs, tracks, folders, sources, settings])
