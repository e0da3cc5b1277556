"""Offline evaluation: one protocol, every model measured by the same code in the same run.

Protocol (documented in docs/recommender.md):
- Split per user by time: each user's latest 20% of interactions (at least one; ties broken by
  item id) are the test set, the rest is training. Users with one interaction only train.
- Implicit feedback: every test interaction is relevant (a rated title is a watched title).
- Each model ranks all items for each test user, the user's training items excluded.
- NDCG@10 (binary gains, ideal DCG over min(10, |test|) hits), Recall@20 = hits in the top 20
  / min(20, |test|), HR@10 = share of users with at least one hit in the top 10; averaged
  over test users.
- Hyperparameters of every model (EASE's lambda, kNN's k, ours' lambda and half-life, and
  every challenger candidate's grid in candidates.py) are chosen on a validation split made
  the same way from the training part only, then each model is fitted on the whole training
  part. The test set is touched once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinemesh.services.recommender import algorithms, candidates
from cinemesh.services.recommender.collaborative import ItemModel, ModelParams, recency_history
from cinemesh.services.recommender.dataset import Interactions

Scorer = Callable[[np.ndarray], np.ndarray]  # user indexes -> scores (users x items)
NDCG_K, RECALL_K, HR_K = 10, 20, 10
BATCH = 512
LAMBDAS = (100.0, 300.0, 1000.0)
HALF_LIVES = (3.0, 5.0, 10.0)
NEIGHBOURS = (50, 100, 200)


@dataclass(frozen=True)
class Metrics:
    ndcg_at_10: float
    recall_at_20: float
    hr_at_10: float
    users: int


@dataclass
class Result:
    model: str
    params: dict[str, Any]
    metrics: Metrics
    fit_s: float


@dataclass
class Report:
    dataset: dict[str, Any]
    protocol: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    validation: list[candidates.Trial] = field(default_factory=list)  # every setting tried

    def best(self) -> Result:
        return max(self.results, key=lambda r: r.metrics.ndcg_at_10)


def measure(scorer: Scorer, train: Interactions, test: Interactions) -> Metrics:
    """NDCG@10, Recall@20 and HR@10 of `scorer` over the users that have test items."""
    seen = train.matrix().tocsr()
    relevant = test.matrix().tocsr()
    users = np.flatnonzero(np.diff(relevant.indptr))
    discounts = 1.0 / np.log2(np.arange(2, NDCG_K + 2))
    ideal = np.cumsum(discounts)
    ndcg = recall = hits_any = 0.0
    for start in range(0, len(users), BATCH):
        batch = users[start : start + BATCH]
        scores = np.array(scorer(batch), dtype=np.float64)
        mask = seen[batch]
        scores[mask.nonzero()[0], mask.indices] = -np.inf
        top = _top_n(scores, RECALL_K)
        rel = relevant[batch]
        hit = np.asarray(rel[np.arange(len(batch))[:, None], top].toarray() > 0)
        n_rel = np.diff(rel.indptr)
        ndcg += float(((hit[:, :NDCG_K] @ discounts) / ideal[np.minimum(n_rel, NDCG_K) - 1]).sum())
        recall += float((hit.sum(axis=1) / np.minimum(n_rel, RECALL_K)).sum())
        hits_any += float(hit[:, :HR_K].any(axis=1).sum())
    n = max(len(users), 1)
    return Metrics(round(ndcg / n, 4), round(recall / n, 4), round(hits_any / n, 4), len(users))


def _top_n(scores: np.ndarray, n: int) -> np.ndarray:
    n = min(n, scores.shape[1])
    part = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    order = np.argsort(-np.take_along_axis(scores, part, axis=1), axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1)


# --- the models under comparison ----------------------------------------------------------
def popularity_scorer(train: Interactions) -> Scorer:
    pop = algorithms.popularity(train.matrix())
    return lambda users: np.tile(pop, (len(users), 1))


def knn_scorer(train: Interactions, k: int) -> Scorer:
    x = train.matrix()
    binary = (x > 0).astype(np.float32).tocsr()
    sims = algorithms.cosine_knn(x, k=k)
    return lambda users: np.asarray((binary[users] @ sims).toarray())


def ease_scorer(solver: algorithms.EaseSolver, history: sp.csr_matrix) -> Scorer:
    return lambda users: solver.scores(history[users])


def ours_scorer(model: ItemModel, train: Interactions) -> Scorer:
    history = recency_history(train, model.params.half_life)
    return lambda users: model.batch_scores(history[users])


def _best(options: dict[Any, Metrics]) -> Any:
    return max(options, key=lambda o: (options[o].ndcg_at_10, options[o].recall_at_20))


def tune(train: Interactions, *, test_fraction: float) -> dict[str, dict[str, Any]]:
    """Hyperparameters for each model, chosen on a validation split of the training part."""
    fit, valid = train.temporal_split(test_fraction)
    knn = {k: measure(knn_scorer(fit, k), fit, valid) for k in NEIGHBOURS}
    ease_runs: dict[float, Metrics] = {}
    ours_runs: dict[tuple[float, float], Metrics] = {}
    for lam in LAMBDAS:
        solver = algorithms.EaseSolver(fit.matrix(), lam)
        ease_runs[lam] = measure(ease_scorer(solver, fit.matrix()), fit, valid)
        for half_life in HALF_LIVES:
            weighted = recency_history(fit, half_life)
            ours_runs[(lam, half_life)] = measure(ease_scorer(solver, weighted), fit, valid)
    lam, half_life = _best(ours_runs)
    return {
        "item-knn": {"k": _best(knn)},
        "ease": {"lam": _best(ease_runs)},
        "ours": {"lam": lam, "half_life": half_life},
    }


DEFAULTS: dict[str, dict[str, Any]] = {
    "item-knn": {"k": 100},
    "ease": {"lam": 300.0},
    "ours": {"lam": 300.0, "half_life": 5.0},
}
OURS = "recency-ease"


def evaluate(
    data: Interactions,
    *,
    test_fraction: float = 0.2,
    tuned: bool = True,
    log: Callable[[str], None] = lambda _m: None,
) -> Report:
    """Split, tune on validation, fit every model on the training part, measure on test."""
    train, test = data.temporal_split(test_fraction)
    report = Report(
        dataset={
            "users": len(data.user_ids),
            "items": len(data.item_ids),
            "interactions": len(data),
            "train": len(train),
            "test": len(test),
        },
        protocol={
            "split": f"per user, latest {test_fraction:.0%} by timestamp as test",
            "relevance": "every held-out interaction",
            "tuning": "validation split of the training part" if tuned else "fixed defaults",
        },
    )
    log(
        "choosing hyperparameters on the validation split"
        if tuned
        else "using default hyperparameters"
    )
    params = tune(train, test_fraction=test_fraction) if tuned else DEFAULTS
    served = ModelParams(**params["ours"])
    picked = candidates.DEFAULTS
    if tuned:
        log("choosing every challenger candidate's setting on the validation split")
        picked, report.validation = candidates.search(
            train, test_fraction=test_fraction, ours=served, measure=measure
        )

    @cache
    def ours() -> ItemModel:
        """The served model, fitted once: measured alone and as the challenger's base."""
        return ItemModel.fit(train, served)

    runs: list[tuple[str, dict[str, Any], Callable[[], Scorer]]] = [
        ("popularity", {}, lambda: popularity_scorer(train)),
        (
            "item-knn (cosine)",
            params["item-knn"],
            lambda: knn_scorer(train, params["item-knn"]["k"]),
        ),
        (
            "ease",
            params["ease"],
            lambda: ease_scorer(
                algorithms.EaseSolver(train.matrix(), params["ease"]["lam"]), train.matrix()
            ),
        ),
        (
            OURS,
            {**params["ours"], "neighbours": ModelParams().neighbours},
            lambda: ours_scorer(ours(), train),
        ),
    ]

    def candidate(name: str) -> Callable[[], Scorer]:
        return lambda: candidates.build(name, picked[name], train, ours())

    runs += [(name, picked[name], candidate(name)) for name in candidates.GRID]
    base_s = 0.0
    for name, chosen, build in runs:
        log(f"fitting {name}")
        started = time.perf_counter()
        scorer = build()
        fit_s = time.perf_counter() - started
        if name == OURS:
            base_s = fit_s
        elif name in candidates.BLENDS:  # the blend's fit includes its recency-EASE part
            fit_s += base_s
        report.results.append(Result(name, chosen, measure(scorer, train, test), round(fit_s, 2)))
    return report
