"""The challenger search: a fixed grid of candidate models, each setting measured on the
validation split and the best one per candidate measured on the test split once.

`search` gets the training part only (the caller holds the test split back): it splits that
part again, per user by time as the test split is made, fits every setting on the earlier
part and measures it on the later one. Nothing here can reach the test interactions;
`tests/recommender/test_challenger.py` checks that changing them changes no choice.

Candidates, each from the literature's strong simple baselines (docs/recommender.md):
- `rp3beta` (Paudel et al. 2017): a three-step random walk with popularity discount, scored
  with the served model's recency-weighted history;
- `ease-decay`: EASE fitted on interactions weighted by their recency within the profile's
  history (older co-occurrences count less), scored as the served model;
- `ials` / `ials-blend`: implicit ALS (`implicit`), folded in from the recency-weighted
  history, alone and blended with recency-EASE (ials.py);
- `seq-ease`: recency-EASE blended with a sequence-aware item-to-item term (sequence.py).

Every setting is deterministic: iALS' seed is fixed, the rest has no randomness.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from cinemesh.services.recommender import algorithms, ials, sequence
from cinemesh.services.recommender.collaborative import ItemModel, ModelParams, recency_history
from cinemesh.services.recommender.dataset import Interactions

Scorer = Callable[[np.ndarray], np.ndarray]
SEED = 0
BLENDS = ("ials-blend", "seq-ease")  # fitted on top of recency-EASE

GRID: dict[str, list[dict[str, Any]]] = {
    "rp3beta": [{"beta": beta} for beta in (0.3, 0.5, 0.7)],
    "ease-decay": [{"decay_half_life": h} for h in (25.0, 100.0)],
    "ials": [
        {"factors": f, "alpha": a, "regularization": 0.05}
        for f, a in itertools.product((64, 128), (5.0, 20.0))
    ],
    "ials-blend": [
        {"factors": f, "alpha": a, "regularization": 0.05, "blend": b}
        for f, a, b in itertools.product((64, 128), (5.0, 20.0), (0.2, 0.35))
    ],
    "seq-ease": [
        {"window": w, "decay": d, "half_life": h, "share": s}
        for (w, d), h, s in itertools.product(
            ((10, 0.9), (20, 0.95), (50, 0.95)), (2.0, 3.0), (0.4, 0.5, 0.6)
        )
    ],
}
DEFAULTS: dict[str, dict[str, Any]] = {
    "rp3beta": {"beta": 0.3},
    "ease-decay": {"decay_half_life": 100.0},
    "ials": {"factors": 64, "alpha": 5.0, "regularization": 0.05},
    "ials-blend": {"factors": 128, "alpha": 20.0, "regularization": 0.05, "blend": 0.35},
    "seq-ease": {"window": 50, "decay": 0.95, "half_life": 3.0, "share": 0.5},
}


@dataclass(frozen=True)
class Trial:
    """One setting of one candidate, measured on the validation split."""

    candidate: str
    params: dict[str, Any]
    ndcg_at_10: float
    recall_at_20: float


def build(name: str, params: dict[str, Any], train: Interactions, base: ItemModel) -> Scorer:
    """The candidate's scorer fitted on `train`; `base` is recency-EASE fitted on it."""
    history = recency_history(train, base.params.half_life)
    if name == "recency-ease":
        return lambda users: base.batch_scores(history[users])
    if name == "rp3beta":
        walk = algorithms.rp3beta(train.matrix(), beta=params["beta"], k=base.params.neighbours)
        return lambda users: np.asarray((history[users] @ walk).toarray())
    if name == "ease-decay":
        positions = train.positions_from_end()
        decay = algorithms.recency_weights(positions, half_life=params["decay_half_life"])
        x = train.matrix(train.weights * decay)
        weights = algorithms.ease(x, lam=base.params.lam, k=base.params.neighbours)
        return lambda users: np.asarray((history[users] @ weights).toarray())
    if name in ("ials", "ials-blend"):
        fitted = ials.IalsParams(
            factors=params["factors"],
            regularization=params["regularization"],
            alpha=params["alpha"],
            half_life=base.params.half_life,
            blend=params.get("blend", 1.0),
        )
        fold_in = ials.FoldIn(ials.fit_item_factors(train, fitted, seed=SEED), fitted)
        if name == "ials":
            return lambda users: fold_in.scores(history[users])
        blend = ials.BlendModel(base, fold_in)
        return lambda users: blend.batch_scores(history[users])
    if name == "seq-ease":
        return sequence.scorer(train, base, sequence.SequenceParams(**params))
    raise KeyError(name)


def search(
    train: Interactions,
    *,
    test_fraction: float,
    ours: ModelParams,
    measure: Callable[[Scorer, Interactions, Interactions], Any],
) -> tuple[dict[str, dict[str, Any]], list[Trial]]:
    """Every candidate's best setting on the validation split of `train` (by NDCG@10, then
    Recall@20, the first in grid order on a tie), and every trial."""
    fit, valid = train.temporal_split(test_fraction)
    base = ItemModel.fit(fit, ours)
    control = measure(build("recency-ease", {}, fit, base), fit, valid)
    trials = [Trial("recency-ease", {}, control.ndcg_at_10, control.recall_at_20)]
    for name, settings in GRID.items():
        for params in settings:
            m = measure(build(name, params, fit, base), fit, valid)
            trials.append(Trial(name, params, m.ndcg_at_10, m.recall_at_20))
    chosen = {}
    for name in GRID:
        mine = [t for t in trials if t.candidate == name]
        chosen[name] = max(mine, key=lambda t: (t.ndcg_at_10, t.recall_at_20)).params
    return chosen, trials
