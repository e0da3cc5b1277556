"""The events are consumed in a child process of the serving one: events published reach the
tables and the serving process' metrics, and a consumer process that dies is brought back
without a step by anyone, picking up what arrived meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from cinemesh.contracts.history import TitleWatched
from cinemesh.platform.db import Database
from cinemesh.platform.events import Event, EventBus
from cinemesh.services.recommender import ingest
from cinemesh.services.recommender.app import MIGRATIONS
from cinemesh.services.recommender.events import SUBSCRIPTIONS
from cinemesh.services.recommender.ingest import IngestConfig, IngestProcess
from cinemesh.services.recommender.models import Interaction
from tests.support.backends import EmbeddedNats

START = datetime(2024, 5, 1, tzinfo=UTC)


def watched(minutes: int) -> Event:
    payload = TitleWatched(
        profile_id="p1", title_id="t1", at=(START + timedelta(minutes=minutes)).isoformat()
    )
    return Event(type=payload.TYPE, data=payload.model_dump(mode="json"))


def consumed_here() -> float:
    labels = {"service": "recommender", "type": TitleWatched.TYPE, "outcome": "ok"}
    return REGISTRY.get_sample_value("cinemesh_events_consumed_total", labels) or 0.0


async def plays(db: Database) -> int:
    async with db.session() as session:
        row = await session.scalar(select(Interaction).where(Interaction.profile_id == "p1"))
        return row.plays if row is not None else 0


async def until(check: Callable[[], Awaitable[bool]], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_events_reach_the_tables_and_metrics_and_a_dead_consumer_comes_back(
    embedded_nats: EmbeddedNats, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "WATCH_S", 0.1)
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'recommender.db'}")
    await db.migrate(MIGRATIONS)
    namespace = f"ingest{uuid.uuid4().hex[:8]}"
    bus = EventBus(embedded_nats.url, service="history", namespace=namespace)
    await bus.connect()
    process = IngestProcess(
        IngestConfig(db.url, embedded_nats.url, namespace, "test-ingest", "warning")
    )
    process.start()
    watcher = asyncio.create_task(process.watch())
    counted_before = consumed_here()
    try:
        await bus.publish(watched(1))
        await until(lambda: _equals(plays(db), 1))
        await until(lambda: _true(consumed_here() >= counted_before + 1))
        assert process.subscribed  # the service's readiness waits for this

        assert process._process is not None and process._process.pid is not None
        os.kill(process._process.pid, signal.SIGKILL)
        await bus.publish(watched(2))  # arrives while no consumer runs
        await until(lambda: _true(process.restarts == 1 and process.alive))
        await until(lambda: _equals(plays(db), 2))
    finally:
        watcher.cancel()
        process.stop()
        await bus.close()
        await db.dispose()
    assert not process.alive


async def _equals(value: Awaitable[int], expected: int) -> bool:
    return await value == expected


async def _true(value: bool) -> bool:
    return value


async def test_a_consumer_process_asked_to_stop_finishes_its_batch_and_holds_nothing_back(
    embedded_nats: EmbeddedNats, tmp_path: Path
) -> None:
    """SIGTERM (the service draining) while batches are folded: the child stores and
    acknowledges the batch in flight and exits cleanly, holding no event unacknowledged; the
    next child folds the rest, each event once."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'recommender.db'}")
    await db.migrate(MIGRATIONS)
    namespace = f"drain{uuid.uuid4().hex[:8]}"
    bus = EventBus(embedded_nats.url, service="history", namespace=namespace)
    await bus.connect()
    config = IngestConfig(db.url, embedded_nats.url, namespace, "test-ingest", "warning")
    total = 3000
    for minute in range(total):
        await bus.publish(watched(minute))
    first, second = IngestProcess(config), IngestProcess(config)
    try:
        first.start()
        await until(lambda: _true_async(plays(db), lambda n: n > 0), timeout_s=60)
        child = first._process
        assert child is not None
        await asyncio.to_thread(first.stop)  # SIGTERM, as the serving process stops it
        assert child.exitcode == 0, "stopped cleanly, not killed by the signal"
        folded = await plays(db)
        info = await bus.js.consumer_info(bus.events_stream, SUBSCRIPTIONS[0].durable)
        assert info.num_ack_pending == 0, "nothing left waiting for a redelivery"
        assert info.num_pending == total - folded, "what was stored was acknowledged"

        second.start()
        await until(lambda: _equals(plays(db), total), timeout_s=90)
    finally:
        first.stop()
        second.stop()
        await bus.close()
        await db.dispose()


async def _true_async(value: Awaitable[int], check: Callable[[int], bool]) -> bool:
    return check(await value)
