"""A trained snapshot (the collaborative model, the catalog view and trending) and the folder
every instance shares: `<data_dir>/recommender/models/<version>/`, with `latest.json` naming
the newest complete one. A snapshot is written to a temporary folder and renamed into place,
then `latest.json` is replaced atomically, so a reader never sees half a model."""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Generator, Iterator
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
from cinemesh.services.recommender.slices import Sliced, at_once

TRENDING_HALF_LIFE_S = 7 * 24 * 3600.0
TRENDING_KEPT = 200
KEEP_VERSIONS = 3
SNAPSHOT_FORMAT = 2  # 1: the catalog and trending lists in one JSON file, parsed at every load
SNAPSHOT_ARRAYS = ("levels", "trending_items", "trending_scores", "genre_starts", "genre_members")


class CatalogTitle(NamedTuple):
    """A tuple, not a dataclass: a catalog load makes one per title (9.7k on MovieLens), and a
    frozen dataclass' __init__ took 11 ms of them, holding the GIL against requests."""

    title_id: str
    name: str
    genres: tuple[str, ...]
    level: int


class Trending(NamedTuple):
    """Catalog titles by time-decayed popularity, as arrays (written and mapped as files)."""

    items: np.ndarray  # positions in the model's item_ids, most trending first
    scores: np.ndarray  # float64, the same order
    genres: list[str]
    genre_starts: np.ndarray  # genre g's entries are members[genre_starts[g]:genre_starts[g + 1]]
    members: np.ndarray  # positions in `items`, each genre's in trending order


@dataclass
class Snapshot:
    """What the rows read. Built by `assemble`, in slices of about a millisecond of Python
    work each, so that the serving process can load a snapshot between requests."""

    version: str
    trained_at: str
    fingerprint: str
    model: ItemModel
    titles: dict[str, CatalogTitle]
    ranking: Trending
    levels: np.ndarray  # int8 per model item; NOT_IN_CATALOG for items outside the catalog
    stats: dict[str, Any] = field(default_factory=dict)
    catalog_key: str = ""  # a digest of the catalog files: equal keys, equal `titles`
    allowed: list[np.ndarray] = field(default_factory=list, repr=False)
    trending_at: list[list[tuple[str, float]]] = field(default_factory=list, repr=False)
    genre_trending_at: list[dict[str, list[tuple[str, float]]]] = field(
        default_factory=list, repr=False
    )

    @property
    def trending(self) -> list[tuple[str, float]]:
        """Every catalog title, most trending first (for operators and tests: rows read the
        per-level lists)."""
        ids = self.model.item_ids
        scores = self.ranking.scores.tolist()
        return [(ids[i], scores[n]) for n, i in enumerate(self.ranking.items.tolist())]

    def derive(self) -> Generator[None, None, None]:
        """Per maturity level: which model items may be shown, and the trending lists, each
        level and each genre a slice."""
        ids, ranking = self.model.item_ids, self.ranking
        ranked_levels = self.levels[ranking.items]
        scores = ranking.scores
        for lvl in range(len(RATINGS)):
            self.allowed.append(self.levels <= lvl)
            fit = ranked_levels <= lvl
            self.trending_at.append(_pairs(ids, ranking.items, scores, np.flatnonzero(fit)))
            by_genre: dict[str, list[tuple[str, float]]] = {}
            for g, genre in enumerate(ranking.genres):
                found = ranking.members[ranking.genre_starts[g] : ranking.genre_starts[g + 1]]
                if kept := _pairs(ids, ranking.items, scores, found[fit[found]]):
                    by_genre[genre] = kept
                if g % GENRES_A_SLICE == GENRES_A_SLICE - 1:
                    yield
            self.genre_trending_at.append(by_genre)
            yield

    def name(self, title_id: str) -> str:
        found = self.titles.get(title_id)
        return found.name if found else title_id

    def describe(self) -> dict[str, Any]:
        return {"version": self.version, "trained_at": self.trained_at, **self.stats}


NOT_IN_CATALOG = len(RATINGS)  # a level no request asks for
GENRES_A_SLICE = 8
TITLES_A_SLICE = 1000


def _pairs(
    ids: list[str], items: np.ndarray, scores: np.ndarray, positions: np.ndarray
) -> list[tuple[str, float]]:
    """(title id, score) of the first TRENDING_KEPT `positions` in the ranking."""
    kept = positions[:TRENDING_KEPT]
    return list(zip([ids[i] for i in items[kept].tolist()], scores[kept].tolist(), strict=True))


