"""A trained snapshot (the collaborative model, the catalog view and trending) and the folder
every instance shares: `<data_dir>/recommender/models/<version>/`, with `latest.json` naming
the newest complete one. A snapshot is written to a temporary folder and renamed into place,
then `latest.json` is replaced atomically, so a reader never sees half a model."""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson

from cinemesh.contracts.maturity import RATINGS, level
from cinemesh.services.recommender.collaborative import ItemModel, ModelFileError, ModelParams
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.service import TrainingData

TRENDING_HALF_LIFE_S = 7 * 24 * 3600.0
TRENDING_KEPT = 200
KEEP_VERSIONS = 3


class CatalogTitle(NamedTuple):
    """A tuple, not a dataclass: a snapshot load makes one per title (9.7k on MovieLens), and a
    frozen dataclass' __init__ took 11 ms of them, holding the GIL against requests."""

    title_id: str
    name: str
    genres: tuple[str, ...]
    level: int


@dataclass
class Snapshot:
    version: str
    trained_at: str
    fingerprint: str
    model: ItemModel
    titles: dict[str, CatalogTitle]
    trending: list[tuple[str, float]]  # catalog titles, most trending first
    stats: dict[str, Any] = field(default_factory=dict)
    in_genre: dict[str, list[int]] = field(default_factory=dict)  # positions in `trending`

    def __post_init__(self) -> None:
        """Per maturity level: which model items may be shown, and the trending lists. Done
        with arrays, and `in_genre` comes with the files (computed here only when empty),
        since this runs in the serving process each time a snapshot is loaded."""
        never = len(RATINGS)  # a level no request asks for: items outside the catalog
        item_levels = np.array(
            [self.titles[i].level if i in self.titles else never for i in self.model.item_ids],
            dtype=np.int8,
        )
        self.allowed = [item_levels <= lvl for lvl in range(len(RATINGS))]
        levels = np.array([self.titles[t].level for t, _ in self.trending], dtype=np.int8)
        if not self.in_genre:
            for position, (title_id, _score) in enumerate(self.trending):
                for genre in self.titles[title_id].genres:
                    self.in_genre.setdefault(genre, []).append(position)
        positions = {genre: np.array(found) for genre, found in self.in_genre.items()}
        self.trending_at: list[list[tuple[str, float]]] = []
        self.genre_trending_at: list[dict[str, list[tuple[str, float]]]] = []
        for lvl in range(len(RATINGS)):
            self.trending_at.append(self._kept(np.flatnonzero(levels <= lvl)))
            self.genre_trending_at.append(
                {
                    genre: kept
                    for genre, found in positions.items()
                    if (kept := self._kept(found[levels[found] <= lvl]))
                }
            )

    def _kept(self, positions: np.ndarray) -> list[tuple[str, float]]:
        return [self.trending[p] for p in positions[:TRENDING_KEPT].tolist()]

    def name(self, title_id: str) -> str:
        found = self.titles.get(title_id)
        return found.name if found else title_id

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "trained_at": self.trained_at, **self.stats}


def build_snapshot(
    data: TrainingData, *, params: ModelParams | None = None, now: float | None = None
) -> Snapshot:
    """Fit the model on every interaction and rank the catalog by time-decayed popularity."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    titles = {
        t["title_id"]: CatalogTitle(
            t["title_id"], t["name"], tuple(t["genres"]), level(t["maturity_rating"])
        )
        for t in data.titles
    }
    interactions = Interactions.from_records(data.interactions, item_ids=sorted(titles))
    model = ItemModel.fit(interactions, params)
    heat: dict[str, float] = {}
    for _profile, title_id, weight, at in data.interactions:
        age = max(0.0, now - at)
        heat[title_id] = heat.get(title_id, 0.0) + weight * 2.0 ** (-age / TRENDING_HALF_LIFE_S)
    top_prior = max((t["popularity"] for t in data.titles), default=0.0) or 1.0
    prior = {t["title_id"]: 0.01 * t["popularity"] / top_prior for t in data.titles}
    trending = sorted(
        ((t, round(heat.get(t, 0.0) + prior[t], 6)) for t in titles),
        key=lambda pair: (-pair[1], pair[0]),
    )
    moment = datetime.now(UTC)
    return Snapshot(
        version=f"{moment:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}",
        trained_at=moment.isoformat(),
        fingerprint=data.fingerprint,
        model=model,
        titles=titles,
        trending=trending,
        stats={
            "profiles": len(interactions.user_ids),
            "titles": len(titles),
            "interactions": len(interactions),
            "neighbours": int(model.weights.nnz),
            "train_s": round(time.perf_counter() - started, 3),
        },
    )


class ModelStore:
    """The shared folder of snapshots; safe with many instances reading and writing."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @property
    def pointer(self) -> Path:
        return self.root / "latest.json"

    def latest(self) -> dict[str, Any] | None:
        try:
            found = orjson.loads(self.pointer.read_bytes())
        except (FileNotFoundError, ValueError):
            return None
        return found if isinstance(found, dict) and "version" in found else None

    def publish(self, snapshot: Snapshot) -> None:
        """Write the snapshot whole, then point `latest.json` at it in one rename."""
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".staging-{snapshot.version}"
        snapshot.model.save(staging / "model")
        meta = {
            "version": snapshot.version,
            "trained_at": snapshot.trained_at,
            "fingerprint": snapshot.fingerprint,
            "stats": snapshot.stats,
            "titles": [
                {"title_id": t.title_id, "name": t.name, "genres": t.genres, "level": t.level}
                for t in snapshot.titles.values()
            ],
            "trending": snapshot.trending,
            "in_genre": snapshot.in_genre,
        }
        (staging / "snapshot.json").write_bytes(orjson.dumps(meta))
        os.replace(staging, self.root / snapshot.version)
        pointer = {
            "version": snapshot.version,
            "trained_at": snapshot.trained_at,
            "fingerprint": snapshot.fingerprint,
        }
        temporary = self.root / f".latest-{uuid.uuid4().hex}.json"
        temporary.write_bytes(orjson.dumps(pointer))
        os.replace(temporary, self.pointer)
        self._prune(keep=snapshot.version)

    def load(self, version: str) -> Snapshot:
        folder = self.root / version
        try:
            meta = orjson.loads((folder / "snapshot.json").read_bytes())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"snapshot {version} is unreadable: {exc}") from None
        titles = {
            t["title_id"]: CatalogTitle(t["title_id"], t["name"], tuple(t["genres"]), t["level"])
            for t in meta["titles"]
        }
        return Snapshot(
            version=meta["version"],
            trained_at=meta["trained_at"],
            fingerprint=meta["fingerprint"],
            model=ItemModel.load(folder / "model"),
            titles=titles,
            trending=[(t, float(s)) for t, s in meta["trending"]],
            stats=meta.get("stats", {}),
            in_genre=meta.get("in_genre", {}),
        )

    def _prune(self, *, keep: str) -> None:
        versions = sorted(
            p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        for old in versions[:-KEEP_VERSIONS]:
            if old != keep:
                shutil.rmtree(self.root / old, ignore_errors=True)
        for stale in self.root.glob(".staging-*"):
            if time.time() - stale.stat().st_mtime > 3600:
                shutil.rmtree(stale, ignore_errors=True)

    @contextmanager
    def training_lock(self, *, wait: bool) -> Iterator[bool]:
        """One trainer at a time across instances; yields False when busy and not waiting."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".train.lock", "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
