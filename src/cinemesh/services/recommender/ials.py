"""The challenger: recency-EASE blended with implicit ALS (iALS, Hu, Koren and Volinsky 2008,
fitted by the `implicit` library).

iALS alone loses to recency-EASE on the per-user temporal split (NDCG@10 0.10 against 0.14 on
MovieLens latest-small): its user factors average a whole history. Folding a profile in from
its recency-weighted history (the latest titles count most, as in the served model) and
blending those scores with recency-EASE's, each scaled to its maximum, is what wins (about
+6% NDCG@10, docs in bench/README.md). Item factors are fitted in the trainer process beside
the snapshot and saved next to it; a profile is folded in at request time (one small solve),
so a new profile needs no retraining, like the served model.

`BlendModel` answers `picks` and `similar` as `ItemModel` does, so the rows code serves it
unchanged; "because you watched" stays the item-item model's (a neighbour list explains
itself, a latent factor does not).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinemesh.services.recommender.collaborative import ItemModel, Pick, recency_history
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.service import TrainingData

CHALLENGER = "ials-blend"
CONTROL = "recency-ease"
KEEP_FACTORS = 3


@dataclass(frozen=True)
class IalsParams:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0  # confidence = 1 + alpha * weight
    iterations: int = 15
    half_life: float = 5.0  # of the fold-in's recency weights, as in the served model
    blend: float = 0.35  # the iALS share of the blended score


def fit_item_factors(data: Interactions, params: IalsParams, *, seed: int = 0) -> np.ndarray:
    """Items x factors, float32, from every interaction's confidence (one thread)."""
    from implicit.cpu.als import AlternatingLeastSquares  # imported here: a second to load
    from threadpoolctl import threadpool_limits

    n_items = len(data.item_ids)
    if len(data) == 0:
        return np.zeros((n_items, params.factors), dtype=np.float32)
    confidence = data.matrix(data.weights * params.alpha).tocsr()
    with threadpool_limits(1, "blas"):
        als = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,
            alpha=1.0,
            iterations=params.iterations,
            random_state=seed,
            num_threads=1,
        )
        als.fit(confidence, show_progress=False)
    return np.ascontiguousarray(np.asarray(als.item_factors, dtype=np.float32))


