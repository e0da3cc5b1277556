"""history: viewing progress per profile, continue watching, watched titles."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.contracts.notices import POSITIONS_CHANGED
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.history.api import router
from cinemesh.services.history.events import consume_events
from cinemesh.services.history.service import History, KeptPositions
from cinemesh.services.history.settings import HistorySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(HistorySettings)
    runtime = ServiceRuntime(
        "history", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    history = History(stage=runtime.stage)
    # Every home page asks for continue watching, and a profile's positions change only when
    # one of its events is handled: each instance keeps the positions it read until the
    # instance that handled such an event says so (platform/kept.py).
    kept = KeptPositions(runtime.kept_reads(POSITIONS_CHANGED, max_age_s=settings.kept_reads_s))
    consume_events(runtime, history)
    return runtime.build_app(router, provides=[history, kept])
