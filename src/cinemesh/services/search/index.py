"""An in-memory title index: exact, prefix (as you type) and typo-tolerant matching, ranked by
relevance then popularity, with filters, facets and highlights.

Each version of a document gets a slot; the per-slot fields live in numpy columns, so
filters, facets and ranking are vector operations over all slots. An update takes a new slot
and retires the old one (postings only grow; a compaction rebuilds when half are dead).

Typo tolerance uses a deletion neighbourhood, as SymSpell does: every vocabulary term is
indexed under the strings made by deleting up to `max_edits(term)` characters, so candidates
for a misspelt query word come from looking up its own deletions, then are confirmed by edit
distance. Prefixes come from the sorted vocabulary with bisect."""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cinemesh.services.search.columns import Columns
from cinemesh.services.search.text import deletions, edit_distance, highlight, max_edits, terms

FIELD_WEIGHTS = {"title": 3.0, "cast": 1.2, "genres": 1.0, "crew": 0.8}
EXACT, PREFIX, TYPO = 1.0, 0.8, 0.55
MAX_PREFIX_EXPANSION = 128
MAX_PREFIX_SCAN = 4096
MAX_QUERY_TERMS = 8
COMPACT_MIN_DEAD = 1024


@dataclass
class Doc:
    id: str
    title: str
    kind: str
    genres: list[str]
    year: int | None
    maturity_rating: str
    maturity_level: int
    popularity: float
    playable: bool = False
    cast: list[str] = field(default_factory=list)
    crew: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Query:
    text: str = ""
    genre: str | None = None
    year_from: int | None = None
    year_to: int | None = None
    max_maturity_level: int | None = None
    limit: int = 20
    offset: int = 0


class Posting:
    """The slots a term occurs in and the term's weight in each, in arrays that grow by
    doubling (so a query never converts lists)."""

    __slots__ = ("size", "slots", "weights")

    def __init__(self) -> None:
        self.size = 0
        self.slots = np.zeros(2, dtype=np.int64)
        self.weights = np.zeros(2, dtype=np.float32)

    def add(self, slot: int, weight: float) -> None:
        if self.size == self.slots.size:
            self.slots = np.resize(self.slots, self.size * 2)
            self.weights = np.resize(self.weights, self.size * 2)
        self.slots[self.size] = slot
        self.weights[self.size] = weight
        self.size += 1

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.slots[: self.size], self.weights[: self.size]


