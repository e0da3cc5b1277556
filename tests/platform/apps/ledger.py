"""A tiny service used only by the chassis tests: it writes entries and publishes an event per
entry through the outbox; its `tally` role consumes those events and counts each one, and its
`mirror` role does the same through a broadcast consumer (each instance replays the stream)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel

from cinemesh.platform.observability import logger
from cinemesh.platform.runtime import ServiceRuntime

MIGRATIONS = Path(__file__).parent / "ledger_migrations"
log = logger("ledger")
metadata = sa.MetaData()
entries = sa.Table(
    "entries",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("amount", sa.Integer),
)
tallies = sa.Table(
    "tallies",
    metadata,
    sa.Column("entry_id", sa.String(64), primary_key=True),
    sa.Column("times_seen", sa.Integer),
)


class Entry(BaseModel):
    id: str
    amount: int


def create_app(role: str = "ledger") -> FastAPI:
    runtime = ServiceRuntime(role, migrations=MIGRATIONS, uses_events=True)
    router = APIRouter()
    pause = float(os.environ.get("LEDGER_RELAY_PAUSE_S", "0"))

    @runtime.on_startup
    async def configure_relay() -> None:
        runtime.relay_pause_s = pause

    @router.post("/entries", status_code=201)
    async def add_entry(entry: Entry) -> dict[str, str]:
        assert runtime.db is not None
        async with runtime.db.transaction() as session:
            await session.execute(sa.insert(entries).values(id=entry.id, amount=entry.amount))
            await runtime.stage(session, "ledger.entry.added", entry.model_dump(), key=entry.id)
        return {"id": entry.id}

    @router.get("/tallies")
    async def read_tallies() -> dict[str, int]:
        assert runtime.db is not None
        async with runtime.db.session() as session:
            rows = (await session.execute(sa.select(tallies))).all()
        return {row.entry_id: row.times_seen for row in rows}

    if role in ("tally", "mirror"):

        @runtime.consume("ledger.entry.*", delivery="broadcast" if role == "mirror" else "shared")
        async def count_entry(session, event) -> None:  # type: ignore[no-untyped-def]
            entry_id = event.data["id"]
            seen = await session.scalar(
                sa.select(tallies.c.times_seen).where(tallies.c.entry_id == entry_id)
            )
            log.info("counted an entry", entry_id=entry_id)
            if seen is None:
                await session.execute(sa.insert(tallies).values(entry_id=entry_id, times_seen=1))
            else:
                await session.execute(
                    sa.update(tallies)
                    .where(tallies.c.entry_id == entry_id)
                    .values(times_seen=seen + 1)
                )

    return runtime.build_app(router)


if __name__ == "__main__":
    from cinemesh.platform.serve import serve

    role = sys.argv[1] if len(sys.argv) > 1 else "ledger"
    serve(role, lambda: create_app(role))
