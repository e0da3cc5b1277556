"""The rows of one profile's home page, built from a snapshot and the profile's history:
top picks, "because you watched X", trending and trending per genre. Pure: no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from cinemesh.contracts.maturity import level
from cinemesh.contracts.rows import BECAUSE_YOU_WATCHED, TOP_PICKS, TRENDING
from cinemesh.services.recommender.service import RECENT_ITEMS, ProfileHistory
from cinemesh.services.recommender.snapshot import Snapshot

BECAUSE_ROWS = 2
GENRE_ROWS = 2
ANCHOR_WEIGHT = 1.0  # finished or thumbed up: strong enough to explain a row


@dataclass
class Row:
    id: str
    title: str
    items: list[dict[str, Any]] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set)

    def add(self, title_id: str, score: float, reason: str) -> None:
        if title_id not in self._taken:
            self._taken.add(title_id)
            self.items.append({"title_id": title_id, "score": round(score, 6), "reason": reason})

    def view(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "items": self.items}


def genre_affinity(snapshot: Snapshot, history: ProfileHistory) -> list[str]:
    """The profile's genres, strongest first (sum of signal weights)."""
    totals: dict[str, float] = {}
    for title_id, weight in history.positives:
        found = snapshot.titles.get(title_id)
        for genre in found.genres if found else ():
            totals[genre] = totals.get(genre, 0.0) + weight
    return sorted(totals, key=lambda g: (-totals[g], g))


def build_rows(
    snapshot: Snapshot, history: ProfileHistory, *, maturity: str, limit: int
) -> list[dict[str, Any]]:
    lvl = level(maturity)
    history = replace(history, positives=history.positives[:RECENT_ITEMS])
    genres = genre_affinity(snapshot, history)
    rows = [top_picks(snapshot, history, lvl=lvl, limit=limit, genres=genres)]
    rows += because_you_watched(snapshot, history, lvl=lvl, limit=limit)
    hidden = history.finished | history.disliked
    trending = Row(TRENDING, "Trending now")
    for title_id, score in snapshot.trending_at[lvl]:
        if len(trending.items) >= limit:
            break
        if title_id not in hidden:
            trending.add(title_id, score, "trending now")
    rows.append(trending)
    by_genre = snapshot.genre_trending_at[lvl]
    chosen = [g for g in genres if g in by_genre][:GENRE_ROWS]
    if len(chosen) < GENRE_ROWS:  # a new profile: the genres hottest at its maturity level
        hottest = sorted(by_genre, key=lambda g: (-sum(s for _, s in by_genre[g][:limit]), g))
        chosen += [g for g in hottest if g not in chosen][: GENRE_ROWS - len(chosen)]
    for genre in chosen:
        row = Row(f"{TRENDING}:{genre}", f"Trending in {genre}")
        for title_id, score in by_genre[genre]:
            if len(row.items) >= limit:
                break
            if title_id not in hidden:
                row.add(title_id, score, f"trending in {genre}")
        rows.append(row)
    return [row.view() for row in rows if row.items]


def top_picks(
    snapshot: Snapshot, history: ProfileHistory, *, lvl: int, limit: int, genres: list[str]
) -> Row:
    """Collaborative picks, then popular titles in the profile's genres, then popular ones."""
    row = Row(TOP_PICKS, "Top picks for you")
    seen = history.seen
    for pick in snapshot.model.picks(
        history.positives, k=limit, allowed=snapshot.allowed[lvl], exclude=seen, fill_popular=False
    ):
        row.add(pick.item, pick.score, f"because you watched {snapshot.name(pick.because or '')}")
    by_genre = snapshot.genre_trending_at[lvl]
    for genre in genres[:GENRE_ROWS]:
        for title_id, _score in by_genre.get(genre, []):
            if len(row.items) >= limit:
                return row
            if title_id not in seen:
                row.add(title_id, 0.0, f"popular in {genre}")
    reason = "popular now" if history.positives else "popular with viewers at your maturity level"
    for title_id, _score in snapshot.trending_at[lvl]:
        if len(row.items) >= limit:
            break
        if title_id not in seen:
            row.add(title_id, 0.0, reason)
    return row


def because_you_watched(
    snapshot: Snapshot, history: ProfileHistory, *, lvl: int, limit: int
) -> list[Row]:
    """A row for each of the latest strongly liked titles, from its neighbours in the model,
    topped up with the most trending titles sharing its genres."""
    rows: list[Row] = []
    seen = history.seen
    for anchor, weight in history.positives:
        if len(rows) >= BECAUSE_ROWS:
            break
        if weight < ANCHOR_WEIGHT or anchor not in snapshot.titles:
            continue
        name = snapshot.name(anchor)
        row = Row(f"{BECAUSE_YOU_WATCHED}{anchor}", f"Because you watched {name}")
        for pick in snapshot.model.similar(
            anchor, k=limit, allowed=snapshot.allowed[lvl], exclude=seen
        ):
            row.add(pick.item, pick.score, f"because you watched {name}")
        anchor_genres = set(snapshot.titles[anchor].genres)
        for title_id, _score in snapshot.trending_at[lvl]:
            if len(row.items) >= limit:
                break
            if title_id not in seen and anchor_genres & set(snapshot.titles[title_id].genres):
                row.add(title_id, 0.0, f"more like {name}")
        if row.items:
            rows.append(row)
    return rows
