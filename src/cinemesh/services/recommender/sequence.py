"""The challenger: recency-EASE blended with a sequence-aware item-to-item term ("seq-ease").

On a temporal split the next titles a person watches follow the last ones, and not only in
taste: what people watched *after* a title says more about what comes next than what they
watched *with* it. The term counts, over every profile's history in time order, how often
title j came within `window` titles after title i (the d-th one after counting `decay^(d-1)`),
each row scaled to sum to 1 and pruned to its `neighbours` strongest entries: a sparse
item x item matrix T, like the served model's W. A profile is scored with its own
recency-weighted history (half-life `half_life`) as h @ T, and the two score sets, each scaled
to the profile's maximum, are mixed with `share` of this term (collaborative.blended).

Interactions of one profile with the same timestamp have no order (MovieLens rates many
titles in the same second; the split breaks those ties by item id): they count both ways,
so the term cannot learn the tie-break. Its settings are chosen on the validation split
(candidates.py) and measured on the test split once (docs/recommender.md).

As with the served model, a new profile needs no retraining, and each pick's reason is a
title from the history: the one that added most to its recency-EASE score, else to this
term's.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from cinemesh.services.recommender.algorithms import _sparse_top_k
from cinemesh.services.recommender.collaborative import (
    ItemModel,
    ModelFileError,
    ModelParams,
    Pick,
    blended,
    recency_history,
)
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.service import TrainingData

CHALLENGER = "seq-ease"
CONTROL = "recency-ease"
KEEP_VERSIONS = 3


@dataclass(frozen=True)
class SequenceParams:
    """The defaults are what the validation split chose on MovieLens latest-small
    (candidates.GRID; `tests/recommender/test_challenger.py` checks they still are)."""

    window: int = 50
    decay: float = 0.95
    half_life: float = 3.0
    share: float = 0.5  # this term's part of the blended score
    neighbours: int = 100


def transitions(data: Interactions, params: SequenceParams) -> sp.csr_matrix:
    """T[i, j]: how often j followed i within the window, rows summing to 1, top neighbours."""
    n = len(data.item_ids)
    if len(data) == 0:
        return sp.csr_matrix((n, n), dtype=np.float32)
    order = np.lexsort((data.items, data.timestamps, data.users))
    users, items, times = data.users[order], data.items[order], data.timestamps[order]
    rows, cols, vals = [], [], []
    for lag in range(1, params.window + 1):
        same = users[:-lag] == users[lag:]
        before, after = items[:-lag][same], items[lag:][same]
        value = np.full(len(before), params.decay ** (lag - 1), dtype=np.float32)
        tie = times[:-lag][same] == times[lag:][same]
        rows += [before, after[tie]]
        cols += [after, before[tie]]
        vals += [value, value[tie]]
    counted = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n)
    )
    counted.setdiag(0)
    counted.eliminate_zeros()
    out = np.asarray(counted.sum(axis=1)).ravel()
    normalized = (sp.diags(1.0 / np.maximum(out, 1e-9)) @ counted).tocsr()
    return _sparse_top_k(normalized, params.neighbours)


def sequence_model(data: Interactions, params: SequenceParams) -> ItemModel:
    """T as an ItemModel (its half-life the term's own), so that it is saved, loaded and
    scored as the served model is."""
    from cinemesh.services.recommender import algorithms

    return ItemModel(
        list(data.item_ids),
        transitions(data, params),
        algorithms.popularity(data.matrix()),
        ModelParams(half_life=params.half_life, neighbours=params.neighbours),
    )


class SequenceBlend:
    """The served model with the sequence term mixed into its picks; "because you watched"
    rows stay the served model's."""

    def __init__(self, base: ItemModel, sequence: ItemModel, share: float) -> None:
        self.base = base
        self.sequence = sequence
        self.share = share
        self.item_ids, self.index = base.item_ids, base.index
        self.weights, self.popularity, self.params = base.weights, base.popularity, base.params

    def picks(self, history: list[tuple[str, float]], **kwargs: Any) -> list[Pick]:
        return self.base.blended_picks(history, term=self.sequence, share=self.share, **kwargs)

    def similar(self, item: str, **kwargs: Any) -> list[Pick]:
        return self.base.similar(item, **kwargs)

    def batch_scores(self, history: sp.csr_matrix, sequence_history: sp.csr_matrix) -> np.ndarray:
        """Dense scores for many users, each history already recency-weighted."""
        return blended(
            self.base.batch_scores(history),
            self.sequence.batch_scores(sequence_history),
            self.share,
        )


def scorer(
    train: Interactions, base: ItemModel, params: SequenceParams
) -> Callable[[np.ndarray], np.ndarray]:
    """Scores for evaluation: the blend over the training part's recency-weighted histories."""
    model = SequenceBlend(base, sequence_model(train, params), params.share)
    history = recency_history(train, base.params.half_life)
    sequence_history = recency_history(train, params.half_life)
    return lambda users: model.batch_scores(history[users], sequence_history[users])


# --- alongside the snapshots -------------------------------------------------------------
def folder_of(root: Path, version: str) -> Path:
    return root / "challengers" / CHALLENGER / version


def publish(root: Path, *, data: TrainingData, version: str, params: SequenceParams) -> None:
    """Fit the term on the snapshot's data, in the snapshot's item order (the catalog's titles
    sorted, then the rest, as `build_snapshot` orders them), and save it under
    `challengers/seq-ease/<version>/` before the snapshot is announced."""
    titles = sorted(t["title_id"] for t in data.titles)
    interactions = Interactions.from_records(data.interactions, item_ids=titles)
    target = folder_of(root, version)
    staging = target.parent / f".{uuid.uuid4().hex}"
    sequence_model(interactions, params).save(staging)
    (staging / "share.json").write_text(str(params.share))
    staging.rename(target)
    kept = sorted(p for p in target.parent.iterdir() if not p.name.startswith("."))
    for old in kept[:-KEEP_VERSIONS]:
        shutil.rmtree(old, ignore_errors=True)


class Challengers:
    """Per serving instance: the snapshot with the challenger mixed in, built once per
    snapshot version when its term exists (until then, the challenger's cell gets control)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._served: tuple[str, Any] | None = None

    def serve(self, snapshot: Any, model: str | None) -> tuple[Any, str]:
        """The snapshot to build rows from for the asked model, and the model's name."""
        if model != CHALLENGER:
            return snapshot, CONTROL
        if self._served is not None and self._served[0] == snapshot.version:
            return self._served[1], CHALLENGER
        folder = folder_of(self.root, snapshot.version)
        try:
            term = ItemModel.load(folder, like=snapshot.model)
            share = float((folder / "share.json").read_text())
        except (ModelFileError, OSError, ValueError):
            return snapshot, CONTROL
        if term.item_ids != snapshot.model.item_ids:
            return snapshot, CONTROL
        mixed = replace(snapshot, model=SequenceBlend(snapshot.model, term, share))
        self._served = (snapshot.version, mixed)
        return mixed, CHALLENGER
