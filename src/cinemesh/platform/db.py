"""Async database layer: SQLite in WAL mode by default, PostgreSQL by URL, Alembic at start."""

from __future__ import annotations

import asyncio
import fcntl
import socket
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Connection, Dialect, ExceptionContext, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.types import TypeDecorator

from cinemesh.platform import sqlite
from cinemesh.platform.errors import ApiError, StartupError

SQLITE_POOL_SIZE = 32
POSTGRES_POOL_SIZE = 10  # per instance: many services and instances share max_connections
# A server that vanished without closing its sockets (a failed primary, before its Service
# points at the new one) holds a connection attempt no longer than a caller waits (http.py).
POSTGRES_CONNECT_TIMEOUT_S = 2.0
# Connection exceptions, the server shutting down, crashed or still starting, no connection
# slot left, and a read-only server (a primary demoted by a failover): answered by waiting and
# trying again, not by fixing the request.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300", "25006")
# Refused or reset, timed out (connecting, or waiting for a pooled connection), a host name
# that does not resolve (a Service being replaced). Not any OSError: a missing file is a bug.
UNREACHABLE = (ConnectionError, TimeoutError, socket.gaierror, PoolTimeout)


class UtcDateTime(TypeDecorator[datetime]):
    """A moment kept in UTC and read back aware, whatever the database: SQLite stores no
    offset and hands back naive datetimes, PostgreSQL answers in the session's time zone.
    A naive value given to it is taken as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else in_utc(value)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else in_utc(value)


def in_utc(moment: datetime) -> datetime:
    """The same moment, aware and in UTC (a naive one is taken as UTC already)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def database_url_for(*, service: str, explicit: str, template: str, data_dir: Path) -> str:
    """The service's own database: an explicit URL, a template with {service}, or SQLite."""
    if explicit:
        return explicit
    if template:
        return template.format(service=service)
    folder = data_dir / service
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite+aiosqlite:///{folder / f'{service}.db'}"


def _sqlite_connect_args(url: str) -> dict[str, Any]:
    """A file database opens through `sqlite.connector` (reads on the loop); any other
    SQLite URL (in memory, with URI options) through aiosqlite as it comes."""
    parsed = make_url(url)
    if parsed.database and parsed.database != ":memory:" and not parsed.query:
        return {"async_creator": sqlite.connector(parsed.database)}
    return {"connect_args": {"timeout": sqlite.BUSY_TIMEOUT_MS / 1000}}


class DatabaseUnavailable(ApiError):
    """The database cannot be reached or ended the session (stopped, restarting, failing
    over). A 503 the client may retry, rather than a 500: nothing is wrong with the request."""

    def __init__(self) -> None:
        super().__init__(
            503,
            "DATABASE_UNAVAILABLE",
            "the database is unavailable right now; try again shortly",
            headers={"Retry-After": "2"},
        )


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the server is out of reach rather than the statement wrong: asyncpg
    raises its own and the socket's errors when connecting, SQLAlchemy wraps those met later."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    causes = [exc, getattr(exc, "orig", None), exc.__cause__]
    for cause in filter(None, causes):
        if isinstance(cause, UNREACHABLE):
            return True
        sqlstate = getattr(cause, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith(UNAVAILABLE_SQLSTATES):
            return True
    return False


@contextmanager
def reported_unavailable() -> Iterator[None]:
    """Raise DatabaseUnavailable for an error that says the server is out of reach (an
    ApiError is already the answer, whatever caused it)."""
    try:
        yield
    except ApiError:
        raise
    except Exception as exc:
        if is_unavailable(exc):
            raise DatabaseUnavailable() from exc
        raise


def replace_unusable_connection(context: ExceptionContext) -> None:
    """Discard a connection whose error says the server is out of reach, and the pool's
    older ones with it. SQLAlchemy does that itself for a closed socket, but not for a server
    that answers read-only: a primary demoted by a failover, reached before its Service moved
    to the new one. Pre-ping passes there, and the connection would refuse every write."""
    if is_unavailable(context.original_exception):
        context.is_disconnect = True


class Database:
    """One service's database: an engine, a session factory and its migrations."""

    def __init__(self, url: str, *, pool_size: int | None = None) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            # A connection past the pool is opened and closed for one request: a thread
            # started and four PRAGMAs run each time, so a busy instance keeps enough open.
            size = pool_size or SQLITE_POOL_SIZE
            self.engine: AsyncEngine = create_async_engine(
                url, pool_size=size, max_overflow=size, **_sqlite_connect_args(url)
            )
            event.listen(self.engine.sync_engine, "connect", sqlite.enable_wal)
        else:
            size = pool_size or POSTGRES_POOL_SIZE
            # pre-ping: a connection the server ended (a restart, a failover) is replaced on
            # its next checkout instead of failing the request that draws it.
            self.engine = create_async_engine(
                url,
                pool_size=size,
                max_overflow=size,
                pool_pre_ping=True,
                connect_args={"timeout": POSTGRES_CONNECT_TIMEOUT_S},
            )
            event.listen(self.engine.sync_engine, "handle_error", replace_unusable_connection)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        with reported_unavailable():
            async with self.sessions() as session:
                yield session

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work commits together on success and rolls back on error."""
        with reported_unavailable():
            async with self.sessions() as session, session.begin():
                yield session

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        """A plain connection, for reads that need no ORM session."""
        with reported_unavailable():
            async with self.engine.connect() as conn:
                yield conn

    async def ping(self) -> None:
        async with self.connection() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, script_location: Path) -> None:
        """Bring the schema to head; one process at a time even with many instances."""
        try:
            if not self.is_sqlite:
                await ensure_postgres_database(self.url)
            if self.is_sqlite:
                await asyncio.to_thread(self._migrate_sqlite_locked, script_location)
            else:
                await self._migrate_postgres_locked(script_location)
        except (OperationalError, DBAPIError, OSError) as exc:
            raise StartupError(
                f"cannot open the database {make_url(self.url).render_as_string(hide_password=True)}: "
                f"{_first_line(exc)}. Check that the file is readable and not corrupt "
                "(or the server is up), or move it aside to start fresh."
            ) from None

    def _migrate_sqlite_locked(self, script_location: Path) -> None:
        db_path = Path(make_url(self.url).database or "")
        lock_path = db_path.with_suffix(".migrate.lock")
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            sync_url = self.url.replace("+aiosqlite", "")
            from sqlalchemy import create_engine

            engine = create_engine(sync_url)
            event.listen(engine, "connect", sqlite.enable_wal)
            try:
                with engine.begin() as conn:
                    run_alembic_upgrade(conn, script_location)
            finally:
                engine.dispose()

    async def _migrate_postgres_locked(self, script_location: Path) -> None:
        lock_id = zlib.crc32(str(script_location).encode())
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            try:
                await conn.run_sync(run_alembic_upgrade, script_location)
                await conn.commit()
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": lock_id})
                await conn.commit()

    async def dispose(self) -> None:
        await self.engine.dispose()


def run_alembic_upgrade(conn: Connection, script_location: Path) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, "head")


async def ensure_postgres_database(url: str) -> None:
    """Create the service's PostgreSQL database when it does not exist yet."""
    target = make_url(url)
    admin_url = target.set(database="postgres")
    engine = create_async_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                try:
                    await conn.execute(text(f'CREATE DATABASE "{target.database}"'))
                except DBAPIError as exc:
                    if "already exists" not in str(exc):
                        raise
    finally:
        await engine.dispose()


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
