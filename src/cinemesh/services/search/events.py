"""What search consumes: catalog.title.* events, applied to this instance's index."""

from __future__ import annotations

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.maturity import level
from cinemesh.platform.events import Event
from cinemesh.platform.observability import logger
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