def ranked(
    titles: dict[str, CatalogTitle], trending: list[tuple[str, float]], model: ItemModel
) -> Trending:
    """The trending list as arrays, with each genre's entries."""
    in_genre: dict[str, list[int]] = {}
    for position, (title_id, _score) in enumerate(trending):
        for genre in titles[title_id].genres:
            in_genre.setdefault(genre, []).append(position)
    genres = sorted(in_genre)
    sizes = [len(in_genre[g]) for g in genres]
    return Trending(
        items=np.array([model.index[t] for t, _ in trending], dtype=np.int32),
        scores=np.array([score for _, score in trending], dtype=np.float64),
        genres=genres,
        genre_starts=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        members=np.array([p for g in genres for p in in_genre[g]], dtype=np.int32),
    )


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
    levels = np.array(
        [titles[i].level if i in titles else NOT_IN_CATALOG for i in model.item_ids],
        dtype=np.int8,
    )
    moment = datetime.now(UTC)
    snapshot = Snapshot(
        version=f"{moment:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}",
        trained_at=moment.isoformat(),
        fingerprint=data.fingerprint,
        model=model,
        titles=titles,
        ranking=ranked(titles, trending, model),
        levels=levels,
        stats={
            "profiles": len(interactions.user_ids),
            "titles": len(titles),
            "interactions": len(interactions),
            "neighbours": int(model.weights.nnz),
            "train_s": round(time.perf_counter() - started, 3),
        },
        catalog_key=_digest(catalog_file(titles)),
    )
    at_once(snapshot.derive())
    return snapshot


def catalog_file(titles: dict[str, CatalogTitle]) -> bytes:
    return orjson.dumps([list(t) for t in titles.values()])


def _digest(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:24]


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
        ranking = snapshot.ranking
        arrays = {
            "levels": snapshot.levels,
            "trending_items": ranking.items,
            "trending_scores": ranking.scores,
            "genre_starts": ranking.genre_starts,
            "genre_members": ranking.members,
        }
        for name, array in arrays.items():
            np.save(staging / f"{name}.npy", array, allow_pickle=False)
        (staging / "catalog.json").write_bytes(catalog_file(snapshot.titles))
        meta = {
            "format": SNAPSHOT_FORMAT,
            "version": snapshot.version,
            "trained_at": snapshot.trained_at,
            "fingerprint": snapshot.fingerprint,
            "stats": snapshot.stats,
            "catalog_key": snapshot.catalog_key,
            "genres": ranking.genres,
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
        """Read a snapshot whole, at once."""
        return at_once(self.assemble(version))

    def assemble(self, version: str, *, serving: Snapshot | None = None) -> Sliced[Snapshot]:
        """Read a snapshot in slices (`slices.between_requests` runs them between requests).

        Arrays are mapped from their files, not parsed. What has to be Python objects is
        reused from `serving` when unchanged (the catalog and the model's item index: a
        retrain on new events changes neither) or else made a slice at a time, and so are
        the per-level lists; the slices of a MovieLens snapshot are about a millisecond each."""
        folder = self.root / version
        try:
            meta = orjson.loads((folder / "snapshot.json").read_bytes())
            if meta.get("format") != SNAPSHOT_FORMAT:
                raise ModelFileError(f"snapshot {version} is of format {meta.get('format')}")
            arrays = {}
            for name in SNAPSHOT_ARRAYS:
                arrays[name] = np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))
                yield
            same_catalog = serving is not None and serving.catalog_key == meta["catalog_key"]
            listed = [] if same_catalog else orjson.loads((folder / "catalog.json").read_bytes())
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"snapshot {version} is unreadable: {exc}") from None
        yield
        model = yield from ItemModel.loading(
            folder / "model", like=serving.model if serving else None
        )
        if serving is not None and same_catalog:
            titles = serving.titles
        else:
            titles = {}
            for start in range(0, len(listed), TITLES_A_SLICE):
                for title_id, name, genres, lvl in listed[start : start + TITLES_A_SLICE]:
                    titles[title_id] = CatalogTitle(title_id, name, tuple(genres), lvl)
                yield
        snapshot = Snapshot(
            version=meta["version"],
            trained_at=meta["trained_at"],
            fingerprint=meta["fingerprint"],
            model=model,
            titles=titles,
            ranking=Trending(
                arrays["trending_items"],
                arrays["trending_scores"],
                meta["genres"],
                arrays["genre_starts"],
                arrays["genre_members"],
            ),
            levels=arrays["levels"],
            stats=meta.get("stats", {}),
            catalog_key=meta["catalog_key"],
        )
        yield from snapshot.derive()
        return snapshot

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
