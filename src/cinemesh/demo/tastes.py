"""The hidden tastes of simulated members (`cinemesh simulate`): each member likes a few
genres, with weights that add up to one. Drawn from real people where a held data set is
there: a MovieLens user's genres, counted over the movies they rated 4 or more, kept as far as
the running catalog has them. Without MovieLens, from the catalog's own genres, the common ones
more often. The platform never sees a taste; the simulator writes them out for analysis."""

from __future__ import annotations

import csv
import os
import random
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from cinemesh.demo.seeding import ML_GENRE_FIXES

MOVIELENS_ENV = "CINEMESH_MOVIELENS"
LIKED_RATING = 4.0
TASTE_GENRES = 3  # a member likes at most this many genres
MIN_LIKED = 5  # a MovieLens user with fewer liked movies says too little


def default_movielens() -> Path:
    """$CINEMESH_MOVIELENS, else MovieLens latest-small in ../shared/data beside the checkout."""
    configured = os.environ.get(MOVIELENS_ENV)
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[3].parent / "shared/data/movielens-latest-small"


@dataclass(frozen=True)
class Taste:
    genres: Mapping[str, float]  # genre -> weight; the weights add up to 1
    source: str  # where it was drawn from: "movielens user 42" or "catalog genres"

    @cached_property
    def _folded(self) -> dict[str, float]:
        return {g.casefold(): w for g, w in self.genres.items()}

    def match(self, genres: Sequence[str]) -> float:
        """How much of the member's taste a title with these genres meets, 0 to 1."""
        return min(1.0, sum(self._folded.get(g.casefold(), 0.0) for g in set(genres)))

    def favourite(self, rng: random.Random) -> str:
        """A genre to look for, drawn by weight."""
        names = list(self.genres)
        return rng.choices(names, weights=[self.genres[n] for n in names])[0]


def weighted(counts: Mapping[str, float], *, keep: int = TASTE_GENRES) -> dict[str, float]:
    """The `keep` strongest genres, their weights made to add up to one."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:keep]
    total = sum(w for _, w in top)
    return {g: round(w / total, 4) for g, w in top if w > 0}


def movielens_genre_counts(folder: Path) -> list[tuple[int, Counter[str]]]:
    """Per MovieLens user, the genres of the movies they liked, counted; empty without it."""
    movies, ratings = folder / "movies.csv", folder / "ratings.csv"
    if not (movies.exists() and ratings.exists()):
        return []
    genres_of: dict[str, list[str]] = {}
    with movies.open(newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            found = (ML_GENRE_FIXES.get(g, g) for g in row["genres"].split("|"))
            genres_of[row["movieId"]] = [g for g in found if g]
    liked: dict[int, Counter[str]] = defaultdict(Counter)
    with ratings.open(newline="", encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            if float(row["rating"]) >= LIKED_RATING:
                liked[int(row["userId"])].update(genres_of.get(row["movieId"], []))
    return sorted(liked.items())


class TasteSource:
    """Draws tastes for members, reproducibly for a seed, limited to the catalog's genres."""

    def __init__(
        self, catalog_genres: Mapping[str, int], *, movielens: Path | None, seed: int
    ) -> None:
        self.catalog = {g: n for g, n in catalog_genres.items() if n > 0}
        self.rng = random.Random(seed)
        known = {g.casefold(): g for g in self.catalog}
        self.people: list[tuple[int, dict[str, float]]] = []
        for user, counts in movielens_genre_counts(movielens) if movielens else []:
            shared = {
                known[g.casefold()]: float(n) for g, n in counts.items() if g.casefold() in known
            }
            if sum(counts.values()) >= MIN_LIKED and shared:
                self.people.append((user, weighted(shared)))

    @property
    def kind(self) -> str:
        return "MovieLens users" if self.people else "the catalog's genres"

    def draw(self) -> Taste:
        if self.people:
            user, genres = self.rng.choice(self.people)
            return Taste(genres, f"movielens user {user}")
        if not self.catalog:
            return Taste({}, "an empty catalog")
        names = sorted(self.catalog)
        count = min(len(names), self.rng.randint(1, TASTE_GENRES))
        picked: dict[str, float] = {}
        while len(picked) < count:  # common genres more often, as people are
            name = self.rng.choices(names, weights=[self.catalog[n] for n in names])[0]
            picked[name] = picked.get(name, 0.0) + self.rng.uniform(0.5, 1.5)
        return Taste(weighted(picked), "catalog genres")
