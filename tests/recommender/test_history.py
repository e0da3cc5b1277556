"""What the rows read of a profile, straight from the database on both backends: the two-query
read must say what a row-by-row reading of the same table says, however long the history."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from cinemesh.contracts.history import FINISHED_FRACTION
from cinemesh.platform.db import Database
from cinemesh.services.recommender.app import MIGRATIONS
from cinemesh.services.recommender.models import Interaction, Profile
from cinemesh.services.recommender.service import profile_history, signal_weight
from tests.support.backends import Backend

START = datetime(2024, 5, 1, tzinfo=UTC)


@pytest.fixture
async def db(backend: Backend, data_dir: Path) -> AsyncIterator[Database]:
    (data_dir / "recommender").mkdir(exist_ok=True)
    database = Database(backend.database_url("recommender", data_dir))
    await database.migrate(MIGRATIONS)
    yield database
    await database.dispose()


def every_kind_of_row(profile_id: str) -> list[dict[str, object]]:
    """One row for each combination of the signals, each a minute newer than the last."""
    combos = itertools.product(
        (0, 1, 3), (0.0, 0.4, FINISHED_FRACTION, 1.0), (-1, 0, 1), (False, True)
    )
    return [
        {
            "profile_id": profile_id,
            "title_id": f"t{n:03d}",
            "plays": plays,
            "progress": progress,
            "rating": rating,
            "in_list": in_list,
            "last_at": START + timedelta(minutes=n),
        }
        for n, (plays, progress, rating, in_list) in enumerate(combos)
    ]


def weight(row: dict[str, object]) -> float:
    return signal_weight(
        plays=int(row["plays"]),  # type: ignore[call-overload]
        progress=float(row["progress"]),  # type: ignore[arg-type]
        rating=int(row["rating"]),  # type: ignore[call-overload]
        in_list=bool(row["in_list"]),
    )


@pytest.mark.backends
async def test_a_profile_reads_the_same_as_row_by_row_whatever_its_length(db: Database) -> None:
    rows = every_kind_of_row("long")
    other = [{**r, "profile_id": "someone-else", "rating": 1} for r in rows[:5]]
    async with db.transaction() as session:
        await session.execute(insert(Interaction), rows + other)
        session.add(Profile(profile_id="long", maturity="PG-13"))

    async with db.engine.connect() as conn:
        history = await profile_history(conn, "long", recent=10)
        everything = await profile_history(conn, "long", recent=len(rows))
        nobody = await profile_history(conn, "nobody")

    newest_first = sorted(rows, key=lambda r: r["last_at"], reverse=True)  # type: ignore[arg-type, return-value]
    positives = [(str(r["title_id"]), weight(r)) for r in newest_first if weight(r) > 0]
    assert history.positives == positives[:10]
    assert everything.positives == positives

    def titles(keep: object) -> set[str]:
        return {str(r["title_id"]) for r in rows if keep(r)}  # type: ignore[operator]

    finished = titles(lambda r: r["plays"] > 0 or r["progress"] >= FINISHED_FRACTION)
    assert history.finished == finished
    assert history.started == titles(lambda r: r["progress"] > 0) - finished
    assert history.disliked == titles(lambda r: r["rating"] < 0)
    assert history.liked == titles(lambda r: r["rating"] > 0)
    assert history.listed == titles(lambda r: r["in_list"])
    assert history.maturity == "PG-13"
    assert not (nobody.positives or nobody.seen or nobody.maturity)
