"""Continue watching knows series: a finished episode gives way to the next one the catalog
plays, a finished series leaves the row, and a catalog that does not answer costs only that
series its place (no platform: history's rule and the gateway's resolution, as functions)."""

from __future__ import annotations

import asyncio
from typing import Any

from cinemesh.services.gateway.up_next import resolve_up_next
from cinemesh.services.history.service import continue_watching

SERIES = {
    "id": "s1",
    "seasons": [
        {"number": 1, "episodes": [{"id": "e1", "next_episode_id": "e2"}, {"id": "e2", "next_episode_id": "e3"}]},
        {"number": 2, "episodes": [{"id": "e3", "next_episode_id": None}]},
    ],
}  # fmt: skip


def view(
    title_id: str, episode_id: str | None, *, finished: bool, at: float = 10.0
) -> dict[str, Any]:
    return {"title_id": title_id, "episode_id": episode_id, "position_s": at, "duration_s": 100.0, "finished": finished}  # fmt: skip


def test_history_keeps_a_series_whose_latest_episode_was_finished_only_when_asked() -> None:
    views = [
        view("s1", "e2", finished=True),
        view("s1", "e1", finished=True),
        view("m1", None, finished=True),
        view("m2", None, finished=False),
    ]
    assert [i["title_id"] for i in continue_watching(views)] == ["m2"]
    kept = continue_watching(views, up_next=True)
    assert [(i["title_id"], i.get("up_next")) for i in kept] == [("s1", True), ("m2", None)]
    assert kept[0]["episode_id"] == "e2", "the latest viewing of the series, not an older one"


def test_the_next_episode_takes_a_finished_ones_place_from_the_start() -> None:
    fetched: list[str] = []

    async def fetch(title_id: str) -> dict[str, Any] | None:
        fetched.append(title_id)
        return SERIES if title_id == "s1" else None

    row = [
        {**view("s1", "e2", finished=True, at=99.0), "up_next": True},
        view("m2", None, finished=False),
    ]
    resolved = asyncio.run(resolve_up_next(row, fetch))
    assert resolved[0]["episode_id"] == "e3" and resolved[0]["after_episode_id"] == "e2"
    assert resolved[0]["position_s"] == 0.0 and resolved[0]["finished"] is False
    assert resolved[1] == row[1] and fetched == ["s1"]


def test_a_finished_series_or_a_silent_catalog_leaves_the_row() -> None:
    async def fetch(title_id: str) -> dict[str, Any] | None:
        if title_id == "down":
            raise TimeoutError
        return SERIES

    row = [
        {**view("s1", "e3", finished=True), "up_next": True},
        {**view("down", "x1", finished=True), "up_next": True},
        view("m2", None, finished=False),
    ]
    assert [i["title_id"] for i in asyncio.run(resolve_up_next(row, fetch))] == ["m2"]
