"""Events folded a batch per transaction, on both backends: a batch leaves the tables exactly as
one transaction per event would, an event id is counted once however often it arrives, and
one event that cannot be stored holds back only itself."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from cinemesh.contracts.catalog import TitleDeleted, TitleUpserted
from cinemesh.contracts.history import TitleWatched
from cinemesh.contracts.playback import PlaybackProgress
from cinemesh.contracts.profiles import MyListChanged, ProfileDeleted, ProfileUpserted, TitleRated
from cinemesh.platform.db import Database
from cinemesh.platform.events import Event
from cinemesh.services.recommender import events as ingestion
from cinemesh.services.recommender import service
from cinemesh.services.recommender.app import MIGRATIONS
from cinemesh.services.recommender.events import BatchConsumer, Subscription, fold_events
from cinemesh.services.recommender.models import Interaction, Profile, Title
from tests.support.backends import Backend

START = datetime(2024, 5, 1, tzinfo=UTC)
CONSUMER = "recommender.test"


async def database(backend: Backend, folder: Path) -> Database:
    (folder / "recommender").mkdir(parents=True, exist_ok=True)
    db = Database(backend.database_url("recommender", folder))
    if backend.name == "postgres":  # two databases in one test: name the second apart
        db = Database(db.url.replace("_recommender", f"_recommender_{folder.name}"))
    await db.migrate(MIGRATIONS)
    return db


@pytest.fixture
async def two_databases(
    backend: Backend, tmp_path: Path
) -> AsyncIterator[tuple[Database, Database]]:
    batched, one_by_one = (
        await database(backend, tmp_path / "a"),
        await database(backend, tmp_path / "b"),
    )
    yield batched, one_by_one
    await batched.dispose()
    await one_by_one.dispose()


def ev(payload: BaseModel, *, id: str = "") -> Event:
    made = Event(type=payload.TYPE, data=payload.model_dump(mode="json"))  # type: ignore[attr-defined]
    return Event(type=made.type, data=made.data, id=id) if id else made


def at(minutes: int) -> str:
    return (START + timedelta(minutes=minutes)).isoformat()


def progress(profile: str, title: str, fraction: float, minutes: int) -> Event:
    return ev(
        PlaybackProgress(
            session_id="s", account_id="a", profile_id=profile, title_id=title,
            position_s=fraction * 100, duration_s=100, at=at(minutes),
        )
    )  # fmt: skip


def title(title_id: str, name: str) -> Event:
    return ev(
        TitleUpserted(
            title_id=title_id, title=name, kind="movie", genres=["Drama"], maturity_rating="PG"
        )
    )


def everything_at_once() -> list[Event]:
    """Every kind of event, with repeats, reversals and deletes inside one batch."""
    first_watch = ev(TitleWatched(profile_id="p1", title_id="t1", at=at(1)))
    return [
        title("t1", "One"),
        title("t2", "Two"),
        first_watch,
        first_watch,  # the same event twice in one batch
        ev(TitleWatched(profile_id="p1", title_id="t1", at=at(5))),  # a real rewatch
        progress("p1", "t2", 0.7, 2),
        progress("p1", "t2", 0.3, 3),  # less than before: the furthest point stays
        ev(TitleRated(profile_id="p1", title_id="t3", rating="up", at=at(4))),
        ev(TitleRated(profile_id="p1", title_id="t3", rating="none", at=at(6))),
        ev(MyListChanged(profile_id="p1", title_id="t4", action="added", at=at(2))),
        ev(MyListChanged(profile_id="p1", title_id="t4", action="removed", at=at(3))),
        ev(MyListChanged(profile_id="p1", title_id="t5", action="added", at=at(3))),
        ev(ProfileUpserted(profile_id="p1", account_id="a", name="P", kids=False, maturity="R")),
        ev(ProfileUpserted(profile_id="p1", account_id="a", name="P", kids=True, maturity="PG")),
        ev(TitleWatched(profile_id="gone", title_id="t1", at=at(1))),
        ev(ProfileUpserted(profile_id="gone", account_id="a", name="G", kids=False, maturity="R")),
        ev(ProfileDeleted(profile_id="gone", account_id="a")),
        ev(TitleWatched(profile_id="gone", title_id="t2", at=at(9))),  # after the delete
        title("t9", "Nine"),
        ev(TitleDeleted(title_id="t9")),
        Event(type=TitleWatched.TYPE, data={"profile_id": "p1"}),  # malformed: skipped
        ev(TitleWatched(profile_id="p1", title_id="t6", at="not a time")),  # skipped too
        title("t2", "Two, renamed"),
    ]


async def tables(db: Database) -> dict[str, Any]:
    async with db.session() as session:
        signals = await session.scalars(select(Interaction))
        return {
            "interactions": sorted(
                (
                    r.profile_id,
                    r.title_id,
                    r.plays,
                    r.progress,
                    r.rating,
                    r.in_list,
                    r.last_at.replace(tzinfo=None),
                )
                for r in signals
            ),
            "titles": sorted(
                (t.title_id, t.name)
                for t in await session.scalars(select(Title).where(Title.deleted.is_(False)))
            ),
            "profiles": sorted(
                (p.profile_id, p.maturity) for p in await session.scalars(select(Profile))
            ),
        }


@pytest.mark.backends
async def test_a_batch_leaves_the_tables_as_one_transaction_per_event_would(
    two_databases: tuple[Database, Database],
) -> None:
    batched, one_by_one = two_databases
    events = everything_at_once()
    async with batched.transaction() as session:
        await fold_events(session, consumer=CONSUMER, events=events)
    for evt in events:
        async with one_by_one.transaction() as session:
            await fold_events(session, consumer=CONSUMER, events=[evt])

    state = await tables(batched)
    assert state == await tables(one_by_one)
    p1 = {row[1]: row[2:6] for row in state["interactions"] if row[0] == "p1"}
    assert p1["t1"] == (2, 1.0, 0, False)  # watched twice, the duplicate not counted
    assert p1["t2"] == (0, pytest.approx(0.7), 0, False)
    assert p1["t3"][2] == 0 and p1["t4"][3] is False and p1["t5"][3] is True
    assert "t6" not in p1
    assert [row[1] for row in state["interactions"] if row[0] == "gone"] == ["t2"]
    assert ("p1", "PG") in state["profiles"] and not any(p == "gone" for p, _ in state["profiles"])
    assert state["titles"] == [("t1", "One"), ("t2", "Two, renamed")]


@pytest.mark.backends
async def test_a_redelivered_batch_changes_nothing(
    two_databases: tuple[Database, Database],
) -> None:
    db, _ = two_databases
    events = everything_at_once()
    async with db.transaction() as session:
        await fold_events(session, consumer=CONSUMER, events=events[:8])
    async with db.transaction() as session:  # redelivered with the rest of the stream
        await fold_events(session, consumer=CONSUMER, events=events)
    once = await tables(db)
    async with db.transaction() as session:
        await fold_events(session, consumer=CONSUMER, events=list(reversed(events)))
    assert await tables(db) == once
    assert {r[1]: r[2] for r in once["interactions"] if r[0] == "p1"}["t1"] == 2


def revised(title_id: str, name: str, revision: int, maturity: str = "PG") -> Event:
    return ev(
        TitleUpserted(
            title_id=title_id, title=name, kind="movie", genres=["Drama"],
            maturity_rating=maturity, revision=revision,
        )
    )  # fmt: skip


@pytest.mark.backends
async def test_a_late_older_catalog_event_changes_nothing(
    two_databases: tuple[Database, Database],
) -> None:
    """Each event is a distinct one (its own id), delivered after a newer change of its title:
    a maturity raised to R stays R, and a deleted title stays out of training."""
    stream = [
        revised("t1", "One", 10),
        revised("t1", "One", 20, maturity="R"),
        revised("t1", "One", 10),
        revised("t2", "Two", 10),
        ev(TitleDeleted(title_id="t2", revision=20)),
        revised("t2", "Two", 15),
        ev(TitleDeleted(title_id="t3", revision=20)),  # its delete arrives before anything
        revised("t3", "Three", 10),
        revised("t4", "Four", 10),
        ev(TitleDeleted(title_id="t4", revision=20)),
        revised("t4", "Four, restored", 30),
    ]
    batched, one_by_one = two_databases
    async with batched.transaction() as session:
        await fold_events(session, consumer=CONSUMER, events=stream)
    for evt in stream:
        async with one_by_one.transaction() as session:
            await fold_events(session, consumer=CONSUMER, events=[evt])

    for db in (batched, one_by_one):
        async with db.engine.connect() as conn:
            catalog = (await service.training_data(conn)).titles
        assert sorted((t["title_id"], t["name"], t["maturity_rating"]) for t in catalog) == [
            ("t1", "One", "R"),
            ("t4", "Four, restored", "PG"),
        ]


class Delivery:
    """A JetStream message as the consumer sees it: its envelope, and how it was settled."""

    def __init__(self, evt: Event, delivered: int = 1) -> None:
        self.data = evt.to_bytes()
        self.subject = f"cinemesh.evt.{evt.type}"
        self.headers: dict[str, str] = {}
        self.metadata = type("Metadata", (), {"num_delivered": delivered})()
        self.settled: list[str] = []

    async def ack(self) -> None:
        self.settled.append("ack")

    async def nak(self, delay: float | None = None) -> None:
        self.settled.append("nak")


@pytest.mark.backends
async def test_one_event_that_cannot_be_stored_holds_back_only_itself(
    two_databases: tuple[Database, Database], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = two_databases
    real: Callable[..., None] = ingestion.service.record_title

    def refuse_t2(fold: Any, payload: TitleUpserted) -> None:
        if payload.title_id == "t2":
            raise RuntimeError("the database refused it")
        real(fold, payload)

    monkeypatch.setattr(ingestion.service, "record_title", refuse_t2)
    consumer = BatchConsumer(bus=None, db=db, sub=Subscription("catalog.title.*", "d", CONSUMER))  # type: ignore[arg-type]
    batch = [Delivery(title(t, t.upper())) for t in ("t1", "t2", "t3")]
    await consumer.handle(batch)  # type: ignore[arg-type]

    assert [d.settled for d in batch] == [["ack"], ["nak"], ["ack"]]
    assert (await tables(db))["titles"] == [("t1", "T1"), ("t3", "T3")]
    last_try = Delivery(title("t2", "T2"), delivered=ingestion.MAX_DELIVERIES)
    await consumer.handle([last_try])  # type: ignore[list-item]
    assert last_try.settled == ["ack"]  # given up on, logged, not retried forever
