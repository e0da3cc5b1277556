"""Transactional outbox and processed-event log, shared table shapes for every service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from cinemesh.platform.observability import EVENTS_PUBLISHED, inject_trace_headers, logger

if TYPE_CHECKING:
    from cinemesh.platform.db import Database
    from cinemesh.platform.events import Event, EventBus

PLATFORM_TABLES = MetaData()

outbox_table = Table(
    "platform_outbox",
    PLATFORM_TABLES,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("type", String(128), nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("headers", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=True, index=True),
)

processed_table = Table(
    "platform_processed_events",
    PLATFORM_TABLES,
    Column("consumer", String(128), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

_PENDING_KEY = "cinemesh_outbox_pending"
log = logger("cinemesh.outbox")


async def stage_event(session: AsyncSession, evt: Event) -> None:
    """Add an event to the outbox inside the caller's transaction; it is sent after commit."""
    headers: dict[str, str] = {}
    inject_trace_headers(headers)
    session.sync_session.info[_PENDING_KEY] = True
    await session.execute(
        insert(outbox_table).values(
            event_id=evt.id,
            type=evt.type,
            body=evt.to_bytes(),
            headers=orjson.dumps(headers),
            created_at=datetime.now(UTC),
        )
    )


async def mark_processed(session: AsyncSession, *, consumer: str, event_id: str) -> bool:
    """Record that `consumer` handled `event_id`; False when it already had."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(processed_table).values(**values).on_conflict_do_nothing()
    else:
        stmt = sqlite.insert(processed_table).values(**values).on_conflict_do_nothing()
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


class OutboxRelay:
    """Publishes committed outbox rows in order; JetStream dedupes by event id across relays."""

    def __init__(self, db: Database, bus: EventBus, *, service: str, batch: int = 200) -> None:
        self.db = db
        self.bus = bus
        self.service = service
        self.batch = batch
        self.pause_before_publish_s = 0.0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        event.listen(Session, "after_commit", self._after_commit)

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING_KEY, False):
            try:
                asyncio.get_running_loop().call_soon_threadsafe(self._wake.set)
            except RuntimeError:
                pass

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def flush(self, *, max_rounds: int = 50) -> None:
        """Publish what is committed and not yet sent (a draining instance, before exit)."""
        for _ in range(max_rounds):
            if not await self.relay_once():
                return

    async def stop(self) -> None:
        event.remove(Session, "after_commit", self._after_commit)
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        while True:
            try:
                sent = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the bus or db is down: try again shortly
                log.warning("outbox relay failed, will retry", error=str(exc))
                sent = 0
                await asyncio.sleep(1.0)
            if sent < self.batch:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass

    async def relay_once(self) -> int:
        async with self.db.session() as session:
            rows = (
                await session.execute(
                    select(
                        outbox_table.c.seq,
                        outbox_table.c.type,
                        outbox_table.c.event_id,
                        outbox_table.c.body,
                        outbox_table.c.headers,
                    )
                    .where(outbox_table.c.published_at.is_(None))
                    .order_by(outbox_table.c.seq)
                    .limit(self.batch)
                )
            ).all()
        if not rows:
            return 0
        if self.pause_before_publish_s:
            await asyncio.sleep(self.pause_before_publish_s)
        published = []
        for row in rows:
            await self.bus.publish_raw(
                event_type=row.type,
                event_id=row.event_id,
                body=row.body,
                headers=orjson.loads(row.headers),
            )
            EVENTS_PUBLISHED.labels(self.service, row.type).inc()
            published.append(row.seq)
        async with self.db.transaction() as session:
            await session.execute(
                update(outbox_table)
                .where(outbox_table.c.seq.in_(published))
                .values(published_at=datetime.now(UTC))
            )
        return len(rows)
