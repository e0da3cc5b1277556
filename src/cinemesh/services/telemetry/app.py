"""telemetry: the player's beacons (play delay, stalls, bitrate, dropped frames, errors, the
edge that served) for sessions it learns of from playback's events, and QoE over the last
minutes per title, edge and plan, in Prometheus and for the ops page."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.telemetry.api import router
from cinemesh.services.telemetry.events import consume_events
from cinemesh.services.telemetry.qoe import QoeWindow
from cinemesh.services.telemetry.scheduled import schedule
from cinemesh.services.telemetry.service import Telemetry
from cinemesh.services.telemetry.settings import TelemetrySettings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(TelemetrySettings)
    runtime = ServiceRuntime(
        "telemetry", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    telemetry = Telemetry(stage=runtime.stage)
    window = QoeWindow(runtime.database, runtime.discovery, window_s=settings.window_s)
    consume_events(runtime, telemetry)
    schedule(runtime, telemetry, window, settings)
    return runtime.build_app(router, provides=[telemetry, window])
