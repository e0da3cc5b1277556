"""How titles look to callers: a summary for rows and search, the detail for a title page."""

from __future__ import annotations

from typing import Any

from cinemesh.services.catalog.markers import markers_of
from cinemesh.services.catalog.models import Episode, Title
from cinemesh.services.catalog.schemas import artwork_urls


def summary(title: Title) -> dict[str, Any]:
    """The fields a row or a search hit needs."""
    return {
        "id": title.id,
        "title": title.title,
        "kind": title.kind,
        "year": title.year,
        "genres": title.genres,
        "maturity_rating": title.maturity_rating,
        "runtime_min": title.runtime_min,
        "synopsis": title.synopsis,
        "popularity": title.popularity,
        "available": title.available,
        "playable": bool(title.asset),
        **artwork_urls(title.id),
    }


def episode_view(episode: Episode) -> dict[str, Any]:
    return {
        "id": episode.id,
        "season": episode.season,
        "number": episode.number,
        "title": episode.name,
        "name": episode.name,
        "runtime_min": episode.runtime_min,
        "synopsis": episode.synopsis,
        "playable": bool(episode.asset),
        "asset": episode.asset,
        **markers_of(episode),
        "markers_source": episode.markers_source,
    }


def next_episodes(episodes: list[Episode]) -> dict[str, str | None]:
    """Each episode's next one to play: the first after it, in season then number order
    (across seasons), that has a video; None after the last one that plays."""
    following: dict[str, str | None] = {}
    upcoming: str | None = None
    for episode in sorted(episodes, key=lambda e: (e.season, e.number), reverse=True):
        following[episode.id] = upcoming
        if episode.asset:
            upcoming = episode.id
    return following


def detail(title: Title, episodes: list[Episode]) -> dict[str, Any]:
    """The title with cast, crew, its asset and markers, and seasons of episodes in order,
    each naming the episode that autoplays after it."""
    following = next_episodes(episodes)
    seasons: dict[int, list[dict[str, Any]]] = {}
    for episode in sorted(episodes, key=lambda e: (e.season, e.number)):
        view = {**episode_view(episode), "next_episode_id": following[episode.id]}
        seasons.setdefault(episode.season, []).append(view)
    return {
        **summary(title),
        "playable": bool(title.asset) or any(e.asset for e in episodes),
        "cast": title.cast,
        "crew": title.crew,
        "asset": title.asset,
        **markers_of(title),
        "seasons": [{"number": n, "episodes": eps} for n, eps in sorted(seasons.items())],
    }