@dataclass(frozen=True)
class FoldIn:
    """User vectors from item factors: u = (Y'Y + Y'(C - I)Y + reg I)^-1 Y'C p."""

    item_factors: np.ndarray
    params: IalsParams

    def __post_init__(self) -> None:
        y = self.item_factors.astype(np.float64)
        gram = y.T @ y + self.params.regularization * np.eye(y.shape[1])
        object.__setattr__(self, "_gram", gram)

    def user(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        if not len(items):
            return np.zeros(self.item_factors.shape[1], dtype=np.float64)
        y = self.item_factors[items].astype(np.float64)
        c = self.params.alpha * weights.astype(np.float64)
        a = self._gram + (y.T * c) @ y  # type: ignore[attr-defined]
        solved: np.ndarray = np.linalg.solve(a, (y.T * (1.0 + c)).sum(axis=1))
        return solved

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Users x items for rows of recency-weighted history."""
        history = history.tocsr()
        users = np.zeros((history.shape[0], self.item_factors.shape[1]))
        for row in range(history.shape[0]):
            start, end = history.indptr[row], history.indptr[row + 1]
            users[row] = self.user(history.indices[start:end], history.data[start:end])
        return users @ self.item_factors.T.astype(np.float64)


def blended(base: np.ndarray, latent: np.ndarray, share: float) -> np.ndarray:
    """Each score set scaled by its row's largest magnitude, then mixed."""

    def scaled(scores: np.ndarray) -> np.ndarray:
        top = np.abs(scores).max(axis=-1, keepdims=True)
        out: np.ndarray = scores / np.maximum(top, 1e-9)
        return out

    return (1.0 - share) * scaled(base) + share * scaled(latent)


class BlendModel:
    """The served model with iALS mixed into its picks; everything else is the base's."""

    def __init__(self, base: ItemModel, fold_in: FoldIn) -> None:
        self.base = base
        self.fold_in = fold_in
        self.item_ids, self.index = base.item_ids, base.index
        self.weights, self.popularity, self.params = base.weights, base.popularity, base.params

    def picks(
        self,
        history: list[tuple[str, float]],
        *,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
        fill_popular: bool = True,
    ) -> list[Pick]:
        idx, vals = self.base.history_vector([i for i, _ in history], [w for _, w in history])
        if not len(idx):
            return self.base.picks(
                history, k=k, allowed=allowed, exclude=exclude, fill_popular=fill_popular
            )
        base, columns, contributions, owners = self.base._contributions(idx, vals)
        latent = self.fold_in.user(idx, vals) @ self.fold_in.item_factors.T
        scores = blended(base, latent, self.fold_in.params.blend).astype(np.float32)
        scores[idx] = -np.inf
        if allowed is not None:
            scores[~allowed] = -np.inf
        candidates = np.flatnonzero(np.isfinite(scores))
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
        best = ranked[self.base._first_not_in(ranked, exclude, k)]
        found = []
        for item in best.tolist():
            because = self._because(item, idx, columns, contributions, owners)
            found.append(Pick(self.item_ids[item], float(scores[item]), because))
        return found

    def _because(
        self,
        item: int,
        idx: np.ndarray,
        columns: np.ndarray,
        contributions: np.ndarray,
        owners: np.ndarray,
    ) -> str | None:
        mine = columns == item
        if not mine.any():
            return self.item_ids[int(idx[0])]  # the latest title watched
        strongest = owners[mine][int(np.argmax(contributions[mine]))]
        return self.item_ids[int(idx[strongest])]

    def similar(self, item: str, **kwargs: Any) -> list[Pick]:
        return self.base.similar(item, **kwargs)

    def batch_scores(self, history: sp.csr_matrix) -> np.ndarray:
        latent = self.fold_in.scores(history)
        return blended(self.base.batch_scores(history), latent, self.fold_in.params.blend)


# --- alongside the snapshots -------------------------------------------------------------
def factors_file(root: Path, version: str) -> Path:
    return root / "challengers" / f"{version}.npy"


def publish_factors(root: Path, *, data: TrainingData, version: str, params: IalsParams) -> None:
    """Fit the challenger's item factors on the snapshot's data, in the snapshot's item order
    (the catalog's titles sorted, then the rest, as `build_snapshot` orders them), and save them
    under `challengers/<version>.npy` before the snapshot is announced."""
    titles = sorted(t["title_id"] for t in data.titles)
    interactions = Interactions.from_records(data.interactions, item_ids=titles)
    factors = fit_item_factors(interactions, params)
    target = factors_file(root, version)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.parent / f".{uuid.uuid4().hex}.npy"
    np.save(temporary, factors, allow_pickle=False)
    os.replace(temporary, target)
    kept = sorted(target.parent.glob("*.npy"))
    for old in kept[:-KEEP_FACTORS]:
        old.unlink(missing_ok=True)


class Challengers:
    """Per serving instance: the snapshot with the challenger mixed in, built once per
    snapshot version when its factors exist (until then, the challenger's cell gets control)."""

    def __init__(self, root: Path, params: IalsParams | None = None) -> None:
        self.root = root
        self.params = params or IalsParams()
        self._served: tuple[str, Any] | None = None

    def serve(self, snapshot: Any, model: str | None) -> tuple[Any, str]:
        """The snapshot to build rows from for the asked model, and the model's name."""
        if model != CHALLENGER:
            return snapshot, CONTROL
        if self._served is not None and self._served[0] == snapshot.version:
            return self._served[1], CHALLENGER
        try:
            factors = np.load(factors_file(self.root, snapshot.version), mmap_mode="r")
        except (OSError, ValueError):
            return snapshot, CONTROL
        if factors.shape[0] != len(snapshot.model.item_ids):
            return snapshot, CONTROL
        mixed = replace(snapshot, model=BlendModel(snapshot.model, FoldIn(factors, self.params)))
        self._served = (snapshot.version, mixed)
        return mixed, CHALLENGER


def challenger_scorer(train: Interactions, base: ItemModel, params: IalsParams) -> Any:
    """Scores for evaluation: the blend over the training part's recency-weighted history."""
    fold_in = FoldIn(fit_item_factors(train, params), params)
    history = recency_history(train, params.half_life)
    model = BlendModel(base, fold_in)
    return lambda users: model.batch_scores(history[users])
