"""encoder: source uploads, the encode queue's workers, job status and assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.encoder.api import router
from cinemesh.services.encoder.events import consume_events
from cinemesh.services.encoder.package import MediaStore
from cinemesh.services.encoder.service import Jobs
from cinemesh.services.encoder.settings import EncoderSettings
from cinemesh.services.encoder.worker import EncodeWorker

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(EncoderSettings)
    runtime = ServiceRuntime(
        "encoder", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    store = MediaStore(runtime.data_dir / "media")
    jobs = Jobs(runtime.database, runtime.stage)
    consume_events(runtime, EncodeWorker(runtime, jobs, store, settings))
    return runtime.build_app(router, provides=[jobs, store, settings])
