"""playback: entitlement, stream leases and signed manifest URLs; heartbeats and stop become
events that history and the recommender learn from."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from cinemesh.contracts.signed_urls import load_edge_key
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.platform.settings import load_settings
from cinemesh.services.playback.api import router
from cinemesh.services.playback.events import consume_events
from cinemesh.services.playback.service import Playback
from cinemesh.services.playback.settings import EdgeKeySettings, PlaybackSettings
from cinemesh.services.playback.start_files import StartFiles, edge_reader
from cinemesh.services.playback.throughput import LinkMemory

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app() -> FastAPI:
    settings = load_settings(PlaybackSettings)
    runtime = ServiceRuntime(
        "playback", migrations=MIGRATIONS, uses_events=True, database_url=settings.database_url
    )
    playback = Playback(
        stage=runtime.stage,
        edge_key=load_edge_key(runtime.data_dir, load_settings(EdgeKeySettings).edge_key),
        lease=timedelta(seconds=settings.lease_s),
        manifest_ttl_s=settings.manifest_ttl_s,
        links=LinkMemory(first_play_bps=settings.first_play_bps),
    )
    start_files = StartFiles(edge_reader(runtime), deadline_s=settings.start_files_deadline_s)
    consume_events(runtime, playback)
    return runtime.build_app(router, provides=[playback, settings, start_files])
