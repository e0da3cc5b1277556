"""SQLite connections for the async engine: WAL mode, and the quick calls kept on the loop.

aiosqlite hands every call to the connection's own thread and waits for the answer: two
thread switches a call, five or six calls a query. For the small indexed reads the services
make on every request, those switches cost several times the query itself. Calls that cannot
wait on another process's lock (a reading statement, fetching its rows, a cursor, a rollback)
therefore run on the event loop; writes and commits still go to the thread, where a busy
database may keep them waiting up to the busy timeout without stalling the loop. In WAL mode
readers never wait for writers."""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any

import aiosqlite

BUSY_TIMEOUT_MS = 10_000  # how long a write waits for another process's lock
CURSOR_CALLS_ON_LOOP = frozenset({"fetchone", "fetchmany", "fetchall", "close"})
CONNECTION_CALLS_ON_LOOP = frozenset({"cursor", "rollback"})


def enable_wal(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def runs_on_loop(call: Callable[..., Any], args: tuple[Any, ...]) -> bool:
    """Whether a sqlite3 call returns without waiting on a lock another process may hold."""
    name, owner = getattr(call, "__name__", ""), getattr(call, "__self__", None)
    if isinstance(owner, sqlite3.Cursor):
        if name == "execute":
            return bool(args) and isinstance(args[0], str) and _is_select(args[0])
        return name in CURSOR_CALLS_ON_LOOP
    return isinstance(owner, sqlite3.Connection) and name in CONNECTION_CALLS_ON_LOOP


def _is_select(sql: str) -> bool:
    return sql.lstrip()[:6].upper() == "SELECT"


class LoopReadsConnection(aiosqlite.Connection):
    """An aiosqlite connection whose reads run on the event loop (see the module's docstring).
    It overrides aiosqlite's one dispatch point, `_execute`; tests/platform/test_sqlite.py
    fails if a newer aiosqlite stops routing calls through it."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if runs_on_loop(fn, args):
            if not self._running or self._connection is None:
                raise ValueError("Connection closed")
            return fn(*args, **kwargs)
        return await super()._execute(fn, *args, **kwargs)  # type: ignore[no-untyped-call]


def connector(path: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An `async_creator` for SQLAlchemy's aiosqlite dialect: a file database, reads on the loop."""

    async def connect() -> aiosqlite.Connection:
        connection = LoopReadsConnection(
            lambda: sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False),
            iter_chunk_size=64,
        )
        connection._thread.daemon = True  # as SQLAlchemy does for the connections it opens
        return await connection

    return connect
