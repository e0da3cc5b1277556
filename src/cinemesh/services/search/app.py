"""search: each instance keeps its own index, replayed from catalog events at start and kept
current as titles change; ready once it has caught up with the stream."""

from __future__ import annotations

from fastapi import FastAPI

from cinemesh.platform.events import Event
from cinemesh.platform.runtime import ServiceRuntime
from cinemesh.services.search.api import search_router
from cinemesh.services.search.events import apply_event
from cinemesh.services.search.index import TitleIndex


def create_app() -> FastAPI:
    runtime = ServiceRuntime("search", uses_events=True)
    index = TitleIndex()

    @runtime.consume("catalog.title.*", delivery="broadcast")
    async def index_title(event: Event) -> None:
        apply_event(index, event)

    replayed: list[bool] = []

    async def caught_up() -> None:
        """Not ready until the replay has caught up once; later bursts keep it ready."""
        if not runtime.bus_ready.is_set() or runtime.bus is None:
            raise RuntimeError("connecting to the event stream")
        if replayed:
            return
        pending = await runtime.bus.broadcast_pending()
        if pending:
            raise RuntimeError(f"replaying {pending} catalog events")
        replayed.append(True)

    runtime.ready_check("index", caught_up)
    return runtime.build_app(search_router(index))