class TitleIndex:
    def __init__(self) -> None:
        self._reset()
        self.revisions: dict[str, int] = {}

    def _reset(self) -> None:
        self.columns = Columns()
        self.docs: list[Doc | None] = []
        self.slot_of: dict[str, int] = {}
        self.postings: dict[str, Posting] = {}
        self.vocabulary: list[str] = []
        self.neighbourhood: dict[str, list[str]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self.slot_of)

    # --- changes -------------------------------------------------------------------------
    def upsert(self, doc: Doc, *, revision: int = 0) -> bool:
        """Index `doc` unless a newer revision of it was seen; True when applied."""
        if not self._is_current(doc.id, revision):
            return False
        self._retire(doc.id)
        slot = len(self.docs)
        self.docs.append(doc)
        self.slot_of[doc.id] = slot
        self.columns.append(doc)
        for term, weight in _term_weights(doc).items():
            self._posting(term).add(slot, weight)
        return True

    def remove(self, doc_id: str, *, revision: int = 0) -> bool:
        if not self._is_current(doc_id, revision):
            return False
        self._retire(doc_id)
        if len(self.docs) - len(self.slot_of) > max(COMPACT_MIN_DEAD, len(self.slot_of)):
            self._compact()
        return True

    def _is_current(self, doc_id: str, revision: int) -> bool:
        if revision and revision < self.revisions.get(doc_id, 0):
            return False
        if revision:
            self.revisions[doc_id] = revision
        return True

    def _retire(self, doc_id: str) -> None:
        slot = self.slot_of.pop(doc_id, None)
        if slot is not None:
            self.docs[slot] = None
            self.columns.alive[slot] = False

    def _posting(self, term: str) -> Posting:
        posting = self.postings.get(term)
        if posting is None:
            posting = self.postings[term] = Posting()
            bisect.insort(self.vocabulary, term)
            for variant in deletions(term, max_edits(term)):
                self.neighbourhood[variant].append(term)
        return posting

    def _compact(self) -> None:
        live = [d for d in self.docs if d is not None]
        self._reset()
        for doc in live:
            self.upsert(doc)

    # --- queries -------------------------------------------------------------------------
    def search(self, query: Query) -> dict[str, Any]:
        query_terms = terms(query.text)[:MAX_QUERY_TERMS]
        size = len(self.docs)
        words: set[str] = set()
        if query_terms:
            scores = self._scores(query_terms, size, words)
            mask = (scores > 0) & self.columns.alive[:size]
        else:
            scores = np.zeros(size, dtype=np.float32)
            mask = self.columns.alive[:size].copy()
        mask &= self.columns.filter_mask(
            size,
            genre=query.genre,
            year_from=query.year_from,
            year_to=query.year_to,
            max_maturity=query.max_maturity_level,
        )
        matched = np.flatnonzero(mask)
        page = self._rank(matched, scores, end=query.offset + query.limit)[query.offset :]
        return {
            "total": int(matched.size),
            "hits": [self._hit(int(slot), float(scores[slot]), words) for slot in page],
            "facets": self.columns.facets(mask, matched),
        }

    def _scores(self, query_terms: list[str], size: int, words: set[str]) -> np.ndarray:
        """Each slot's relevance: the sum over query words of its best match for each, and 0
        unless every word matched (the last word may be a prefix)."""
        total = np.zeros(size, dtype=np.float32)
        for position, term in enumerate(query_terms):
            candidates = self._candidates(term, as_prefix=position == len(query_terms) - 1)
            words.update(candidates)
            best = np.zeros(size, dtype=np.float32)
            for candidate, quality in candidates.items():
                slots, weights = self.postings[candidate].arrays()
                best[slots] = np.maximum(best[slots], weights * quality)
            total = np.where((best > 0) & (total > 0), total + best, 0) if position else best
        return total

    def _candidates(self, term: str, *, as_prefix: bool) -> dict[str, float]:
        """Vocabulary terms that may stand for `term`, each with its match quality."""
        found: dict[str, float] = {}
        if term in self.postings:
            found[term] = EXACT
        if as_prefix:
            for candidate in self._completions(term):
                found.setdefault(candidate, PREFIX)
        edits = max_edits(term)
        for variant in deletions(term, edits) if edits else ():
            for candidate in self.neighbourhood.get(variant, ()):
                if candidate not in found:
                    distance = edit_distance(term, candidate, edits)
                    if distance <= edits:
                        found[candidate] = TYPO - 0.1 * (distance - 1)
        return found

    def _completions(self, prefix: str) -> list[str]:
        """Vocabulary words starting with `prefix`; for a short prefix with very many, the
        MAX_PREFIX_EXPANSION that occur in the most titles."""
        start = bisect.bisect_left(self.vocabulary, prefix)
        words = []
        for word in itertools.islice(self.vocabulary, start, start + MAX_PREFIX_SCAN):
            if not word.startswith(prefix):
                break
            words.append(word)
        if len(words) <= MAX_PREFIX_EXPANSION:
            return words
        return heapq.nlargest(MAX_PREFIX_EXPANSION, words, key=lambda w: self.postings[w].size)

    def _rank(self, matched: np.ndarray, scores: np.ndarray, *, end: int) -> list[int]:
        """The first `end` matched slots by relevance, then popularity, then slot (the order
        titles were last written in): a total order, so paging through equal keys never skips a title
        or shows one twice."""
        if matched.size == 0 or end <= 0:
            return []
        popularity = self.columns.popularity[matched]
        rank = -(
            np.round(scores[matched].astype(np.float64) * 1000)
            + popularity / (popularity.max() + 1.0)
        )
        chosen = np.arange(matched.size)
        if matched.size > end:
            boundary = np.partition(rank, end - 1)[end - 1]
            above, tied = np.flatnonzero(rank < boundary), np.flatnonzero(rank == boundary)
            wanted = end - above.size
            if tied.size > wanted:  # of a tie at the cut, the earliest slots make it
                tied = tied[np.argpartition(matched[tied], wanted - 1)[:wanted]]
            chosen = np.concatenate([above, tied])
        ordered = chosen[np.lexsort((matched[chosen], rank[chosen]))]
        return [int(slot) for slot in matched[ordered[:end]]]

    def _hit(self, slot: int, score: float, words: set[str]) -> dict[str, Any]:
        doc = self.docs[slot]
        assert doc is not None
        return {
            "id": doc.id,
            "title": doc.title,
            "kind": doc.kind,
            "year": doc.year,
            "genres": doc.genres,
            "maturity_rating": doc.maturity_rating,
            "popularity": doc.popularity,
            "playable": doc.playable,
            "score": round(score, 3),
            "highlight": {
                "title": highlight(doc.title, words),
                "cast": [highlight(p, words) for p in doc.cast if set(terms(p)) & words],
            },
            "poster_url": f"/api/v1/artwork/{doc.id}/poster",
            "backdrop_url": f"/api/v1/artwork/{doc.id}/backdrop",
        }


def _term_weights(doc: Doc) -> dict[str, float]:
    """Each word of the document with the weight of the heaviest field it occurs in."""
    weights: dict[str, float] = {}
    for field_name, text in (
        ("title", doc.title),
        ("cast", " ".join(doc.cast)),
        ("crew", " ".join(doc.crew)),
        ("genres", " ".join(doc.genres)),
    ):
        for term in terms(text):
            weights[term] = max(weights.get(term, 0.0), FIELD_WEIGHTS[field_name])
    return weights
