"""The chassis' database through a PostgreSQL outage (issue 26), on a server of the test's own
that it stops with `pg_ctl stop -m fast`, as a crash or a failover ends every session: what
fails says DATABASE_UNAVAILABLE (a 503 with Retry-After), the same pool serves again once the
server is back, and the outbox relay publishes every committed row, once, whatever the outage
interrupted. tests/system/test_database_outage.py shows the same through the whole platform."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from cinemesh.platform.db import (
    Database,
    DatabaseUnavailable,
    ensure_postgres_database,
    is_unavailable,
)
from cinemesh.platform.events import Event, EventBus
from cinemesh.platform.outbox import PLATFORM_TABLES, OutboxRelay, outbox_table, stage_event
from tests.support.backends import EmbeddedNats
from tests.support.outbox import events_in_stream
from tests.support.private_postgres import PrivatePostgres


class ServerError(Exception):
    """An error as asyncpg raises it, with the server's SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.fixture(scope="module")
def server() -> Iterator[PrivatePostgres]:
    postgres = PrivatePostgres().init()
    yield postgres
    postgres.remove()


@pytest.fixture
async def up(server: PrivatePostgres) -> PrivatePostgres:
    """The server, started again if a failed test left it stopped."""
    if not server.running():
        await asyncio.to_thread(server.start)
    return server


@pytest.fixture
async def database(up: PrivatePostgres) -> AsyncIterator[Database]:
    """A fresh database with the outbox table."""
    url = up.url_template(f"o{uuid.uuid4().hex[:8]}").format(service="outage")
    await ensure_postgres_database(url)
    db = Database(url)
    async with db.engine.begin() as conn:
        await conn.run_sync(PLATFORM_TABLES.create_all)
    yield db
    await db.dispose()


def test_connection_errors_are_unavailable_and_statement_errors_are_not() -> None:
    for down in (
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        ServerError("57P03"),  # the database system is starting up
        ServerError("08006"),  # connection failure
        ServerError("25006"),  # read-only: a demoted primary
    ):
        assert is_unavailable(down), down
    for wrong in (
        FileNotFoundError("/data/x"),
        ServerError("23505"),  # unique violation
        IntegrityError("INSERT", {}, ServerError("23505")),
        ValueError("bad"),
    ):
        assert not is_unavailable(wrong), wrong


async def test_a_stopped_server_is_a_503_and_the_same_pool_serves_again_once_it_is_back(
    server: PrivatePostgres, database: Database
) -> None:
    await database.ping()  # a pooled connection, which the stop will end
    await asyncio.to_thread(server.stop)
    for attempt in (database.ping(), one(database)):
        with pytest.raises(DatabaseUnavailable) as refused:
            await attempt
        assert refused.value.status == 503 and refused.value.code == "DATABASE_UNAVAILABLE"
        assert refused.value.headers["Retry-After"]
    await asyncio.to_thread(server.start)
    assert await one(database) == 1
    await database.ping()


async def test_a_statement_cut_by_the_shutdown_is_a_503_not_a_500(
    server: PrivatePostgres, database: Database
) -> None:
    async def sleeper() -> None:
        async with database.transaction() as session:
            await session.execute(text("SELECT pg_sleep(5)"))

    cut = asyncio.create_task(sleeper())
    await asyncio.sleep(0.5)
    await asyncio.to_thread(server.stop)
    with pytest.raises(DatabaseUnavailable):
        await cut
    await asyncio.to_thread(server.start)
    assert await one(database) == 1


async def test_a_connection_to_a_read_only_server_is_replaced_not_reused(
    up: PrivatePostgres,
) -> None:
    """After a failover, a connection made before the primary's Service moved may reach the
    demoted primary, now a read-only standby: its write is a 503, and the next write opens a
    connection of its own instead of drawing the read-only one from the pool again."""
    url = up.url_template(f"r{uuid.uuid4().hex[:8]}").format(service="readonly")
    await ensure_postgres_database(url)
    database = Database(url, pool_size=1)
    try:
        async with database.transaction() as session:
            await session.execute(text("CREATE TABLE marks (n int)"))
            # what a connection to a standby is: every transaction read-only
            await session.execute(text("SET SESSION default_transaction_read_only = on"))
            demoted = await session.scalar(text("SELECT pg_backend_pid()"))
        with pytest.raises(DatabaseUnavailable):
            async with database.transaction() as session:
                await session.execute(text("INSERT INTO marks VALUES (1)"))
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO marks VALUES (2)"))
            assert await session.scalar(text("SELECT pg_backend_pid()")) != demoted
    finally:
        await database.dispose()


async def test_the_outbox_relay_publishes_every_row_once_across_an_outage(
    server: PrivatePostgres, database: Database, embedded_nats: EmbeddedNats
) -> None:
    """The relay reads a batch, the server stops before it can mark the batch published, and
    the relay retries until it is back: every row is then published once (JetStream drops the
    second publish of an event id) and marked."""
    namespace = f"o{uuid.uuid4().hex[:8]}"
    bus = EventBus(embedded_nats.url, service="outage", namespace=namespace)
    await bus.connect()
    staged = []
    async with database.transaction() as session:
        for n in range(20):
            evt = Event(type="outage.entry.added", data={"n": n}, source="outage")
            await stage_event(session, evt)
            staged.append(evt.id)
    relay = OutboxRelay(database, bus, service="outage")
    relay.pause_before_publish_s = 1.0  # the batch is read; the server stops meanwhile
    try:
        relay.start()
        await asyncio.sleep(0.3)
        await asyncio.to_thread(server.stop)
        await asyncio.sleep(3)  # a few rounds of the relay failing
        relay.pause_before_publish_s = 0.0
        await asyncio.to_thread(server.start)
        for _ in range(100):
            if await unpublished(database) == 0:
                break
            await asyncio.sleep(0.1)
        assert await unpublished(database) == 0
    finally:
        await relay.stop()
    published = Counter(e.id for e in await events_in_stream(bus, "outage.entry.added"))
    assert published == Counter(dict.fromkeys(staged, 1))
    await bus.close()


async def one(database: Database) -> int:
    async with database.session() as session:
        return int(await session.scalar(text("SELECT 1")) or 0)


async def unpublished(database: Database) -> int:
    async with database.session() as session:
        query = select(func.count()).where(outbox_table.c.published_at.is_(None))
        return int(await session.scalar(query) or 0)
