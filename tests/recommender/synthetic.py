"""Small synthetic worlds for the recommender's tests: taste clusters that a model must find."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from cinemesh.services.recommender.service import TrainingData

GENRES = {"horror": ("Horror", "R"), "comedy": ("Comedy", "PG-13"), "kids": ("Family", "G")}
TITLES_PER_GENRE = 12


def title_ids(genre: str) -> list[str]:
    return [f"{genre}-{n:02d}" for n in range(TITLES_PER_GENRE)]


def catalog() -> list[dict[str, object]]:
    now = datetime(2024, 1, 1, tzinfo=UTC).isoformat()
    return [
        {
            "title_id": title_id,
            "name": title_id.replace("-", " ").title(),
            "genres": [genre_name],
            "maturity_rating": rating,
            "popularity": 1.0,
            "updated_at": now,
        }
        for genre, (genre_name, rating) in GENRES.items()
        for title_id in title_ids(genre)
    ]


def cluster_records(
    *, users_per_genre: int = 20, per_user: int = 6, seed: int = 7, start: float = 1_700_000_000.0
) -> list[tuple[str, str, float, float]]:
    """Each user watches titles of one genre only (and one title of another now and then)."""
    rng = random.Random(seed)
    records = []
    for genre in GENRES:
        for n in range(users_per_genre):
            user = f"{genre}-fan-{n}"
            for step, item in enumerate(rng.sample(title_ids(genre), per_user)):
                records.append((user, item, 1.0, start + step * 60))
            if n % 5 == 0:
                other = rng.choice([g for g in GENRES if g != genre])
                records.append((user, rng.choice(title_ids(other)), 1.0, start - 3600))
    return records


def training_data(records: list[tuple[str, str, float, float]] | None = None) -> TrainingData:
    return TrainingData(records if records is not None else cluster_records(), catalog())


def recent(days: float) -> float:
    return (datetime.now(UTC) - timedelta(days=days)).timestamp()
