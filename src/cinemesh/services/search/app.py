"""search: each instance keeps its own index, replayed from catalog events at start and kept
current as titles change; ready once it has caught up with the stream."""

from __future__ import annotations

from fastapi import FastAPI

from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.search.api import router
from cinemesh.services.search.events import consume_events
from cinemesh.services.search.index import TitleIndex


def create_app() -> FastAPI:
    runtime = ServiceRuntime("search", uses_events=True)
    index = TitleIndex()
    consume_events(runtime, index)
    return runtime.build_app(router, provides=[index])
