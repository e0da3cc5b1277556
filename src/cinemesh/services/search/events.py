"""What search consumes: catalog.title.* events, applied to this instance's index."""

from __future__ import annotations

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.maturity import level
from cinemesh.platform.events import Event
from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ReadyCheck, ServiceRuntime
from cinemesh.services.search.index import Doc, TitleIndex

log = logger("cinemesh.search.events")


def doc_of(title: TitleUpserted) -> Doc:
    return Doc(
        id=title.title_id,
        title=title.title,
        kind=title.kind,
        genres=title.genres,
        year=title.year,
        maturity_rating=title.maturity_rating,
        maturity_level=level(title.maturity_rating),
        popularity=title.popularity,
        playable=title.playable,
        cast=title.cast,
        crew=title.crew,
    )


def apply_event(index: TitleIndex, event: Event) -> None:
    """Apply one catalog event; an older revision than the index holds changes nothing."""
    if event.type == TitleUpserted.TYPE:
        title = TitleUpserted.model_validate(event.data)
        if title.available:
            index.upsert(doc_of(title), revision=title.revision)
        else:
            index.remove(title.title_id, revision=title.revision)
    elif event.type == TitleDeleted.TYPE:
        gone = TitleDeleted.model_validate(event.data)
        index.remove(gone.title_id, revision=gone.revision)
    else:
        log.info("ignoring an unknown catalog event", event_type=event.type)


def consume_events(runtime: ServiceRuntime, index: TitleIndex) -> None:
    """Every instance replays every catalog.title.* event into its own index, and is ready
    once that replay has caught up."""

    async def index_title(event: Event) -> None:
        apply_event(index, event)

    runtime.consume("catalog.title.*", delivery="broadcast")(index_title)
    runtime.ready_check("index", replay_caught_up(runtime))


def replay_caught_up(runtime: ServiceRuntime) -> ReadyCheck:
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

    return caught_up
