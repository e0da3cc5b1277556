"""SQLite through the chassis: reads run on the event loop, writes on the connection's
thread, and a write waiting for another process's lock leaves the loop free."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from cinemesh.platform import sqlite
from cinemesh.platform.db import Database


@pytest.fixture
async def database(tmp_path: Path):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'one.db'}")
    async with db.transaction() as session:
        await session.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)"))
    yield db
    await db.engine.dispose()


def spy_on_threads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """(call name, thread name) of every sqlite3 call the connections make from now on."""
    seen: list[tuple[str, str]] = []
    real = sqlite.runs_on_loop

    def record(call, args):
        on_loop = real(call, args)
        seen.append((call.__name__, "loop" if on_loop else "thread"))
        return on_loop

    monkeypatch.setattr(sqlite, "runs_on_loop", record)
    return seen


async def test_reads_run_on_the_loop_and_writes_on_the_thread(database, monkeypatch):
    seen = spy_on_threads(monkeypatch)
    async with database.transaction() as session:
        await session.execute(text("INSERT INTO item (name) VALUES ('a'), ('b')"))
    writes = list(seen)
    seen.clear()
    loop_thread = threading.current_thread().name
    async with database.session() as session:
        names = (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(names) == ["a", "b"]
    assert ("execute", "thread") in writes and ("commit", "thread") in writes
    assert ("execute", "loop") in seen and ("fetchall", "loop") in seen
    assert all(where == "loop" for _name, where in seen), seen
    assert threading.current_thread().name == loop_thread


async def test_calls_reach_the_override(database):
    """The override hooks aiosqlite's private dispatch: a newer aiosqlite that bypasses it
    would quietly put every read back on the thread."""
    calls = 0
    original = sqlite.LoopReadsConnection._execute

    async def counting(self, fn, *args, **kwargs):
        nonlocal calls
        calls += 1
        return await original(self, fn, *args, **kwargs)

    sqlite.LoopReadsConnection._execute = counting  # type: ignore[method-assign]
    try:
        async with database.session() as session:
            assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 0
    finally:
        sqlite.LoopReadsConnection._execute = original  # type: ignore[method-assign]
    assert calls >= 3  # cursor, execute, fetch


async def test_a_write_waiting_for_a_lock_leaves_the_loop_free(database, tmp_path):
    """Another process holds the write lock for 0.6 s: our write waits on its thread while
    the loop keeps ticking and reads still answer."""
    holder = sqlite3.connect(tmp_path / "one.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO item (name) VALUES ('held')")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> float:
        started = time.monotonic()
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO item (name) VALUES ('ours')"))
        return time.monotonic() - started

    ticker = asyncio.create_task(tick())
    writing = asyncio.create_task(write())
    await asyncio.sleep(0.1)
    async with database.session() as session:
        assert (await session.execute(text("SELECT count(*) FROM item"))).scalar() == 0
    await asyncio.sleep(0.5)
    holder.execute("COMMIT")
    waited = await writing
    ticker.cancel()
    holder.close()
    assert waited >= 0.5
    assert ticks >= 30, f"the loop ticked {ticks} times in 0.6 s while a write waited"
    async with database.session() as session:
        rows = (await session.execute(text("SELECT name FROM item ORDER BY id"))).scalars()
        assert list(rows) == ["held", "ours"]


def test_which_calls_run_on_the_loop():
    connection = sqlite3.connect(":memory:")
    cursor = connection.cursor()
    assert sqlite.runs_on_loop(cursor.execute, ("  select 1",))
    assert sqlite.runs_on_loop(cursor.fetchall, ())
    assert sqlite.runs_on_loop(connection.rollback, ())
    for statement in ("UPDATE t SET a = 1", "INSERT INTO t VALUES (1)", "PRAGMA user_version=3"):
        assert not sqlite.runs_on_loop(cursor.execute, (statement,))
    assert not sqlite.runs_on_loop(cursor.executemany, ("SELECT 1", []))
    assert not sqlite.runs_on_loop(connection.commit, ())
    assert not sqlite.runs_on_loop(connection.close, ())
    connection.close()
