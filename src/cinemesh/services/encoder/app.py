"""encoder: source uploads, the encode queue's workers, job status and assets."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.encoder.api import encoder_router
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
    assert runtime.db is not None
    store = MediaStore(runtime.data_dir / "media")
    jobs = Jobs(runtime.db, runtime.stage)
    worker = EncodeWorker(runtime, jobs, store, settings)

    @runtime.on_startup
    async def start_worker() -> None:
        store.prepare()
        if settings.worker:
            worker.start()

    runtime.on_shutdown(worker.stop)
    return runtime.build_app(encoder_router(runtime, jobs, store, settings))
