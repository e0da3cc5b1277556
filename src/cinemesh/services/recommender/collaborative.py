"""The served collaborative model: recency-weighted EASE with sparse neighbours.

Training solves EASE (L2 weight `lam`) and keeps each item's `neighbours` strongest positive
weights, a sparse item x item matrix W. A user is scored as h @ W, where h holds their
interactions' weights times 2^(-n / half_life), n = how many of their interactions are newer.
That is the whole model: folding in a new profile needs no retraining, "because you watched X"
is row X of W, and the reason for a pick is the history item that added most to its score.
Chosen by measurement on MovieLens (docs/recommender.md): recency weighting is what beats
plain EASE on a temporal split; pruning to 100 neighbours costs nothing measurable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import InitVar, asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import orjson
import scipy.sparse as sp

from cinemesh.services.recommender import algorithms
from cinemesh.services.recommender.dataset import Interactions
from cinemesh.services.recommender.service import RECENT_ITEMS
from cinemesh.services.recommender.slices import Sliced, at_once

FORMAT = 2  # 1: the arrays in one .npz, read whole at every load
RANKING_SLICE = 64


class ModelFileError(ValueError):
    """A model directory that is missing, incomplete or of another format."""


@dataclass(frozen=True)
class ModelParams:
    lam: float = 300.0
    half_life: float = 5.0
    neighbours: int = 100


class Pick(NamedTuple):
    """A tuple, not a frozen dataclass: a request makes a few hundred, and a frozen
    dataclass' __init__ cost several times a tuple's."""

    item: str
    score: float
    because: str | None  # the history item that contributed most, None for popularity


@dataclass
class ItemModel:
    item_ids: list[str]
    weights: sp.csr_matrix
    popularity: np.ndarray
    params: ModelParams = field(default_factory=ModelParams)
    known_index: InitVar[dict[str, int] | None] = None  # item -> position, when already built

    def __post_init__(self, known_index: dict[str, int] | None) -> None:
        self.index = known_index or {item: n for n, item in enumerate(self.item_ids)}
        self.by_popularity = np.argsort(-self.popularity, kind="stable")

    @classmethod
    def fit(cls, data: Interactions, params: ModelParams | None = None) -> ItemModel:
        params = params or ModelParams()
        x = data.matrix()
        n_items = len(data.item_ids)
        if len(data) == 0 or x.shape[0] == 0:
            weights = sp.csr_matrix((n_items, n_items), dtype=np.float32)
        else:
            weights = algorithms.ease(x, lam=params.lam, k=params.neighbours)
        return cls(list(data.item_ids), weights, algorithms.popularity(x), params)

    # --- scoring ---------------------------------------------------------------------------
    def history_vector(
        self, items: list[str], weights: list[float]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Known items and their recency-discounted weights; `items` newest first."""
        idx, vals = [], []
        recent = zip(items[:RECENT_ITEMS], weights[:RECENT_ITEMS], strict=True)
        for position, (item, weight) in enumerate(recent):
            n = self.index.get(item)
            if n is not None and weight > 0:
                idx.append(n)
                vals.append(weight * 2.0 ** (-position / self.params.half_life))
        return np.array(idx, dtype=np.int64), np.array(vals, dtype=np.float32)

    def picks(
        self,
        history: list[tuple[str, float]],
        *,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
        fill_popular: bool = True,
    ) -> list[Pick]:
        """Top k for one history (newest first), each with its strongest reason; popular
        items fill in when the history says too little."""
        idx, vals = self.history_vector([i for i, _ in history], [w for _, w in history])
        found: list[Pick] = []
        if len(idx):
            scores, *added = self._contributions(idx, vals)
            best = self._best(scores, floor=0.0, allowed=allowed, exclude=exclude, k=k)
            because = self._because(best, idx, *added)
            found = [Pick(self.item_ids[i], float(scores[i]), because[i]) for i in best.tolist()]
        if fill_popular and len(found) < k:
            found += self._popular(k - len(found), allowed, exclude, {p.item for p in found})
        return found

    def blended_picks(
        self,
        history: list[tuple[str, float]],
        *,
        term: ItemModel | Callable[[np.ndarray, np.ndarray], np.ndarray],
        share: float,
        floor: float = 0.0,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
        fill_popular: bool = True,
    ) -> list[Pick]:
        """`picks` from this model's scores mixed with `share` of a term's (`blended`), the
        history left out, only items scoring above `floor`. The term is another item model
        scoring the same history (its contributions a second source of reasons) or a function
        of this model's history vector (a latent term: a pick that nothing in the history
        added to is put down to the latest title watched)."""
        items, weights = [i for i, _ in history], [w for _, w in history]
        idx, vals = self.history_vector(items, weights)
        if not len(idx):
            return self.picks(
                history, k=k, allowed=allowed, exclude=exclude, fill_popular=fill_popular
            )
        own, *added = self._contributions(idx, vals)
        if isinstance(term, ItemModel):
            term_idx, term_vals = term.history_vector(items, weights)
            theirs, *term_added = term._contributions(term_idx, term_vals)
        else:
            theirs = term(idx, vals)
        scores = blended(own, theirs, share).astype(np.float32)
        scores[idx] = floor
        best = self._best(scores, floor=floor, allowed=allowed, exclude=exclude, k=k)
        because = self._because(best, idx, *added)
        if isinstance(term, ItemModel):
            because = term._because(best, term_idx, *term_added) | because
        latest = self.item_ids[idx[0]]
        found = [
            Pick(self.item_ids[i], float(scores[i]), because.get(i, latest)) for i in best.tolist()
        ]
        if fill_popular and len(found) < k:
            taken = {p.item for p in found} | set(items)
            found += self._popular(k - len(found), allowed, exclude, taken)
        return found

    def _best(
        self,
        scores: np.ndarray,
        *,
        floor: float,
        allowed: np.ndarray | None,
        exclude: set[str] | frozenset[str],
        k: int,
    ) -> np.ndarray:
        """The k best-scoring items above `floor`, allowed and not excluded."""
        if allowed is not None:
            scores[~allowed] = floor
        candidates = np.flatnonzero(scores > floor)
        ranked = candidates[np.argsort(-scores[candidates], kind="stable")]
        # walking the ranking past excluded items costs what the few skipped cost; marking
        # every excluded item first cost a lookup for each of a long history's titles
        return ranked[self._first_not_in(ranked, exclude, k)]

    def _popular(
        self,
        k: int,
        allowed: np.ndarray | None,
        exclude: set[str] | frozenset[str],
        taken: set[str],
    ) -> list[Pick]:
        """The k most popular items allowed, not excluded and not taken yet, for a history
        that says too little."""
        found: list[Pick] = []
        for item in self.by_popularity:
            if len(found) >= k:
                break
            name = self.item_ids[item]
            if (
                (allowed is None or allowed[item])
                and name not in exclude
                and name not in taken
                and self.popularity[item] > 0
            ):
                found.append(Pick(name, 0.0, None))
        return found

    def _first_not_in(
        self, ranked: np.ndarray, exclude: set[str] | frozenset[str], k: int
    ) -> list[int]:
        """Where in `ranked` (item positions, best first) the first k items not in `exclude`
        are; read a slice at a time, since a long ranking is mostly never reached."""
        kept: list[int] = []
        for start in range(0, len(ranked), RANKING_SLICE):
            for i, position in enumerate(ranked[start : start + RANKING_SLICE].tolist(), start):
                if len(kept) == k:
                    return kept
                if self.item_ids[position] not in exclude:
                    kept.append(i)
        return kept

    def _contributions(
        self, idx: np.ndarray, vals: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Scores h @ W from W's rows as arrays (no sparse-matrix objects: a request's worth
        of scipy indexing cost more than the arithmetic), and each product's column, value
        and history position."""
        w = self.weights
        starts, lengths = w.indptr[idx], w.indptr[idx + 1] - w.indptr[idx]
        owners = np.repeat(np.arange(len(idx)), lengths)
        offsets = np.arange(len(owners)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        taken = np.repeat(starts, lengths) + offsets
        columns = w.indices[taken]
        contributions = w.data[taken] * vals[owners]
        summed = np.bincount(columns, weights=contributions, minlength=len(self.item_ids))
        scores = summed.astype(np.float32)
        return scores, columns, contributions, owners

    def _because(
        self,
        best: np.ndarray,
        idx: np.ndarray,
        columns: np.ndarray,
        contributions: np.ndarray,
        owners: np.ndarray,
    ) -> dict[int, str]:
        """For each of `best` that the history added to, the history title that added most
        (the newest on a tie)."""
        mask = np.isin(columns, best)
        if not mask.any():
            return {}
        cols, values, who = columns[mask], contributions[mask], owners[mask]
        order = np.lexsort((who, -values, cols))
        first = order[np.flatnonzero(np.r_[True, cols[order][1:] != cols[order][:-1]])]
        titles = [self.item_ids[i] for i in idx[who[first]].tolist()]
        return dict(zip(cols[first].tolist(), titles, strict=True))

    def similar(
        self,
        item: str,
        *,
        k: int,
        allowed: np.ndarray | None = None,
        exclude: set[str] | frozenset[str] = frozenset(),
    ) -> list[Pick]:
        """The k items `item` points to most strongly (its row of W), leaving out `exclude`."""
        n = self.index.get(item)
        if n is None:
            return []
        start, end = self.weights.indptr[n], self.weights.indptr[n + 1]
        scores, columns = self.weights.data[start:end], self.weights.indices[start:end]
        if allowed is not None:
            keep = allowed[columns]
            scores, columns = scores[keep], columns[keep]
        order = np.argsort(-scores, kind="stable")
        chosen = order[self._first_not_in(columns[order], exclude, k)]
        return [
            Pick(self.item_ids[j], score, item)
            for j, score in zip(columns[chosen].tolist(), scores[chosen].tolist(), strict=True)
        ]

    def batch_scores(self, history: sp.csr_matrix) -> np.ndarray:
        """Dense scores for many users at once (rows of `history` already recency-weighted)."""
        return np.asarray((history @ self.weights).toarray())

    # --- files ------------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """One .npy file per array (opened by `load` as a memory map, not read and parsed), and
        the ids and parameters as JSON."""
        folder.mkdir(parents=True, exist_ok=True)
        w = self.weights.tocsr()
        arrays = {"data": w.data, "indices": w.indices, "indptr": w.indptr}
        for name, array in {**arrays, "popularity": self.popularity}.items():
            np.save(folder / f"{name}.npy", array, allow_pickle=False)
        meta = {"format": FORMAT, "params": asdict(self.params), "item_ids": self.item_ids}
        (folder / "items.json").write_bytes(orjson.dumps(meta))

    @classmethod
    def load(cls, folder: Path, *, like: ItemModel | None = None) -> ItemModel:
        return at_once(cls.loading(folder, like=like))

    @classmethod
    def loading(cls, folder: Path, *, like: ItemModel | None = None) -> Sliced[ItemModel]:
        """The model in `folder`, a file a slice, its arrays mapped from the files (pages are
        read when first touched, and shared with every process mapping them). With `like`
        holding the same item ids, its ids and index are reused instead of rebuilt (about
        3 ms of Python work for 10k items, in the serving process)."""
        arrays: dict[str, np.ndarray] = {}
        try:
            meta = orjson.loads((folder / "items.json").read_bytes())
            if meta.get("format") != FORMAT:
                raise ModelFileError(
                    f"{folder} holds a model of format {meta.get('format')}, expected {FORMAT}"
                )
            for name in ("data", "indices", "indptr", "popularity"):
                yield
                arrays[name] = np.asarray(np.load(folder / f"{name}.npy", mmap_mode="r"))
        except FileNotFoundError as exc:
            raise ModelFileError(
                f"{folder} is not a model directory (no {Path(str(exc.filename)).name})"
            ) from None
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"{folder} holds an unreadable model: {exc}") from None
        yield
        item_ids: list[str] = meta["item_ids"]
        index = None
        if like is not None and like.item_ids == item_ids:
            item_ids, index = like.item_ids, like.index
        n = len(item_ids)
        weights = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n), copy=False
        )
        yield
        return cls(item_ids, weights, arrays["popularity"], ModelParams(**meta["params"]), index)


def blended(base: np.ndarray, other: np.ndarray, share: float) -> np.ndarray:
    """Each score set scaled by its row's largest magnitude, then mixed."""

    def scaled(scores: np.ndarray) -> np.ndarray:
        top = np.abs(scores).max(axis=-1, keepdims=True)
        out: np.ndarray = scores / np.maximum(top, 1e-9)
        return out

    return (1.0 - share) * scaled(base) + share * scaled(other)


def recency_history(data: Interactions, half_life: float) -> sp.csr_matrix:
    """Users x items, each weight discounted by how many newer interactions its user has."""
    positions = data.positions_from_end()
    decay = algorithms.recency_weights(positions, half_life=half_life)
    decay[positions >= RECENT_ITEMS] = 0.0
    return data.matrix(data.weights * decay)
