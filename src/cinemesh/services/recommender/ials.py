"""A challenger candidate (candidates.py): recency-EASE blended with implicit ALS (iALS, Hu,
Koren and Volinsky 2008, fitted by the `implicit` library). Measured offline, not served.

iALS alone loses to recency-EASE on the per-user temporal split: its user factors average a
whole history. Here a profile is folded in from its recency-weighted history (the latest
titles count most, as in the served model), and the blend mixes those scores with
recency-EASE's, each scaled to its maximum. With settings chosen on the validation split it
gains about 1% there (docs/recommender.md), so the served challenger is seq-ease
(sequence.py), which blends the same way (collaborative.blended).

`BlendModel` answers `picks` and `similar` as `ItemModel` does; "because you watched" stays
the item-item model's (a neighbour list explains itself, a latent factor does not).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinemesh.services.recommender.collaborative import ItemModel, Pick, blended
from cinemesh.services.recommender.dataset import Interactions


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

    def item_scores(self, items: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """Every item's score for one folded-in history."""
        scores: np.ndarray = self.user(items, weights) @ self.item_factors.T
        return scores

    def scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Users x items for rows of recency-weighted history."""
        history = history.tocsr()
        users = np.zeros((history.shape[0], self.item_factors.shape[1]))
        for row in range(history.shape[0]):
            start, end = history.indptr[row], history.indptr[row + 1]
            users[row] = self.user(history.indices[start:end], history.data[start:end])
        return users @ self.item_factors.T.astype(np.float64)


class BlendModel:
    """The served model with iALS mixed into its picks; everything else is the base's."""

    def __init__(self, base: ItemModel, fold_in: FoldIn) -> None:
        self.base = base
        self.fold_in = fold_in
        self.item_ids, self.index = base.item_ids, base.index
        self.weights, self.popularity, self.params = base.weights, base.popularity, base.params

    def picks(self, history: list[tuple[str, float]], **kwargs: Any) -> list[Pick]:
        """The base's picks with iALS mixed in; a latent score may be below zero and still
        rank."""
        return self.base.blended_picks(
            history,
            term=self.fold_in.item_scores,
            share=self.fold_in.params.blend,
            floor=-np.inf,
            **kwargs,
        )

    def similar(self, item: str, **kwargs: Any) -> list[Pick]:
        return self.base.similar(item, **kwargs)

    def batch_scores(self, history: sp.csr_matrix) -> np.ndarray:
        latent = self.fold_in.scores(history)
        return blended(self.base.batch_scores(history), latent, self.fold_in.params.blend)
